"""A stand-in for e2e-ml-on-k8s's train.py: the same flags, a tiny "model"."""

import argparse
import json
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--hyperparam_fn_path", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()
hp = json.loads(Path(args.hyperparam_fn_path).read_text())
images = sorted(str(p.relative_to(args.input)) for p in Path(args.input).rglob("*.jpg"))
model = {
    "arch": hp["model_arch"],
    "epochs": hp["epochs"],
    "images": images,
    "transform_commit": os.environ.get("transform_COMMIT", ""),  # noqa: SIM112 - Pachyderm's name
    "tune_commit": os.environ.get("tune_COMMIT", ""),  # noqa: SIM112
}
Path(args.output, "model.h5").write_text(json.dumps(model))
