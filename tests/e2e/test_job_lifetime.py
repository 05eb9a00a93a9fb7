"""A job's processes live exactly as long as the job (issue 13, items 3-5): they die with a
killed server, none outlives JOB_SUCCESS, an interrupted job's S3 key stops working at the
restart, and `--memory` bounds the whole job where the machine has cgroups."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from kaon.exec.cgroups import find_cgroups

from .helpers import Kaon
from .test_train import bundle, data, wait_state, ws

pytestmark = pytest.mark.e2e

WAIT = 30.0  # seconds a poll may take before the test fails

# prints nothing, keeps its S3 key where the test can read it, and never ends by itself
SILENT = """#!/bin/sh
env | grep '^AWS_' > "$HOME/s3.env"
exec sleep 300
"""

# a daemon that leaves the job's session and writes to the log, then a valid model
DAEMON = """#!/bin/sh
python3 -c 'import os, sys, time
if os.fork(): sys.exit(0)
os.setsid()
while True:
    print("daemon tick", flush=True); time.sleep(0.2)
' &
sleep 0.5
mkdir -p "$1/model" && echo ok > "$1/model/m.txt"
"""

# four children holding 200 MiB each: 800 MiB in all, each well under 512 MiB
FORKING = """#!/usr/bin/env python3
import os, pathlib, sys, time
pids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (200 << 20)
        time.sleep(3)
        os._exit(0 if len(block) else 1)
    pids.append(pid)
codes = [os.waitpid(p, 0)[1] for p in pids]
print("children:", codes, flush=True)
if any(codes):
    sys.exit(1)
