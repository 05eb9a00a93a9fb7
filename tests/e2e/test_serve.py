"""Serving through the real CLI, server and gateway: kaos invocations, OIP v2, feedback,
metrics, failure modes (a raising or hanging predictor, a replica killed under load)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from .helpers import Kaon
from .test_job_isolation import endpoint_processes

pytestmark = pytest.mark.e2e

TRAIN = """#!/usr/bin/env python3
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "weights.json").write_text(json.dumps({"scale": 3}))
"""

SERVE = """
import json, os, time

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def predict(payload, ctx):
    if payload == {"boom": True}:
        raise ValueError("the predictor broke on purpose")
    if payload == {"sleep": True}:
        time.sleep(5)
    if isinstance(payload, dict) and payload.get("slow"):
        time.sleep(0.3)  # keeps the replica busy while the other requests arrive
    if isinstance(payload, bytes):
        return {"result": [len(payload)]}
    rows = payload["x"] if isinstance(payload, dict) else payload
    return {"result": [v * ctx["scale"] for v in rows], "replica": os.environ["KAON_REPLICA"]}

def predict_batch(payloads, ctx):
    with open(os.path.join(os.environ["HOME"], "batches.log"), "a") as f:
        f.write(f"{len(payloads)}\\n")
    return [predict(p, ctx) for p in payloads]
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


def replica_pid(name: str, replica: str) -> int:
    """The pid (as seen here: a replica runs in a pid namespace of its own) of replica number
    `replica` of endpoint `name`."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.info["cmdline"][1:3] != ["-m", "kaon.runtime.replica"]:
                continue
            env = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, TypeError):
            continue
        if env.get("KAON_ENDPOINT") == name and env.get("KAON_REPLICA") == replica:
            return int(proc.pid)
    raise AssertionError(f"no replica {replica} of {name} runs")


def post(url: str, body: bytes, ctype: str = "application/json") -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, body, {"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def served(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("serve")
    train, data, serve = bundles(root)
    env = {"KAON_WORKSPACE": "serving"}
    kaon.ok("workspace", "create", "-n", "serving")
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    model = job["trials"][0]["model_id"]
    out = kaon.ok(
        "serve",
        "deploy",
        "-s",
        str(serve),
        "-m",
        model,
        "--replicas",
        "2",
        "--timeout",
        "2s",
        "--wait",
        "--json",
        env=env,
    )
    endpoint = json.loads(out)
    base = kaon.server()["url"]  # type: ignore[index]
    # --wait returns once the endpoint answers: one replica may still be loading (CI, loaded)
    all_ready(kaon, endpoint["name"], env)
    return {"env": env, "model": model, "name": endpoint["name"], "base": base, "serve": serve}


def all_ready(kaon: Kaon, name: str, env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    """The endpoint's listing once both its replicas are ready."""
    deadline = time.monotonic() + timeout
    while True:
        listing = json.loads(kaon.ok("serve", "list", "--json", env=env))
        mine: dict[str, Any] = next(e for e in listing if e["name"] == name)
        if mine["ready"] == 2:
            return mine
        assert time.monotonic() < deadline, mine
        time.sleep(0.2)


def test_invocations_kaos_style(kaon: Kaon, served: dict[str, Any]) -> None:
    url = f"{served['base']}/{served['name']}/invocations"
    status, headers, doc = post(url, json.dumps({"x": [1, 2]}).encode())
    assert status == 200 and doc["result"] == [3, 6]
    assert headers["x-kaon-model-id"] == served["model"] and len(headers["x-request-id"]) == 32
    status, _, doc = post(url, b"\xff\xd8 raw jpeg bytes", "image/jpeg")
    assert status == 200 and doc == {"result": [17]}
    assert get(f"{served['base']}/{served['name']}/ping")[0] == 200
    out = kaon.ok("serve", "list", env=served["env"])
    assert served["name"] in out and "PIPELINE_RUNNING" in out and "/invocations" in out


def test_open_inference_protocol(served: dict[str, Any]) -> None:
    base, name = served["base"], served["name"]
    assert get(f"{base}/v2/health/live")[0] == 200 and get(f"{base}/v2/health/ready")[0] == 200
    status, body = get(f"{base}/v2/models/{name}")
    assert status == 200 and json.loads(body)["versions"] == [served["model"]]
    assert get(f"{base}/v2/models/{name}/ready")[0] == 200
    request = {
        "id": "r1",
        "inputs": [{"name": "x", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}],
    }
    status, _, doc = post(f"{base}/v2/models/{name}/infer", json.dumps(request).encode())
    assert status == 200 and doc["id"] == "r1" and doc["model_version"] == served["model"]
    assert doc["outputs"][0]["data"] == [3, 6, 9] and doc["outputs"][0]["datatype"] == "INT64"
    assert get(f"{base}/v2/models/nope/ready")[0] == 404


