"""Helpers for the property-val training script: the kaon run contract and CSV loading."""

from __future__ import annotations

import csv
import json
import math
import os
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def output_dir() -> Path:
    """`./train <output-dir>`; KAON_OUTPUT_DIR is the same path."""
    arg = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KAON_OUTPUT_DIR")
    if not arg:
        sys.exit("usage: ./train <output-dir>")
    return Path(arg)


def data_dir() -> Path:
    """The folder holding features/: the data bundle (KAON_DATA_DIR) or a folder one level
    down in it (a bundle fetched from a manifest); outside kaon, the template's data/."""
    env = os.environ.get("KAON_DATA_DIR")
    if not env:
        local = HERE.parents[2] / "data"  # templates/property-val/data when run in place
        if local.is_dir():
            return local
        sys.exit("KAON_DATA_DIR is not set (train with: kaon train deploy ... -d <data folder>)")
    root = Path(env)
    found = (
        [root]
        if (root / "features").is_dir()
        else sorted(p.parent for p in root.glob("*/features"))
    )
    if len(found) != 1:
        sys.exit(f"expected one features/ folder in the data bundle {root}, found {len(found)}")
    return found[0]


def load_params() -> dict:
    """params.json beside this file; kaon has already merged the trial's hyperparameters
    over it, and merging KAON_HYPERPARAMS again is a no-op (it helps when run by hand)."""
    params = json.loads((HERE / "params.json").read_text())
    params.update(json.loads(os.environ.get("KAON_HYPERPARAMS") or "{}"))
    return params


def seed_everything() -> int:
    """kaon.determinism.seed_everything (kaon puts it on PYTHONPATH for every job: random,
    numpy, torch, tensorflow from $KAON_SEED); a plain fallback when run outside kaon."""
    try:
        from kaon.determinism import seed_everything as kaon_seed
    except ImportError:
        seed = int(os.environ.get("KAON_SEED") or "0")
        random.seed(seed)
        np.random.seed(seed)
        return seed
    return kaon_seed()


def load_split(
    root: Path, split: str, features: list[str], categorical: list[str], target: str
) -> tuple[np.ndarray, np.ndarray]:
    """features/<split>/<split>.csv -> (X as an object array in `features` order, y).

    Numeric features become floats (an empty cell is NaN, which the model treats as
    missing); categorical features stay strings.
    """
    path = root / "features" / split / f"{split}.csv"
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    missing = [c for c in [*features, target] if records and c not in records[0]]
    if missing:
        sys.exit(f"{path}: missing columns {missing}")
    rows = [[r[c] if c in categorical else _number(r[c]) for c in features] for r in records]
    x = np.empty((len(rows), len(features)), dtype=object)
    x[:] = rows
    y = np.array([float(r[target]) for r in records])
    return x, y


def _number(cell: str) -> float:
    return float(cell) if cell.strip() else math.nan


def write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
