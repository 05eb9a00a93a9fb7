"""`train get` / `serve get` output deploys again unchanged, with the same bundle ids (seed 000:
"retrain by running `train deploy` after `train get`", "update endpoints by `serve deploy`
after `serve get`")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .helpers import Kaon
from .test_serve import bundles

pytestmark = pytest.mark.e2e


def test_train_get_then_deploy_gives_the_same_bundles(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", "again")
    env = {"KAON_WORKSPACE": "again"}
    train, data, _ = bundles(tmp_path / "b")
    (data / "features" / "x.csv").write_text("again\n")  # a model of this workspace only
    first = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    src, dat = first["source"], first["data"]
    out = tmp_path / "out"
    p = kaon.run("train", "get", "-j", first["id"], "-c", "-d", "-o", str(out), env=env)
    assert p.returncode == 0, p.stderr
    root = out / "again" / first["id"]
    hint = f"kaon train deploy -s {root / 'code'} -d {root / 'data'}"
    assert hint in p.stderr  # says how to retrain it
    code = root / "code" / f"demo:{src['digest'][:5]}"  # the seed-000 tree
    assert sorted(p.name for p in (code / "model").iterdir()) == ["requirements.txt", "train"]
    assert os.access(code / "model" / "train", os.X_OK)  # the executable bit comes back
    assert (root / "data" / f"features:{dat['digest'][:5]}" / "x.csv").is_file()

    p = kaon.run(
        "train", "deploy", "-s", str(root / "code"), "-d", str(root / "data"), "--wait", "--json",
        env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    again = json.loads(p.stdout)
    assert again["state"] == "JOB_SUCCESS", again["reason"]
    assert (again["source"]["path"], again["data"]["path"]) == (src["path"], dat["path"])
    assert again["trials"][0]["model_id"] == first["trials"][0]["model_id"]

    # the code's `name:hash` folder itself is the same bundle too
    deeper = json.loads(kaon.ok("train", "deploy", "-s", str(code), "--json", env=env))
    assert deeper["source"]["path"] == src["path"]

    # an edited copy is a new bundle under the same name
    (code / "model" / "requirements.txt").write_text("# edited\n")
    edited = json.loads(kaon.ok("train", "deploy", "-s", str(root / "code"), "--json", env=env))
    assert edited["source"]["path"].startswith("/demo:")
    assert edited["source"]["path"] != src["path"]


def test_serve_get_then_deploy_gives_the_same_bundle(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", "update")
    env = {"KAON_WORKSPACE": "update"}
    train, data, serve = bundles(tmp_path / "b")
    (data / "features" / "x.csv").write_text("update\n")  # a model of this workspace only
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    model = job["trials"][0]["model_id"]
    first = json.loads(
        kaon.ok("serve", "deploy", "-s", str(serve), "-m", model, "--wait", "--json", env=env)
    )
    out = tmp_path / "out"
    kaon.ok("serve", "get", "-e", first["name"], "-o", str(out), env=env)
    code = out / "update" / first["name"] / "code"
    bundle = code / f"demo:{first['source']['digest'][:5]}" / "model"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "model.py",
        "requirements.txt",
        "weights.json",  # the model's file, beside model.py as served (seed 000's tree)
    ]
    p = kaon.run("serve", "deploy", "-s", str(code), "-m", model, "--wait", "--json", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    again = json.loads(p.stdout)
    assert again["state"] == "PIPELINE_RUNNING", again["reason"]
    assert again["source"]["path"] == first["source"]["path"]
    assert "weights.json" in p.stderr  # says the model's own files were left out
    for name in (first["name"], again["name"]):
        kaon.ok("serve", "kill", "-e", name, "-y", env=env)


SERVE_ENV = """
import os

def load_ctx(model_dir):
    return None

def predict(payload, ctx):
    return {"greeting": os.environ.get("GREETING"), "who": os.environ.get("WHO")}
"""


def test_serve_deploy_env_is_recorded_and_seen_by_the_replicas(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", "envserve")
    env = {"KAON_WORKSPACE": "envserve"}
    serve = tmp_path / "serve" / "hello" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE_ENV)
    (serve / "requirements.txt").write_text("")
    src = str(tmp_path / "serve")
    kaon.fails(2, "serve", "deploy", "-s", src, "--env", "AWS_REGION=x", env=env, match="AWS_*")
    kaon.fails(2, "serve", "deploy", "-s", src, "--env", "1BAD=x", env=env, match="variable name")
    assert kaon.json("list", "branch", "envserve-source") == []  # refused before the upload
    out = kaon.ok(
        "serve", "deploy", "-s", src, "--env", "GREETING=hello world", "--env", "WHO=a=b",
        "--wait", "--json", env=env,
    )  # fmt: skip
    endpoint = json.loads(out)
    assert endpoint["variables"] == {"GREETING": "hello world", "WHO": "a=b"}
    payload = tmp_path / "p.json"
    payload.write_text("{}")
    answer = kaon.ok("serve", "predict", "-e", endpoint["name"], "-f", str(payload), env=env)
    assert json.loads(answer) == {"greeting": "hello world", "who": "a=b"}
    kaon.ok("serve", "kill", "-e", endpoint["name"], "-y", env=env)
