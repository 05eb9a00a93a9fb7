"""Provenance and reproduction through the real CLI: drawings, subvenance, reproduce --verify."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from .helpers import Kaon

pytestmark = pytest.mark.e2e

DETERMINISTIC = """#!/usr/bin/env python3
import json, os, pathlib, random, sys
from kaon.determinism import seed_everything
seed_everything()
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "w.json").write_text(json.dumps([random.random() for _ in range(5)]))
"""

NOISY = """#!/usr/bin/env python3
import os, pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "w.bin").write_bytes(os.urandom(16))
"""


def bundle(root: Path, train: str) -> Path:
    model = root / "proj" / "model"
    model.mkdir(parents=True)
    (model / "train").write_text(train)
    (model / "train").chmod(0o755)
    (model / "requirements.txt").write_text("")
    return root


def deploy(kaon: Kaon, tmp: Path, name: str, train: str) -> tuple[dict[str, str], dict]:
    kaon.ok("workspace", "create", "-n", name)
    env = {"KAON_WORKSPACE": name}
    data = tmp / "data" / "features"
    data.mkdir(parents=True)
    (data / "x.csv").write_text("1,2\n")
    out = kaon.ok(
        "train",
        "deploy",
        "-s",
        str(bundle(tmp / "code", train)),
        "-d",
        str(tmp / "data"),
        "--wait",
        "--json",
        env=env,
    )
    return env, json.loads(out)


def test_provenance_formats_and_subvenance(kaon: Kaon, tmp_path: Path) -> None:
    env, job = deploy(kaon, tmp_path, "prov", DETERMINISTIC)
    model = job["trials"][0]["model_id"]
    out = tmp_path / "out"
    text = kaon.ok("train", "provenance", "-m", model, "-o", str(out), "--format", "json", env=env)
    assert (
        f"model {model}" in text and "used data /features:" in text and "used code /proj:" in text
    )
    graph = json.loads((out / "prov" / "provenance" / f"model-{model}.json").read_text())
    kinds = {n["kind"] for n in graph["nodes"]}
    assert kinds == {"data", "code", "environment", "job", "model"}
    kaon.ok("train", "provenance", "-m", model, "-o", str(out), "--format", "dot", env=env)
    assert "digraph" in (out / "prov" / "provenance" / f"model-{model}.dot").read_text()
    if shutil.which("dot"):
        kaon.ok("train", "provenance", "-m", model, "-o", str(out), env=env)
        assert (out / "prov" / "provenance" / f"model-{model}.pdf").read_bytes()[:4] == b"%PDF"
    no_dot = {**env, "PATH": str(Path(sys.executable).parent)}
    kaon.fails(
        3, "train", "provenance", "-m", model, "-o", str(out), env=no_dot, match="--format dot"
    )

    sub = json.loads(
        kaon.ok("data", "subvenance", f"prov-data@{job['data']['commit'][:8]}", "--json")
    )
    assert {n["kind"] for n in sub["nodes"]} == {"data", "job", "model"}
    table = kaon.ok("data", "subvenance", f"prov-data@{job['data']['commit'][:8]}")
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in table.splitlines()]
    rows = [c for c in cells if len(c) == 3 and c[0] not in ("kind", "")]
    assert sorted(r[0] for r in rows) == ["job", "model"], table  # not the commit itself
    assert all("T" not in r[2] for r in rows), table  # created as the other tables show it
    kaon.fails(4, "train", "provenance", "-m", "abcde_abcde:abcdef", env=env)
    kaon.fails(2, "train", "provenance", "-m", "not-a-model", env=env, match="invalid model id")


def test_reproduce_verify_bit_for_bit_even_without_the_env_cache(
    kaon: Kaon, tmp_path: Path
) -> None:
    env, job = deploy(kaon, tmp_path, "repro", DETERMINISTIC)
    for cached in (kaon.home / "envs" / "envs").iterdir():  # rebuilt from the recorded lock
        if cached.is_dir():
            shutil.rmtree(cached)
    out = kaon.ok("train", "reproduce", "-j", job["id"], "--verify", env=env)
    assert "identical" in out and "different" not in out
    doc = json.loads(kaon.ok("train", "reproduce", "-j", job["id"], "--json", env=env))
    assert doc["state"] == "JOB_SUCCESS" and {r["result"] for r in doc["files"]} == {"identical"}
    again = json.loads(kaon.ok("train", "info", "-j", doc["reproduction"], "--json", env=env))
    assert (
        again["env"]["reproduces"] == job["id"] and again["env"]["lock_id"] == job["env"]["lock_id"]
    )


def test_reproduce_verify_fails_on_a_difference(kaon: Kaon, tmp_path: Path) -> None:
    env, job = deploy(kaon, tmp_path, "noisy", NOISY)
    p = kaon.run("train", "reproduce", "-j", job["id"], "--verify", env=env)
    assert p.returncode == 1 and "different" in p.stdout


def test_reproduce_reports_inputs_no_longer_available(kaon: Kaon, tmp_path: Path) -> None:
    env, job = deploy(kaon, tmp_path, "gone", DETERMINISTIC)
    kaon.ok("repo", "delete", "gone-data")
    kaon.fails(4, "train", "reproduce", "-j", job["id"], env=env, match="no longer available")
