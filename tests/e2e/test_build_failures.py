"""Build failures are easy to find, and do not shift the indexes users read (issue 12, items
3, 4 and killed endpoints of 7): seed 003's walk-through with a requirements typo first."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from .helpers import Kaon, check_error
from .test_serve import bundles, post

pytestmark = pytest.mark.e2e

TYPO = "pandas=0.24\n"  # seed 003's typo: uv cannot parse it (no network needed)


def tables(out: str) -> dict[str, list[dict[str, str]]]:
    """The boxed tables of `out` by title: rows as {header: cell} (multi-line cells joined
    with a space)."""
    found: dict[str, list[dict[str, str]]] = {}
    blocks: list[list[list[str]]] = []
    for line in out.splitlines():
        if line.startswith("+"):
            blocks.append([])
        elif line.startswith("|") and blocks:
            blocks[-1].append([c.strip() for c in line.strip("|").split("|")])
    title, headers = "", None
    for block in blocks:
        if not block:
            continue
        if len(block[0]) == 1:  # a title row
            title, headers = block[0][0], None
            continue
        cells = [" ".join(filter(None, col)) for col in zip(*block, strict=True)]
        if headers is None:
            headers = cells
            found[title] = []
        else:
            found[title].append(dict(zip(headers, cells, strict=True)))
    return found


@pytest.fixture(scope="module")
def debug(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Workspace `debug`: a job that failed to build, then one that trained (seed 003)."""
    root = tmp_path_factory.mktemp("debug")
    train, data, serve = bundles(root)
    kaon.ok("workspace", "create", "-n", "debug")
    env = {"KAON_WORKSPACE": "debug"}
    (train / "demo" / "model" / "requirements.txt").write_text(TYPO)
    p = kaon.run("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    assert p.returncode == 1, p.stderr
    failed = json.loads(p.stdout)
    assert failed["state"] == "JOB_FAILURE" and "build failed" in failed["reason"]
    assert failed["failure"] == "build"  # the kind, typed: no reason text to parse
    (train / "demo" / "model" / "requirements.txt").write_text("")
    out = kaon.ok("train", "deploy", "-s", str(train), "--wait", "--json", env=env)
    trained = json.loads(out)
    return {"env": env, "failed": failed, "trained": trained, "serve": serve, "root": root}


def test_train_list_indexes_only_the_training_table(kaon: Kaon, debug: dict[str, Any]) -> None:
    env, failed, trained = debug["env"], debug["failed"], debug["trained"]
    listing = tables(kaon.ok("train", "list", env=env))
    building, training = listing["BUILDING"], listing["TRAINING"]
    assert [r["job_id"] for r in building] == [failed["id"]]
    assert "ind" not in building[0]  # kaos' BUILDING table had none: -j addresses it
    assert "requirements" in building[0]["reason"]  # why, without --json
    assert [(r["ind"], r["job_id"]) for r in training] == [("0", trained["id"])]
    info = kaon.ok("train", "info", "-i", "0", env=env)
    assert f"Job ID: {trained['id']}" in info and trained["trials"][0]["model_id"] in info


def test_logs_of_a_build_failure_point_to_build_logs(kaon: Kaon, debug: dict[str, Any]) -> None:
    env, failed = debug["env"], debug["failed"]
    line = kaon.fails(1, "train", "logs", "-j", failed["id"], env=env, match="build-logs")
    assert failed["id"][:8] in line and "requirement" in line
    build = kaon.ok("train", "build-logs", "-j", failed["id"], env=env)
    assert "requirements.txt" in build and "requirements.in" not in build
    assert "requirements.in" not in failed["reason"] and "requirements.txt" in failed["reason"]


def test_a_failed_serve_build_is_listed_with_its_reason_and_answers_503(
    kaon: Kaon, debug: dict[str, Any]
) -> None:
    env, model = debug["env"], debug["trained"]["trials"][0]["model_id"]
    good = debug["serve"]
    bad = debug["root"] / "badserve"
    (bad / "demo" / "model").mkdir(parents=True)
    (bad / "demo" / "model" / "model.py").write_text(
        (good / "demo" / "model" / "model.py").read_text()
    )
    (bad / "demo" / "model" / "requirements.txt").write_text(TYPO)
    p = kaon.run("serve", "deploy", "-s", str(bad), "-m", model, "--wait", "--json", env=env)
    assert p.returncode == 1, p.stderr
    broken_doc = json.loads(p.stdout)
    assert broken_doc["failure"] == "build"
    broken = broken_doc["name"]
    running = json.loads(
        kaon.ok("serve", "deploy", "-s", str(good), "-m", model, "--wait", "--json", env=env)
    )["name"]

    listing = tables(kaon.ok("serve", "list", env=env))
    assert [r["name"] for r in listing["BUILDING"]] == [broken]
    assert "ind" not in listing["BUILDING"][0]
    assert "requirement" in listing["BUILDING"][0]["reason"]
    assert [(r["ind"], r["name"]) for r in listing["RUNNING"]] == [("0", running)]

    base = kaon.server()["url"]  # type: ignore[index]
    status, _, doc = post(f"{base}/{broken}/invocations", b'{"x": [1]}')
    assert status == 503 and f"kaon serve build-logs -e {broken}" in doc["error"], doc
    status, _, doc = post(f"{base}/v2/models/{broken}/infer", b'{"inputs": []}')
    assert status == 503 and "build-logs" in doc["error"], doc
    status, _, doc = post(f"{base}/serve-debug-000000/invocations", b"{}")
    assert status == 404, doc

    line = kaon.fails(1, "serve", "logs", "-e", broken, env=env, match="build-logs")
    assert broken in line
    followed = kaon.run("serve", "logs", "-f", "-e", broken, env=env, timeout=30)  # ends
    assert check_error(followed, 1, "build-logs") == line
    build = kaon.ok("serve", "build-logs", "-e", broken, env=env)
    assert "requirements.txt" in build and "requirements.in" not in build


def test_killed_endpoints_leave_the_running_table(kaon: Kaon, debug: dict[str, Any]) -> None:
    env, model = debug["env"], debug["trained"]["trials"][0]["model_id"]
    out = kaon.ok(
        "serve", "deploy", "-s", str(debug["serve"]), "-m", model, "--wait", "--json", env=env
    )
    name = json.loads(out)["name"]
    kaon.ok("serve", "kill", "-e", name, "-y", env=env)
    shown = tables(kaon.ok("serve", "list", env=env))
    assert name not in {r["name"] for t in shown.values() for r in t}
    listed = json.loads(kaon.ok("serve", "list", "--json", env=env))
    assert name not in {e["name"] for e in listed}
    everything = tables(kaon.ok("serve", "list", "--all", env=env))
    assert [r["state"] for r in everything["KILLED"] if r["name"] == name] == ["PIPELINE_KILLED"]
    assert everything["RUNNING"] == shown["RUNNING"]  # the indexes users read do not move
    killed = next(r for r in everything["KILLED"] if r["name"] == name)
    got = kaon.ok(
        "serve",
        "provenance",
        "-i",
        killed["ind"],
        "-o",
        str(debug["root"]),
        "--format",
        "dot",
        env=env,
    )
    assert name in got


def test_a_bad_signature_json_fails_the_serve_build_saying_what(
    kaon: Kaon, debug: dict[str, Any]
) -> None:
    """A serve bundle's signature.json (its OIP metadata, kaon.core.signatures) is checked at
    build: a wrong datatype is a build failure naming the file and the field."""
    env, model = debug["env"], debug["trained"]["trials"][0]["model_id"]
    good = debug["serve"]
    bad = debug["root"] / "badsig"
    shutil.copytree(good, bad)
    sig = {"inputs": [{"name": "x", "datatype": "FLOAT", "shape": [-1, 3]}], "outputs": []}
    (bad / "demo" / "model" / "signature.json").write_text(json.dumps(sig))
    p = kaon.run("serve", "deploy", "-s", str(bad), "-m", model, "--wait", "--json", env=env)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["failure"] == "build", doc
    build = kaon.ok("serve", "build-logs", "-e", doc["name"], env=env)
    assert "signature.json: inputs[0].datatype 'FLOAT' is not one of" in build, build
