"""Each raw file of the datum -> /pfs/out/<name>: its numbers, one per line."""

from pathlib import Path

for f in sorted(Path("/pfs/raw").rglob("*")):
    if f.is_file():
        numbers = [int(w) for w in f.read_text().split()]
        (Path("/pfs/out") / f.name).write_text("".join(f"{n}\n" for n in numbers))
