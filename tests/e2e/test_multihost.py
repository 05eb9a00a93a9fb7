"""The platform on three hosts (network namespaces, kaon.tests.e2e.netns): PostgreSQL and S3 on
host1, a Ray head and `kaon server` on host2, a Ray worker on host3 that cannot read the
server's files; the seed-000 flow (train → serve → predict → provenance) through the real CLI,
its trial and its replica placed on host3."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon import wiring

from . import netns
from .netplatform import (
    BUCKET,
    RAY_ENV,
    Platform,
    start_postgres,
    start_ray,
    start_s3,
    start_server,
)

# three hosts' engines start in the first test (Ray, PostgreSQL, S3, the server): slow on a
# loaded machine, past the suite's 300 s default
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _skip_reason() -> str | None:
    why = netns.unavailable()
    if why is None:
        return None
    root_with_ip = os.geteuid() == 0 and shutil.which("ip") is not None
    if os.environ.get("CI") == "true" and root_with_ip:
        pytest.fail(f"CI=true on a machine with root and `ip`, but: {why}")
    return why


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    why = _skip_reason()
    if why is not None:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="kaon-mh-"))
    logs = Path(tempfile.mkdtemp(prefix="kaon-mh-logs-"))  # failures quote their tails
    ray_temp = Path(tempfile.mkdtemp(prefix="kaon-mh-ray-", dir="/tmp"))  # short: sockets
    pg_folder: Path | None = None
    try:
        with netns.Hosts(["h1", "h2", "h3"]) as hosts:
            database, pg_folder = start_postgres(hosts, logs)
            endpoint = start_s3(hosts, logs)
            home = base / "server-home"
            home.mkdir()
            if "s3" in wiring.OBJECT_STORES:
                store = f"s3://{BUCKET}/kaon?endpoint={endpoint}"
            else:  # the S3 store is not merged yet: a folder host3 cannot see either
                store = f"file://{base / 'objects'}"
            executor = start_ray(hosts, logs, ray_temp, hidden=[base, pg_folder])
            settings = {
                "KAON_DATABASE_URL": database,
                "KAON_METADATA_URL": database,
                "KAON_STORE_URL": store,
                "KAON_EXECUTOR": executor if "ray" in wiring.EXECUTORS else "local",
            }
            start_server(hosts, logs, home, settings)
            yield Platform(hosts, base, logs, home, database, store, executor, ray_temp)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(ray_temp, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        if pg_folder is not None:
            shutil.rmtree(pg_folder, ignore_errors=True)


PROBE = """
import json, os, socket, sys, time
import ray
for attempt in range(3):  # as kaon's connect: the head's per-client server may fail to start
    try:
        ray.init(sys.argv[1], logging_level="ERROR")
        break
    except Exception:
        ray.shutdown()
        if attempt == 2:
            raise
        time.sleep(2)

@ray.remote(num_cpus=1)
def where(paths):
    return socket.gethostname(), ray.get_runtime_context().get_node_id(), {
        p: sorted(os.listdir(p)) if os.path.isdir(p) else None for p in paths
    }

print(json.dumps(ray.get(where.remote(sys.argv[2:]))))
"""


def test_host3_runs_the_work_and_cannot_read_the_servers_files(platform: Platform) -> None:
    """The harness itself: a Ray task (1 CPU: the head has none) lands on host3, which sees
    the server's KAON_HOME as an empty folder."""
    h2, h3 = platform.hosts["h2"], platform.hosts["h3"]
    assert (platform.server_home / "token").exists()  # the server wrote its home
    probe = [sys.executable, "-c", PROBE, platform.executor]
    done = h2.run([*probe, str(platform.server_home), str(platform.base)], env=_ray_env())
    assert done.returncode == 0, done.stderr + _client_server_errors(platform)
    hostname, node, seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert hostname == h3.netns
    assert node
    assert seen == {str(platform.server_home): None, str(platform.base): []}
    assert not h3.listening(5266)  # the API is on host2 only
    assert h2.listening(5266)


def _client_server_errors(platform: Platform) -> str:
    """The tails of the head's per-client server logs (why Ray Client refused a driver)."""
    found = sorted(platform.ray_temp.glob("session_*/logs/ray_client_server*.err"))
    return "".join(f"\n--- {p.name}:\n" + p.read_text(errors="replace")[-2000:] for p in found)


def _ray_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAON_", "RAY_"))} | RAY_ENV


TRAIN = """#!/usr/bin/env python3
import json, pathlib, socket, sys
out = pathlib.Path(sys.argv[1])
print(f"training on {socket.gethostname()}", flush=True)
(out / "model").mkdir(parents=True)
weights = {"scale": 3, "trained_on": socket.gethostname()}
(out / "model" / "weights.json").write_text(json.dumps(weights))
"""

SERVE = """
import json, os, socket

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def predict(payload, ctx):
    return {
        "result": [v * ctx["scale"] for v in payload["x"]],
        "trained_on": ctx["trained_on"],
        "served_on": socket.gethostname(),
    }
"""


def _bundles(root: Path) -> tuple[Path, Path, Path]:
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


def test_seed_000_train_serve_predict_provenance_on_host3(platform: Platform) -> None:
    """Seed 000 through the real CLI on host1 against host2's server: the trial and the
    replica run on host3 (their hostnames say so), the model went through host1's store."""
    if "ray" not in wiring.EXECUTORS:
        pytest.skip("no Ray executor in this kaon (KAON_EXECUTOR=ray://): trials run locally")
    h3 = platform.hosts["h3"]
    train, data, serve = _bundles(platform.base / "bundles")
    env = {"KAON_WORKSPACE": "mnist"}
    platform.ok("workspace", "create", "-n", "mnist")
    job = platform.json("train", "deploy", "-s", str(train), "-d", str(data), "--wait", env=env)
    assert isinstance(job, dict) and job["state"] == "JOB_SUCCESS", job
    model = job["trials"][0]["model_id"]
    logs = platform.ok("train", "logs", "-j", job["id"], env=env)
    assert f"training on {h3.netns}" in logs

    endpoint = platform.json("serve", "deploy", "-s", str(serve), "-m", model, "--wait", env=env)
    assert isinstance(endpoint, dict)
    name = endpoint["name"]
    status, body = platform.post(f"/{name}/invocations", json.dumps({"x": [1, 2]}).encode())
    assert status == 200, body
    answer = json.loads(body)
    assert answer["result"] == [3, 6]
    assert answer["trained_on"] == h3.netns and answer["served_on"] == h3.netns
    replica_log = platform.ok("serve", "logs", "-e", name, env=env)
    assert f"[replica 0] on {h3.netns} ({h3.ip})" in replica_log

    out = platform.base / "provenance"
    shown = platform.ok(
        "train", "provenance", "-m", model, "-o", str(out), "--format", "dot", env=env
    )
    assert model in shown
    shown = platform.ok(
        "serve", "provenance", "-e", name, "-o", str(out), "--format", "dot", env=env
    )
    assert model in shown and "deployed from serve code" in shown