def test_errors_are_clear_and_bounded(kaon: Kaon, served: dict[str, Any]) -> None:
    url = f"{served['base']}/{served['name']}/invocations"
    status, _, doc = post(url, json.dumps({"boom": True}).encode())
    assert status == 500 and "broke on purpose" in doc["error"]
    started = time.monotonic()
    status, _, doc = post(url, json.dumps({"sleep": True}).encode())
    assert status == 504 and "2 s" in doc["error"] and time.monotonic() - started < 4
    assert post(url, b"{not json")[0] == 400
    assert post(url, b"x" * (5 * 1024 * 1024 + 1), "application/octet-stream")[0] == 413
    assert post(f"{served['base']}/serve-nope-000000/invocations", b"{}")[0] == 404
    logs = kaon.ok("serve", "logs", "-e", served["name"], env=served["env"])
    assert "ValueError: the predictor broke on purpose" in logs and "Traceback" in logs
    assert "did not answer within the request timeout: restarting it" in logs
    all_ready(kaon, served["name"], served["env"])  # the hung replica is restarted: whole again


def test_logs_tail(kaon: Kaon, served: dict[str, Any]) -> None:
    """`kaon serve logs --tail N` (and build-logs), as `kaon train logs --tail N`."""
    name, env = served["name"], served["env"]
    built = kaon.ok("serve", "build-logs", "-e", name, env=env).splitlines()  # complete
    assert len(built) > 1
    assert kaon.ok("serve", "build-logs", "-e", name, "-n", "1", env=env).splitlines() == built[-1:]
    last = kaon.ok("serve", "logs", "-e", name, "--tail", "2", env=env).splitlines()
    whole = kaon.ok("serve", "logs", "-e", name, env=env).splitlines()  # replicas may add lines
    assert len(last) == 2 and len(whole) > 2
    assert any(whole[i : i + 2] == last for i in range(len(whole) - 1))
    assert kaon.ok("serve", "logs", "-e", name, "-n", "0", env=env) == ""
    bad = kaon.run("serve", "logs", "-e", name, "--tail", "-1", env=env)
    assert bad.returncode == 2 and "--tail" in bad.stderr
    with kaon.client() as c:
        piece = c.endpoint_log(name, tail=1)
        assert len(piece.text.splitlines()) == 1
        assert piece.start == piece.offset - len(piece.text.encode())
        assert "".join(c.logs(c.get_endpoint(name), build=True, tail=1)).splitlines() == built[-1:]
    url = f"{served['base']}/v1/endpoints/{name}/logs"
    headers = {"Authorization": f"Bearer {(kaon.home / 'token').read_text().strip()}"}
    both = httpx.get(url, params={"tail": 2, "offset": 10}, headers=headers)
    assert both.status_code == 400 and "not both" in both.text


def test_feedback_is_stored_as_versioned_data(kaon: Kaon, served: dict[str, Any]) -> None:
    url = f"{served['base']}/{served['name']}"
    _, headers, _ = post(f"{url}/invocations", json.dumps({"x": [5]}).encode())
    rid = headers["x-request-id"]
    status, _, doc = post(
        f"{url}/feedback", json.dumps({"request_id": rid, "truth": [15]}).encode()
    )
    assert status == 201 and doc["request_id"] == rid
    files = json.loads(kaon.ok("list", "file", f"serving-feedback@{served['name']}", "--json"))
    assert any(rid in f["path"] for f in files)
    assert (
        post(f"{url}/feedback", json.dumps({"request_id": "nope", "truth": 1}).encode())[0] == 404
    )
    assert post(f"{url}/feedback", json.dumps({"truth": 1}).encode())[0] == 400


def test_metrics_and_provenance(kaon: Kaon, served: dict[str, Any], tmp_path: Path) -> None:
    url = f"{served['base']}/{served['name']}/invocations"
    assert post(url, json.dumps({"x": [1]}).encode())[0] == 200  # whatever ran before
    status, body = get(f"{served['base']}/metrics")
    text = body.decode()
    assert (
        status == 200 and f'kaon_requests_total{{code="200",endpoint="{served["name"]}"}}' in text
    )
    assert "kaon_request_seconds_bucket" in text
    out = kaon.ok(
        "serve",
        "provenance",
        "-e",
        served["name"],
        "--format",
        "dot",
        "-o",
        str(tmp_path),
        env=served["env"],
    )
    assert served["model"] in out and "deployed from serve code" in out
    assert (tmp_path / "serving" / "provenance" / f"{served['name']}.dot").exists()


