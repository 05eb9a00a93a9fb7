"""model: train the SVC with the tuned hyperparameters on /training.csv + /validation.csv;
write /model.pkl (pickle protocol 5) and /model.json (its sha256, the parameters, the rows).
Deterministic: the same inputs give the same model.pkl, byte for byte."""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import sklearn
from digits import load, set_seeds
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--hyperparam_fn_path", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    set_seeds()
    hp = json.loads(args.hyperparam_fn_path.read_text())
    ids, x, y = [], [], []
    for split in ("training", "validation"):
        i, xs, ys = load(args.input / f"{split}.csv")
        ids += i
        x.append(xs)
        y.append(ys)
    model = SVC(C=float(hp["C"]), gamma=float(hp["gamma"])).fit(
        np.concatenate(x), np.concatenate(y)
    )
    args.output.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(model, protocol=5)
    (args.output / "model.pkl").write_bytes(blob)
    info = {
        "model_sha256": hashlib.sha256(blob).hexdigest(),
        "hyperparameters": hp,
        "trained_on": len(ids),
        "scikit_learn": sklearn.__version__,
    }
    (args.output / "model.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    print(f"model: trained on {len(ids)} images with {hp}: sha256 {info['model_sha256'][:12]}")


if __name__ == "__main__":
    main()
