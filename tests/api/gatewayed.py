"""A real platform (CLI + server, tests.e2e.helpers.Kaon) with one trained model and an
endpoint whose predict shows what it received, for the gateway tests; plain HTTP helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e.helpers import Kaon

TRAIN = """#!/usr/bin/env python3
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "weights.json").write_text(json.dumps({"scale": 2}))
"""

# predict shows what it received: lists are doubled (nested), a str upper-cased, bytes as
# "bytes:<hex>", a dict echoed; {"boom": true} raises
SERVE = """
import json, os

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def _times(value, k):
    return [_times(v, k) for v in value] if isinstance(value, list) else value * k

def predict(payload, ctx):
    if payload == {"boom": True}:
        raise ValueError("the predictor broke on purpose")
    if isinstance(payload, bytes):
        return "bytes:" + payload.hex()
    if isinstance(payload, str):
        return payload.upper()
    if isinstance(payload, list):
        return _times(payload, ctx["scale"])
    return {"echo": payload}
"""


def bundles(root: Path) -> tuple[Path, Path, Path]:
    train = root / "train" / "demo" / "model"
    train.mkdir(parents=True)
    (train / "train").write_text(TRAIN)
    (train / "train").chmod(0o755)
    (train / "requirements.txt").write_text("")
    data = root / "data" / "features"
    data.mkdir(parents=True)
    (data / "x.csv").write_text("1\n")
    serve = root / "serve" / "demo" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE)
    (serve / "requirements.txt").write_text("")
    return root / "train", root / "data", root / "serve"


def train_model(kaon: Kaon, root: Path, workspace: str) -> tuple[str, Path]:
    """(the model id, the serve bundle) in `workspace` (created)."""
    train, data, serve = bundles(root)
    kaon.ok("workspace", "create", "-n", workspace)
    env = {"KAON_WORKSPACE": workspace}
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    return str(job["trials"][0]["model_id"]), serve


def deploy(kaon: Kaon, serve: Path, model: str, workspace: str, *args: str) -> dict[str, Any]:
    out = kaon.ok(
        "serve",
        "deploy",
        "-s",
        str(serve),
        "-m",
        model,
        "--wait",
        "--json",
        *args,
        env={"KAON_WORKSPACE": workspace},
    )
    doc: dict[str, Any] = json.loads(out)
    return doc


def call(
    url: str,
    body: Any = None,
    method: str = "POST",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers lower-cased, the JSON answer or the raw bytes)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data, sent, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, headers, out = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, out = e.code, e.headers, e.read()
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        return status, lowered, json.loads(out)
    except ValueError:
        return status, lowered, out