(pathlib.Path(sys.argv[1]) / "model").mkdir()
(pathlib.Path(sys.argv[1]) / "model" / "m.txt").write_text("ok")
"""


def job_processes(job: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose environment names job `job`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("KAON_JOB_ID") == job:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def poll(what: str, check: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)


def deploy(kaon: Kaon, env: dict[str, str], root: Path, train: str, *extra: str) -> str:
    doc = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(bundle(root / "c", train)),
            "-d",
            str(data(root / "d")),
            "--json",
            *extra,
            env=env,
        )
    )
    return str(doc["id"])


@pytest.mark.parametrize("sandbox", [False, True], ids=["plain", "sandbox"])
def test_a_silent_trial_dies_with_the_server_and_its_key_is_revoked(
    lone: Kaon, tmp_path: Path, sandbox: bool
) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    lone.up()
    env = ws(lone, f"orphan{int(sandbox)}")
    job = deploy(lone, env, tmp_path, SILENT, *(["--sandbox"] if sandbox else []))
    keys = lone.home / "jobs" / job / "trials" / "0" / "home" / "s3.env"
    poll("the trial runs", lambda: keys.exists() and keys.read_text().count("\n") >= 3)
    poll("the trial's processes are visible", lambda: job_processes(job))
    s3env = dict(line.split("=", 1) for line in keys.read_text().splitlines())

    lone.kill_server()
    # no process of the job outlives the server: none is left within a bounded wait
    poll("the job's processes die with the server", lambda: not job_processes(job))

    doc = lone.up()
    assert wait_state(lone, env, job)["state"] == "JOB_FAILURE"
    s3 = boto3.client(
        "s3",
        endpoint_url=doc["s3_url"],
        aws_access_key_id=s3env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as denied:
        s3.list_buckets()
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("sandbox", [False, True], ids=["plain", "sandbox"])
def test_a_setsid_daemon_does_not_outlive_its_job(
    kaon: Kaon, tmp_path: Path, sandbox: bool
) -> None:
    env = ws(kaon, f"daemon{int(sandbox)}")
    job = deploy(kaon, env, tmp_path, DAEMON, *(["--sandbox"] if sandbox else []))
    doc = wait_state(kaon, env, job)
    assert doc["state"] == "JOB_SUCCESS", doc
    assert job_processes(job) == []  # gone before the job was marked finished
    log = kaon.home / "jobs" / job / "train.log"
    size = log.stat().st_size
    time.sleep(0.5)  # no assertion on time: a daemon alive would have ticked meanwhile
    assert log.stat().st_size == size


CGROUPS = find_cgroups()


@pytest.mark.skipif(
    CGROUPS is None or not CGROUPS.limits_memory,
    reason="no writable cgroup with the memory controller here: --memory can only limit each "
    "process (under CI=true this skip is deliberate: CI runners give no cgroup delegation)",
)
def test_memory_limits_the_whole_job(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "memjob")
    job = deploy(kaon, env, tmp_path, FORKING, "--memory", "512Mi")
    doc = wait_state(kaon, env, job, timeout=120)
    assert doc["state"] == "JOB_FAILURE", doc
    logs = kaon.ok("train", "logs", "-j", job, env=env)
    assert "went over its memory limit (512Mi)" in logs, logs


def test_the_log_says_how_memory_was_limited(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "memsay")
    train = '#!/bin/sh\nmkdir -p "$1/model" && echo ok > "$1/model/m.txt"\n'
    job = deploy(kaon, env, tmp_path, train, "--memory", "256Mi")
    doc = wait_state(kaon, env, job)
    assert doc["state"] == "JOB_SUCCESS", doc
    logs = kaon.ok("train", "logs", "-j", job, env=env)
    if CGROUPS is not None and CGROUPS.limits_memory:
        assert "memory limit 256Mi for the trial's processes together" in logs, logs
    else:
        assert "memory limit 256Mi for each process" in logs, logs
    info = kaon.ok("train", "info", "-j", job, env=env)
    assert "256Mi" in info, info


def test_a_job_without_memory_gets_the_platform_default(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "memdefault")
    train = '#!/bin/sh\nmkdir -p "$1/model" && echo ok > "$1/model/m.txt"\n'
    job = deploy(kaon, env, tmp_path, train)
    doc = wait_state(kaon, env, job)
    assert doc["state"] == "JOB_SUCCESS", doc
    logs = kaon.ok("train", "logs", "-j", job, env=env)
    info = kaon.ok("train", "info", "-j", job, env=env)
    if CGROUPS is not None and CGROUPS.limits_memory:
        said = (
            "for the trial's processes together (cgroup; the platform's default, KAON_JOB_MEMORY)"
        )
    else:
        said = "the platform's default memory limit (KAON_JOB_MEMORY) is not applied"
    assert said in logs, logs
    assert said in info, info


@pytest.mark.skipif(
    CGROUPS is None or not CGROUPS.limits_memory,
    reason="no writable cgroup with the memory controller here: the default applies only there",
)
def test_the_platform_default_bounds_a_job_without_memory(tmp_path: Path) -> None:
    platform = Kaon(tmp_path / "home")
    platform.env["KAON_JOB_MEMORY"] = "512Mi"
    try:
        platform.up()
        env = ws(platform, "memcap")
        job = deploy(platform, env, tmp_path, FORKING)  # 800 MiB in four processes
        doc = wait_state(platform, env, job, timeout=120)
        logs = platform.ok("train", "logs", "-j", job, env=env)
    finally:
        platform.shutdown()
    assert doc["state"] == "JOB_FAILURE", doc
    assert "went over its memory limit (512Mi)" in logs, logs


def uv_builds(k: Kaon, marker: str) -> list[psutil.Process]:
    """Live uv processes resolving requirements that hold `marker`, in `k`'s environments
    folder (KAON_ENV_DIR, which the session's platforms may share: the marker tells this
    test's build from the others')."""
    envs = k.env.get("KAON_ENV_DIR") or str(k.home / "envs")
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE or not proc.info["cmdline"]:
                continue
            cwd = str(proc.info["cwd"])
            if Path(proc.info["cmdline"][0]).name != "uv" or not cwd.startswith(envs):
                continue
            if marker in (Path(cwd) / "requirements.in").read_text():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def test_an_environment_build_dies_with_the_server(lone: Kaon, tmp_path: Path) -> None:
    # a package index that accepts connections and never answers: uv waits on it
    import socket

    index = socket.socket()
    index.bind(("127.0.0.1", 0))
    index.listen(16)
    try:
        lone.up()
        env = ws(lone, "uvorphan")
        src = bundle(tmp_path / "c", "#!/bin/sh\nexit 0\n")
        port = index.getsockname()[1]
        requirements = f"--index-url http://127.0.0.1:{port}/simple\nnothing-at-all==1.0\n"
        (src / "mnist" / "model" / "requirements.txt").write_text(requirements)
        doc = json.loads(
            lone.ok(
                "train",
                "deploy",
                "-s",
                str(src),
                "-d",
                str(data(tmp_path / "d")),
                "--json",
                env=env,
            )
        )
        index_url = f"http://127.0.0.1:{port}/simple"
        poll("uv resolves the requirements", lambda: uv_builds(lone, index_url))
        lone.kill_server()
        poll("the build dies with the server", lambda: not uv_builds(lone, index_url))
        lone.up()
        assert wait_state(lone, env, doc["id"])["state"] == "JOB_FAILURE"
    finally:
        index.close()