def test_a_killed_replica_is_failed_over_and_restarted(kaon: Kaon, served: dict[str, Any]) -> None:
    url = f"{served['base']}/{served['name']}/invocations"
    replicas = {post(url, json.dumps({"x": [i]}).encode())[2]["replica"] for i in range(20)}
    assert replicas == {"0", "1"}  # round-robin over both replicas
    victim = replica_pid(served["name"], "0")
    failures: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status = post(url, json.dumps({"x": [1]}).encode())[0]
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    mine = all_ready(kaon, served["name"], served["env"])
    assert mine["restarts"] >= 1 and mine["state"] == "PIPELINE_RUNNING"


def test_batching_groups_concurrent_requests(kaon: Kaon, served: dict[str, Any]) -> None:
    env = served["env"]
    out = kaon.ok(
        "serve",
        "deploy",
        "-s",
        str(served["serve"]),
        "-m",
        served["model"],
        "--batch",
        "8/50ms",
        "--wait",
        "--json",
        env=env,
    )
    name = json.loads(out)["name"]
    url = f"{served['base']}/{name}/invocations"
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(
                post(url, json.dumps({"x": [i], "slow": i == 0}).encode())
            )
        )
        for i in range(6)
    ]
    threads[0].start()  # a slow first request keeps the replica busy: the others pile up
    time.sleep(0.1)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[2]["result"][0] for r in results) == [0, 3, 6, 9, 12, 15]
    home = kaon.home / "serving" / "runtime"
    logs = list(kaon.home.rglob("batches.log"))
    assert logs, f"no batch was recorded under {home}"
    assert max(int(n) for n in logs[0].read_text().split()) > 1
    kaon.ok("serve", "kill", "-e", name, "-y", env=env)
    assert name not in kaon.ok("serve", "list", env=env)
    assert "PIPELINE_KILLED" in kaon.ok("serve", "list", "--all", env=env)


def test_bad_serve_input(kaon: Kaon, served: dict[str, Any], tmp_path: Path) -> None:
    env = served["env"]
    kaon.fails(
        4,
        "serve",
        "deploy",
        "-s",
        str(served["serve"]),
        "-m",
        "abcde_abcde:abcdef",
        env=env,
        match="no model",
    )
    empty = tmp_path / "nomodule" / "x"
    empty.mkdir(parents=True)
    (empty / "requirements.txt").write_text("")
    kaon.fails(2, "serve", "deploy", "-s", str(tmp_path / "nomodule"), env=env, match="no model.py")
    kaon.fails(
        2,
        "serve",
        "deploy",
        "-s",
        str(served["serve"]),
        "--batch",
        "lots",
        env=env,
        match="--batch",
    )


def test_endpoints_come_back_after_the_platform_is_killed(lone: Kaon, tmp_path: Path) -> None:
    lone.up()
    train, data, serve = bundles(tmp_path)
    lone.ok("workspace", "create", "-n", "phoenix")
    env = {"KAON_WORKSPACE": "phoenix"}
    job = json.loads(
        lone.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    out = lone.ok(
        "serve",
        "deploy",
        "-s",
        str(serve),
        "-m",
        job["trials"][0]["model_id"],
        "--wait",
        "--json",
        env=env,
    )
    name = json.loads(out)["name"]
    url = f"{lone.server()['url']}/{name}/invocations"  # type: ignore[index]
    assert post(url, b'{"x": [1]}')[0] == 200
    replica = replica_pid(name, "0")
    lone.kill_server()  # kill -9: the replicas notice their supervisor is gone and stop
    deadline = time.monotonic() + 10
    while psutil.pid_exists(replica) and psutil.Process(replica).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "a replica outlived its killed supervisor"
        time.sleep(0.1)
    while endpoint_processes(name):  # nor did its sandbox or supervisor
        assert time.monotonic() < deadline, endpoint_processes(name)
        time.sleep(0.1)
    lone.up()
    deadline = time.monotonic() + 60
    while True:
        status, _, doc = post(f"{lone.server()['url']}/{name}/invocations", b'{"x": [2]}')  # type: ignore[index]
        if status == 200:
            break
        assert time.monotonic() < deadline, (status, doc)
        time.sleep(0.2)
    assert doc["result"] == [6]
    assert "PIPELINE_RUNNING" in lone.ok("serve", "list", env=env)
