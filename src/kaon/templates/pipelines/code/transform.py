"""Clean every raw CSV file of this datum: drop rows with a missing or non-numeric value or a
value beyond MAX_ABS, write /pfs/out/clean/<file name> (a name only this datum writes)."""

from __future__ import annotations

import argparse
import csv
import math
import os
from pathlib import Path

COLUMNS = ("x1", "x2", "y")


def clean(source: Path, target: Path, max_abs: float) -> tuple[int, int]:
    kept = dropped = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(newline="") as f, target.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for record in csv.DictReader(f):
            try:
                values = [float(record[c]) for c in COLUMNS]
            except (KeyError, TypeError, ValueError):
                dropped += 1
                continue
            if any(not math.isfinite(v) or abs(v) > max_abs for v in values):
                dropped += 1
                continue
            writer.writerow([repr(v) for v in values])
            kept += 1
    return kept, dropped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    max_abs = float(os.environ.get("MAX_ABS", "1000"))
    datum = os.environ.get("PACH_DATUM_ID", "-")[:12]
    for source in sorted(args.input.rglob("*.csv")):
        kept, dropped = clean(source, args.output / "clean" / source.name, max_abs)
        print(f"datum {datum}: {source.name}: kept {kept} rows, dropped {dropped}")


if __name__ == "__main__":
    main()
