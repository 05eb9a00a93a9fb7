"""evaluate: the model on /test.csv -> /evaluation_result.csv (Metric Name, Value: Accuracy,
Precision, Recall, F1 Score macro-averaged, Test Images) and /confusion_matrix.csv."""

from __future__ import annotations

import argparse
import csv
import json
import pickle
from pathlib import Path

import numpy as np
from digits import load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", type=Path, required=True, help="the test split CSV")
    parser.add_argument("--model", type=Path, required=True, help="the model stage's folder")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    _, x, y = load(args.test)
    model = pickle.loads((args.model / "model.pkl").read_bytes())
    predicted = model.predict(x)
    confusion = np.zeros((10, 10), dtype=np.int64)
    for truth, guess in zip(y, predicted, strict=True):
        confusion[truth, guess] += 1
    tp = np.diag(confusion).astype(np.float64)
    precision = np.divide(
        tp, confusion.sum(axis=0), out=np.zeros(10), where=confusion.sum(axis=0) > 0
    )
    recall = np.divide(tp, confusion.sum(axis=1), out=np.zeros(10), where=confusion.sum(axis=1) > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros(10), where=precision + recall > 0
    )
    metrics = {
        "Accuracy": float(tp.sum() / len(y)),
        "Precision": float(precision.mean()),
        "Recall": float(recall.mean()),
        "F1 Score": float(f1.mean()),
        "Test Images": len(y),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    with open(args.output / "evaluation_result.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Metric Name", "Value"])
        for name, value in metrics.items():
            writer.writerow([name, value if isinstance(value, int) else f"{value:.6f}"])
    with open(args.output / "confusion_matrix.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["truth \\ predicted", *range(10)])
        writer.writerows([digit, *row] for digit, row in enumerate(confusion.tolist()))
    model_info = json.loads((args.model / "model.json").read_text())
    print(f"evaluate: {metrics} (model sha256 {model_info['model_sha256'][:12]})")


if __name__ == "__main__":
    main()
