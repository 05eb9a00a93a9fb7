"""tune: a small grid search (an RBF support vector machine's C and gamma) trained on
/training.csv, scored on /validation.csv; the best point -> /optimal_hp.json, every point ->
/hp_analysis_outcome.csv. Ties go to the first point of the grid (deterministic).
TUNE_GRID (JSON, e.g. {"C": [1, 10], "gamma": [0.001]}) replaces the default grid."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
from pathlib import Path

from digits import load, set_seeds
from sklearn.svm import SVC

GRID = {"C": [1.0, 10.0], "gamma": [0.0005, 0.002, 0.01]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    set_seeds()
    grid = json.loads(os.environ["TUNE_GRID"]) if os.environ.get("TUNE_GRID") else GRID
    _, x_train, y_train = load(args.input / "training.csv")
    _, x_val, y_val = load(args.input / "validation.csv")
    results = []
    for c, gamma in itertools.product(grid["C"], grid["gamma"]):
        model = SVC(C=float(c), gamma=float(gamma)).fit(x_train, y_train)
        accuracy = float((model.predict(x_val) == y_val).mean())
        results.append({"C": float(c), "gamma": float(gamma), "val_accuracy": round(accuracy, 6)})
        print(f"tune: C={c} gamma={gamma} val_accuracy={accuracy:.4f}")
    best = max(results, key=lambda r: r["val_accuracy"])  # max keeps the first of equals
    args.output.mkdir(parents=True, exist_ok=True)
    hp = {"model_arch": "SVC", "C": best["C"], "gamma": best["gamma"]}
    (args.output / "optimal_hp.json").write_text(json.dumps(hp, indent=2, sort_keys=True) + "\n")
    with open(args.output / "hp_analysis_outcome.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["C", "gamma", "val_accuracy"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(results)
    print(f"tune: best {hp} (val_accuracy {best['val_accuracy']}) of {len(results)} points")


if __name__ == "__main__":
    main()
