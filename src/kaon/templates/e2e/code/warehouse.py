"""warehouse: raw batches (CSV: id, label, 64 pixels) -> data at rest, one record per image:
/<id>.json = {id, label, image (8x8, 0-16), source}. A malformed row fails the datum naming
the file and the line (nothing is committed)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from digits import HEADER


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--input", type=Path, required=True, help="a raw CSV file or a folder of them"
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    files = sorted(args.input.rglob("*.csv")) if args.input.is_dir() else [args.input]
    args.output.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in files:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            if next(reader, None) != HEADER:
                raise SystemExit(
                    f"{path.name}: the first line must be the header {','.join(HEADER[:4])},..."
                )
            for line, row in enumerate(reader, start=2):
                if len(row) != len(HEADER) or not row[0]:
                    raise SystemExit(
                        f"{path.name}:{line}: expected {len(HEADER)} values, got {len(row)}"
                    )
                pixels = [int(v) for v in row[2:]]
                if not 0 <= int(row[1]) <= 9 or any(not 0 <= v <= 16 for v in pixels):
                    raise SystemExit(f"{path.name}:{line}: label 0-9 and pixels 0-16 expected")
                record = {
                    "id": row[0],
                    "label": int(row[1]),
                    "image": [pixels[i : i + 8] for i in range(0, 64, 8)],
                    "source": path.name,
                }
                (args.output / f"{row[0]}.json").write_text(
                    json.dumps(record, sort_keys=True) + "\n"
                )
                count += 1
    print(f"warehouse: {count} images from {', '.join(p.name for p in files)}")


if __name__ == "__main__":
    main()
