"""Write /pfs/out/listing.txt: every input file with its size, and where it ran from."""

import argparse
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()
root = Path(args.input)
lines = [
    f"{p.relative_to(root)} {p.stat().st_size}" for p in sorted(root.rglob("*")) if p.is_file()
]
commit = os.environ.get("in_COMMIT")  # noqa: SIM112 - Pachyderm's name: <input>_COMMIT
lines.append(f"in_COMMIT={'set' if commit else 'unset'}")
lines.append(f"PACH_JOB_ID={os.environ.get('PACH_JOB_ID', '')}")
(Path(args.output) / "listing.txt").write_text("\n".join(lines) + "\n")
