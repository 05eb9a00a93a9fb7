"""Workspaces and templates through the real CLI (kaos' grammar)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import Kaon

pytestmark = pytest.mark.e2e


def test_workspace_lifecycle(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", "Alpha_1")  # lowercased, like kaos
    assert "Workspace alpha_1 is currently set" in kaon.ok("workspace", "current")
    kaon.fails(5, "workspace", "create", "-n", "alpha_1", match="already exists")
    kaon.fails(2, "workspace", "create", "-n", "bad-name!", match="invalid workspace name")
    listing = json.loads(kaon.ok("workspace", "list", "--json"))
    ind = [w["name"] for w in listing].index("alpha_1")
    kaon.ok("workspace", "set", "-i", str(ind))
    kaon.fails(4, "workspace", "set", "-n", "alpha_2", match="did you mean one of these? alpha_1")
    info = kaon.ok("workspace", "info")
    assert "alpha_1-source" in info and "alpha_1-models" in info

    code = tmp_path / "c" / "p" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text("#!/bin/sh\nsleep 60\n")
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text("")
    data = tmp_path / "d"
    data.mkdir()
    (data / "x").write_text("1")
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(tmp_path / "c"), "-d", str(data), "--json")
    )
    kaon.fails(1, "workspace", "kill")  # asks; no answer on stdin: aborted, nothing deleted
    kaon.ok("workspace", "kill", "-y")
    assert "alpha_1" not in kaon.ok("repo", "list", "--all")
    kaon.fails(4, "train", "info", "-j", job["id"], match="no job")
    kaon.fails(2, "train", "list", match="no workspace is set")


def test_templates(kaon: Kaon, tmp_path: Path) -> None:
    listing = json.loads(kaon.ok("template", "list", "--json"))
    assert [t["name"] for t in listing] == ["mnist", "property-val", "pipelines", "e2e"]
    out = tmp_path / "templates"
    kaon.ok("template", "get", "--name", "mnist", "-o", str(out))
    train = out / "mnist" / "model-train" / "mnist" / "model" / "train"
    assert os.access(train, os.X_OK) and (out / "mnist" / "test_payload.jpg").exists()
    kaon.fails(4, "template", "get", "--name", "nope", "-o", str(out), match="no template")
