"""What the stages share: the hash split, and reading/writing the split CSV files."""

from __future__ import annotations

import csv
import hashlib
import os
import random
from pathlib import Path

import numpy as np

SEED = 42
PIXELS = [f"p{i:02d}" for i in range(64)]
HEADER = ["id", "label", *PIXELS]
# int(md5(id)) % 10 -> split, as seed 001's dataset_gen.py: the same id always lands in the
# same split, whatever else is in the commit and in whatever order it arrives
SPLITS = {**dict.fromkeys(range(7), "training"), 7: "validation", 8: "test", 9: "test"}


def split_of(sample_id: str) -> str:
    return SPLITS[int(hashlib.md5(sample_id.encode()).hexdigest(), 16) % 10]


def set_seeds(seed: int = SEED) -> None:
    """Seed 001's set_seeds (PYTHONHASHSEED only matters at interpreter start: kaon sets it)."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)


def write_rows(path: Path, rows: list[list[int | str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(sorted(rows, key=lambda r: str(r[0])))


def load(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """ids, X (n x 64 float64, 0-16), y (n ints) of one split CSV."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header != HEADER:
            raise SystemExit(
                f"{path}: unexpected columns {header[:3]}...: expected {HEADER[:3]}..."
            )
        rows = list(reader)
    ids = [r[0] for r in rows]
    y = np.array([int(r[1]) for r in rows], dtype=np.int64)
    x = np.array([[float(v) for v in r[2:]] for r in rows], dtype=np.float64).reshape(-1, 64)
    return ids, x, y
