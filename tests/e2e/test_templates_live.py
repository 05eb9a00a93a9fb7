"""The shipped templates, for real: scikit-learn from PyPI into uv environments, training,
a bit-for-bit reproduction and a prediction on the shipped payload (seed 000's flow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import Kaon

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize(
    ("template", "payload", "expected"),
    [("mnist", "test_payload.jpg", [3]), ("property-val", "test_payload.json", None)],
)
def test_template_train_reproduce_serve(
    kaon: Kaon, tmp_path: Path, template: str, payload: str, expected: list[int] | None
) -> None:
    ws = template.replace("-", "_")
    kaon.ok("workspace", "create", "-n", ws)
    env = {"KAON_WORKSPACE": ws}
    kaon.ok("template", "get", "--name", template, "-o", str(tmp_path / "templates"), env=env)
    root = tmp_path / "templates" / template
    job = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(root / "model-train"),
            "-d",
            str(root / "data"),
            "--wait",
            "--json",
            env=env,
        )
    )
    trial = job["trials"][0]
    assert job["state"] == "JOB_SUCCESS" and trial["metrics"]
    kaon.ok("train", "reproduce", "-j", job["id"], "--verify", env=env)
    endpoint = json.loads(
        kaon.ok(
            "serve",
            "deploy",
            "-s",
            str(root / "model-serve"),
            "-m",
            trial["model_id"],
            "--wait",
            "--json",
            env=env,
        )
    )
    answer = json.loads(
        kaon.ok("serve", "predict", "-e", endpoint["name"], "-f", str(root / payload), env=env)
    )
    if expected is not None:
        assert answer == {"result": expected}
    else:
        assert len(answer["result"]) == 1 and answer["result"][0] > 0
    kaon.ok("serve", "kill", "-e", endpoint["name"], "-y", env=env)
