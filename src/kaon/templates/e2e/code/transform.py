"""transform: every record of the warehouse -> /training.csv, /validation.csv, /test.csv by a
reproducible hash split (md5 of the id, as seed 001), rows sorted by id; /split.json counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digits import split_of, write_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    splits: dict[str, list[list[int | str]]] = {"training": [], "validation": [], "test": []}
    for path in sorted(args.input.glob("*.json")):
        record = json.loads(path.read_text())
        pixels = [v for row in record["image"] for v in row]
        splits[split_of(record["id"])].append([record["id"], record["label"], *pixels])
    for name, rows in splits.items():
        write_rows(args.output / f"{name}.csv", rows)
    counts = {name: len(rows) for name, rows in splits.items()}
    (args.output / "split.json").write_text(json.dumps(counts, sort_keys=True) + "\n")
    print(f"transform: {counts}")


if __name__ == "__main__":
    main()
