"""Reading the cleaned CSV rows (x1, x2, y) shared by train.py and evaluate.py."""

from __future__ import annotations

import csv
from pathlib import Path


def read_rows(folder: Path) -> list[tuple[float, float, float]]:
    """Every row of every *.csv under `folder`, in path order (deterministic)."""
    rows: list[tuple[float, float, float]] = []
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="") as f:
            for record in csv.DictReader(f):
                rows.append((float(record["x1"]), float(record["x2"]), float(record["y"])))
    return rows


def predict(model: dict[str, float], x1: float, x2: float) -> float:
    return model["w1"] * x1 + model["w2"] * x2 + model["b"]
