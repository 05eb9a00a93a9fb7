"""A model trained and served on the shared platform for the UI's provenance and endpoint
tests (the quick bundles of tests/e2e/test_serve.py: a real job writes the model, a real
replica serves it), made once per platform whichever module asks first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..helpers import Kaon
from ..test_serve import bundles

WORKSPACE = "uiserve"
ENDPOINT = "uipets"
_MADE: dict[Path, dict[str, Any]] = {}


def served(kaon: Kaon, root: Path) -> dict[str, Any]:
    """{model, job, endpoint, workspace, data (repo, commit), base, serve}."""
    if kaon.home in _MADE:
        return _MADE[kaon.home]
    train, data, serve = bundles(root)
    env = {"KAON_WORKSPACE": WORKSPACE}
    kaon.ok("workspace", "create", "-n", WORKSPACE)
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    assert job["state"] == "JOB_SUCCESS", job
    model = job["trials"][0]["model_id"]
    kaon.ok(
        "serve", "deploy", "-s", str(serve), "-m", model, "--name", ENDPOINT,
        "--version", "v1", "--wait", "--json", env=env,
    )  # fmt: skip
    made = {
        "model": model,
        "job": job["id"],
        "data": (job["data"]["repo"], job["data"]["commit"]),
        "endpoint": ENDPOINT,
        "workspace": WORKSPACE,
        "base": kaon.server()["url"],  # type: ignore[index]
        "serve": serve,
        "env": env,
    }
    _MADE[kaon.home] = made
    return made
