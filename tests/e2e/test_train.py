"""The train pipeline through the real CLI and a real local server (seed 000 / 003 habits)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Kaon

pytestmark = pytest.mark.e2e

TRAIN = """#!/usr/bin/env python3
import json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
params = json.load(open("params.json"))
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
rows = sum(1 for p in data.rglob("*.csv") for _ in open(p))
print(f"training on {rows} rows with {params}")
(out / "model").mkdir(parents=True)
(out / "model" / "model.json").write_text(json.dumps({"rows": rows, **params}, sort_keys=True))
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(json.dumps({"accuracy": params["c"] / 10}))
"""


def bundle(root: Path, train: str = TRAIN, mode: int = 0o755) -> Path:
    model = root / "mnist" / "model"
    model.mkdir(parents=True)
    (model / "train").write_text(train)
    (model / "train").chmod(mode)
    (model / "requirements.txt").write_text("")
    (model / "params.json").write_text(json.dumps({"c": 1, "kernel": "rbf"}))
    return root


def data(root: Path, rows: int = 3) -> Path:
    for part in ("training", "test"):
        (root / "features" / part).mkdir(parents=True)
        (root / "features" / part / f"{part}.csv").write_text("1,2\n" * rows)
    return root


def ws(kaon: Kaon, name: str) -> dict[str, str]:
    kaon.ok("workspace", "create", "-n", name)
    return {"KAON_WORKSPACE": name}


def wait_state(kaon: Kaon, env: dict[str, str], job: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = json.loads(kaon.ok("train", "info", "-j", job, "--json", env=env))
        if doc["state"] in ("JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED"):
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)


def test_deploy_list_info_get_logs(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "walk")
    grid = tmp_path / "hp.json"
    grid.write_text(json.dumps({"c": [3, 9, 5], "kernel": ["rbf"]}))
    src, dat = bundle(tmp_path / "code"), data(tmp_path / "data")
    p = kaon.run(
        "train",
        "deploy",
        "-s",
        str(src),
        "-d",
        str(dat),
        "-h",
        str(grid),
        "-p",
        "2",
        "--wait",
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "✔ Setting source bundle: /mnist:" in p.stderr
    assert "✔ Setting data bundle: /features:" in p.stderr
    assert "CURRENT HYPERPARAMETERS (3)" in p.stdout and "CURRENT TRAINING INPUTS" in p.stdout

    listing = kaon.ok("train", "list", env=env)
    assert "TRAINING" in listing and "JOB_SUCCESS" in listing and "True" in listing
    job = json.loads(kaon.ok("train", "list", "--json", env=env))[0]
    info = kaon.ok("train", "info", "-i", "0", "-s", "accuracy", env=env)
    assert "Available metrics: ['accuracy']" in info and "Environment:" in info
    scores = [line.split("|")[-2].strip() for line in info.splitlines() if "Author:" in line]
    assert scores == ["0.9000", "0.5000", "0.3000"]  # numeric, descending

    logs = kaon.ok("train", "logs", "-j", job["id"][:8], env=env)
    assert "[trial 1] training on 6 rows" in logs and logs.startswith("[20")
    assert "environment" in kaon.ok("train", "build-logs", "-i", "0", env=env)

    out = tmp_path / "out"
    kaon.ok("train", "get", "-i", "0", "-c", "-d", "-m", "-o", str(out), env=env)
    root = out / "walk" / job["id"]
    code = next((root / "code").iterdir())
    assert code.name == job["source"]["path"].lstrip("/")
    assert (code / "model" / "train").read_text() == TRAIN
    assert (root / "data" / job["data"]["path"].lstrip("/") / "test" / "test.csv").exists()
    models = sorted(p.name for p in (root / "models").iterdir())
    assert models == sorted(t["model_path"].strip("/") for t in job["trials"])
    one = root / "models" / models[0]
    assert (one / "metrics" / "metrics.json").exists() and (one / "model" / "model.json").exists()


def test_resubmitting_identical_code_reuses_the_bundle_id(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "resub")
    src, dat = bundle(tmp_path / "code"), data(tmp_path / "data")
    first = json.loads(
        kaon.ok("train", "deploy", "-s", str(src), "-d", str(dat), "--json", env=env)
    )
    copy = bundle(tmp_path / "copy")
    second = json.loads(kaon.ok("train", "deploy", "-s", str(copy), "--json", env=env))
    assert first["source"]["path"] == second["source"]["path"]
    assert second["data"]["path"] == first["data"]["path"]  # the latest data, reused
    for job in (first, second):
        assert wait_state(kaon, env, job["id"])["state"] == "JOB_SUCCESS"


def test_logs_follow_until_the_job_ends(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "follow")
    slow = "#!/bin/sh\nfor i in 1 2 3; do echo tick $i; sleep 0.3; done\nmkdir -p $1/model\necho x > $1/model/m\n"
    job = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(bundle(tmp_path / "c", slow)),
            "-d",
            str(data(tmp_path / "d")),
            "--json",
            env=env,
        )
    )
    p = kaon.run("train", "logs", "-j", job["id"], "-f", env=env, timeout=60)
    assert p.returncode == 0 and [f"tick {i}" in p.stdout for i in (1, 2, 3)] == [True] * 3


def test_kill_a_running_job(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "killer")
    job = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(bundle(tmp_path / "c", "#!/bin/sh\nsleep 100\n")),
            "-d",
            str(data(tmp_path / "d")),
            "--json",
            env=env,
        )
    )
    time.sleep(0.5)
    assert "successfully killed" in kaon.run("train", "kill", "-j", job["id"], env=env).stderr
    assert wait_state(kaon, env, job["id"])["state"] == "JOB_KILLED"
    kaon.fails(5, "train", "kill", "-j", job["id"], env=env, match="not running")


@pytest.fixture
def http_files(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    for i in range(5):
        (root / f"part{i}.csv").write_text(f"{i},1\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_remote_data_manifest(kaon: Kaon, tmp_path: Path, http_files: str) -> None:
    env = ws(kaon, "manifest")
    mf = tmp_path / "data.mf"
    mf.write_text(
        "".join(
            json.dumps({"url": f"{http_files}/part{i}.csv", "path": f"training/p{i}.csv"}) + "\n"
            for i in range(5)
        )
    )
    job = json.loads(
        kaon.ok(
            "train", "deploy", "-s", str(bundle(tmp_path / "c")), "-m", str(mf), "--json", env=env
        )
    )
    assert job["data"]["path"].startswith("/manifest:")
    assert wait_state(kaon, env, job["id"])["state"] == "JOB_SUCCESS"
    assert "training on 5 rows" in kaon.ok("train", "logs", "-j", job["id"], env=env)


def test_bad_input(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "bad")
    dat = data(tmp_path / "d")
    before = kaon.snapshot()
    no_train = tmp_path / "nt"
    (no_train / "x").mkdir(parents=True)
    (no_train / "x" / "requirements.txt").write_text("")
    kaon.fails(
        2, "train", "deploy", "-s", str(no_train), "-d", str(dat), env=env, match="no `train` file"
    )
    kaon.fails(
        2,
        "train",
        "deploy",
        "-s",
        str(bundle(tmp_path / "nx", mode=0o644)),
        env=env,
        match="chmod +x",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    kaon.fails(
        2,
        "train",
        "deploy",
        "-s",
        str(bundle(tmp_path / "ok")),
        "-d",
        str(empty),
        env=env,
        match="empty",
    )
    link = bundle(tmp_path / "ln")
    (link / "mnist" / "model" / "secret").symlink_to("/etc/passwd")
    kaon.fails(2, "train", "deploy", "-s", str(link), env=env, match="outside the bundle")
    bad_json = tmp_path / "hp.json"
    bad_json.write_text("{degree: [3, 5]")
    kaon.fails(2, "train", "deploy", "-h", str(bad_json), env=env, match="not valid JSON")
    mf = tmp_path / "bad.mf"
    mf.write_text('{"path": "x.csv"}\n')
    kaon.fails(2, "train", "deploy", "-m", str(mf), env=env, match='no "url"')
    kaon.fails(
        4,
        "train",
        "deploy",
        "-s",
        str(bundle(tmp_path / "ok2")),
        env={"KAON_WORKSPACE": "ghost"},
        match="does not exist",
    )
    kaon.fails(4, "train", "info", "-j", "0123456789abcdef", env=env, match="no job")
    assert kaon.snapshot() == before  # nothing half-committed


def test_job_running_when_the_platform_dies_is_failed_on_restart(
    lone: Kaon, tmp_path: Path
) -> None:
    lone.up()
    env = ws(lone, "crash")
    job = json.loads(
        lone.ok(
            "train",
            "deploy",
            "-s",
            str(bundle(tmp_path / "c", "#!/bin/sh\necho up\nsleep 100\n")),
            "-d",
            str(data(tmp_path / "d")),
            "--json",
            env=env,
        )
    )
    deadline = time.monotonic() + 30
    while "up" not in lone.ok("train", "logs", "-j", job["id"], env=env):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    lone.kill_server()
    lone.up()
    doc = wait_state(lone, env, job["id"])
    assert doc["state"] == "JOB_FAILURE" and "interrupted" in doc["reason"]
