"""Training on Ray through the real CLI: a `kaon server` with KAON_EXECUTOR=ray://… runs a
grid's trials as Ray tasks on a private one-node cluster (tests/rayfixtures.py); the model is
served (local replicas) and predicts right; provenance links it to its code and data."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":  # under CI a missing Ray fails (the import below)
    pytest.importorskip("ray")

from rayfixtures import CPUS, RayCluster

from .helpers import KAON, Kaon
from .test_serve import post

pytestmark = pytest.mark.e2e
START_SECONDS = 240.0  # the server connects to Ray before it listens (slow on a busy machine)

TRAIN = """#!/usr/bin/env python3
import json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
params = json.load(open("params.json"))
rows = [line.split(",") for p in sorted(pathlib.Path(os.environ["KAON_DATA_DIR"]).rglob("*.csv"))
        for line in open(p) if line.strip()]
# least squares through the origin: y = scale * x
scale = sum(float(x) * float(y) for x, y in rows) / sum(float(x) ** 2 for x, _ in rows)
print(f"fitted scale {scale:g} on {len(rows)} rows (lr {params['lr']}) home {os.environ['HOME']}")
(out / "model").mkdir(parents=True)
(out / "model" / "weights.json").write_text(json.dumps({"scale": scale}))
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(json.dumps({"score": params["lr"]}))
"""

SERVE = """
import json, os

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def predict(payload, ctx):
    return {"result": [v * ctx["scale"] for v in payload["x"]]}
"""


@pytest.fixture(scope="module")
def on_ray(
    ray_cluster: RayCluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Kaon, Path]]:
    """A kaon server on Ray (its workers' folders in a temp dir) and that node folder."""
    k = Kaon(tmp_path_factory.mktemp("kaon-ray-home"))
    node = tmp_path_factory.mktemp("ray-node")
    k.env |= {
        "KAON_EXECUTOR": ray_cluster.address,
        "KAON_RAY_WORKDIR": str(node / "tasks"),
        "KAON_RAY_ENVS": str(node / "envs"),
    }
    log = (k.home / "server.out").open("wb")
    proc = subprocess.Popen(
        [*KAON, "server"], env=k.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while k.server() is None:
            assert proc.poll() is None, (k.home / "server.out").read_text()
            assert time.monotonic() < deadline, (k.home / "server.out").read_text()
            time.sleep(0.5)
        k.track()
        yield k, node
    finally:
        k.shutdown()
        proc.wait(timeout=30)
        log.close()


def bundles(root: Path) -> tuple[Path, Path, Path]:
    train = root / "train" / "fit" / "model"
    train.mkdir(parents=True)
    (train / "train").write_text(TRAIN)
    (train / "train").chmod(0o755)
    (train / "requirements.txt").write_text("")
    (train / "params.json").write_text(json.dumps({"lr": 0.1}))
    data = root / "data" / "points"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("1,3\n2,6\n")
    (data / "b.csv").write_text("4,12\n")
    serve = root / "serve" / "fit" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE)
    (serve / "requirements.txt").write_text("")
    return root / "train", root / "data", root / "serve"


def test_a_grid_trains_on_ray_and_the_model_serves(
    on_ray: tuple[Kaon, Path], tmp_path: Path
) -> None:
    kaon, node = on_ray
    env = {"KAON_WORKSPACE": "onray"}
    kaon.ok("workspace", "create", "-n", "onray")
    train, data, serve = bundles(tmp_path)
    grid = tmp_path / "hp.json"
    grid.write_text(json.dumps({"lr": [0.1, 0.5, 0.9]}))
    job = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(train),
            "-d",
            str(data),
            "-h",
            str(grid),
            "-p",
            "2",
            "--wait",
            "--json",
            env=env,
        )
    )
    assert job["state"] == "JOB_SUCCESS", job
    assert len(job["trials"]) == 3
    logs = kaon.ok("train", "logs", "-j", job["id"], env=env)
    fitted = [line for line in logs.splitlines() if "fitted scale 3 on 3 rows" in line]
    assert len(fitted) == 3, logs
    # each trial ran on the Ray worker: its HOME was below the node's folder, not the server's
    assert all(f"home {node / 'tasks'}/" in line for line in fitted), fitted

    model = job["trials"][0]["model_id"]
    endpoint = json.loads(
        kaon.ok("serve", "deploy", "-s", str(serve), "-m", model, "--wait", "--json", env=env)
    )
    base = kaon.server()["url"]  # type: ignore[index]
    status_code, _, answer = post(
        f"{base}/{endpoint['name']}/invocations", json.dumps({"x": [1, 2.5]}).encode()
    )
    assert status_code == 200 and answer["result"] == [3.0, 7.5], answer

    out = kaon.ok(
        "serve",
        "provenance",
        "-e",
        endpoint["name"],
        "--format",
        "dot",
        "-o",
        str(tmp_path),
        env=env,
    )
    assert model in out and "deployed from serve code" in out
    text = kaon.ok("train", "provenance", "-m", model, "-o", str(tmp_path / "p"), env=env)
    assert f"model {model}" in text and "used data /points:" in text, text
    assert "used code /fit:" in text, text


def test_a_job_asking_more_cpus_than_any_node_has_fails_saying_what_the_cluster_has(
    on_ray: tuple[Kaon, Path], tmp_path: Path
) -> None:
    kaon, _ = on_ray
    env = {"KAON_WORKSPACE": "toobig"}
    kaon.ok("workspace", "create", "-n", "toobig")
    train, data, _ = bundles(tmp_path)
    p = kaon.run(
        *("train", "deploy", "-s", str(train), "-d", str(data), "--cpu", "64", "--wait"), env=env
    )
    assert p.returncode != 0 and "ended JOB_FAILURE" in p.stderr, p.stderr
    assert "asks for 64 CPU(s)" in p.stderr and f"{CPUS} CPUs" in p.stderr, p.stderr
    job = json.loads(kaon.ok("train", "list", "--json", env=env))[0]
    assert job["state"] == "JOB_FAILURE" and "64 CPU(s)" in job["reason"], job
    assert "fitted" not in kaon.ok("train", "logs", "-j", job["id"], env=env)  # never ran
