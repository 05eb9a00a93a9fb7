"""The folders the SDK's examples use (docstrings and the README): a source bundle that
trains in a blink (stdlib only), a data bundle, a serve bundle, one CSV file."""

from __future__ import annotations

from pathlib import Path

TRAIN = """#!/usr/bin/env python3
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
given = pathlib.Path("params.json")
params = json.loads(given.read_text()) if given.exists() else {}
for name, value in sorted(params.items()):
    print(f"{name}={value}")
(out / "model").mkdir(parents=True)
(out / "model" / "weights.json").write_text(json.dumps({"scale": 1}))
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(json.dumps({**params, "accuracy": 0.9}))
"""

SERVE = """import json, os

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def predict(payload, ctx):
    return {"result": [v * ctx["scale"] for v in payload]}
"""


def make_examples(root: Path) -> None:
    """code/demo/model/{train,requirements.txt}, data/features/x.csv,
    serve/demo/model/{model.py,requirements.txt} and cat.csv under `root`."""
    train = root / "code" / "demo" / "model"
    train.mkdir(parents=True)
    (train / "train").write_text(TRAIN)
    (train / "train").chmod(0o755)
    (train / "requirements.txt").write_text("")
    data = root / "data" / "features"
    data.mkdir(parents=True)
    (data / "x.csv").write_text("x\n1\n2\n")
    serve = root / "serve" / "demo" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE)
    (serve / "requirements.txt").write_text("")
    (root / "cat.csv").write_text("name\ntom\n")
