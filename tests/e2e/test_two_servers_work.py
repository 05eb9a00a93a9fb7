"""Live work with two `kaon server` processes over one database and one store (issue 17):
a training job runs on the server that accepted it and is followed and killed through the
other; a server killed with SIGKILL leaves its pipelines and jobs to the live one (the jobs
end honestly, naming it); gc through one server while the other uploads loses nothing."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon, spec_file, wait_final
from .servers import Servers
from .test_pipelines import SITE, fetch
from .test_train import bundle, data, wait_state, ws

pytestmark = pytest.mark.e2e

WAIT = 120.0  # a bound for a hang, not a speed check
CLUSTER = {"KAON_CLAIM_SECONDS": "3", "KAON_HEARTBEAT_SECONDS": "0.5"}

TICKING = """#!/bin/sh
i=0
while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done
"""

COPY = """
pipeline: {name: copier}
input: {pfs: {repo: inbox, glob: "/*"}}
transform:
  cmd: [/bin/bash]
  stdin: [cp /pfs/inbox/* /pfs/out/, echo copied by $HOSTNAME]
"""


def poll(what: str, check: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.2)


def deploy(k: Kaon, env: dict[str, str], root: Path, train: str) -> str:
    src, dat = bundle(root / "c", train), data(root / "d")
    doc = json.loads(k.ok("train", "deploy", "-s", str(src), "-d", str(dat), "--json", env=env))
    return str(doc["id"])


def info(k: Kaon, env: dict[str, str], job: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(k.ok("train", "info", "-j", job, "--json", env=env))
    return doc


def head(k: Kaon, repo: str) -> str:
    commits = k.json("list", "commit", f"{repo}@master")
    return str(commits[0]["id"])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with Servers(tmp_path_factory.mktemp("work"), 2, env=CLUSTER) as servers:
        yield servers


def test_a_job_trained_through_a_is_followed_and_killed_through_b(
    pair: Servers, tmp_path: Path
) -> None:
    a, b = pair
    env = ws(a, "sharedjob")
    job = deploy(a, env, tmp_path, TICKING)
    assert (a.home / "jobs" / job).is_dir() and not (b.home / "jobs" / job).exists()
    follow = b.popen("train", "logs", "-j", job, "-f", env=env)  # through B, run on A
    try:
        poll("B shows A's live log", lambda: "tick 2" in b.ok("train", "logs", "-j", job, env=env))
        b.ok("train", "kill", "-j", job, env=env)
        assert info(b, env, job)["state"] == "JOB_KILLED"
        out, err = follow.communicate(timeout=WAIT)
    finally:
        follow.kill()
    assert follow.returncode == 0, err
    assert "tick 1" in out and "tick 2" in out
    assert info(a, env, job)["state"] == "JOB_KILLED"
    assert "tick 1" in b.ok("train", "logs", "-j", job, env=env)  # the committed log, after


def test_a_service_pipeline_answers_through_either_server(pair: Servers, tmp_path: Path) -> None:
    """The leader runs the service; `/pipelines/<name>/...` through the other server is
    proxied to the leader (the token checked by both)."""
    a, b = pair
    b.ok("repo", "create", "sitedata")
    src = tmp_path / "hello.txt"
    src.write_text("hello from the leader\n")
    b.ok("put", "file", "sitedata@master:/hello.txt", "-f", str(src))
    b.ok("create", "pipeline", "-f", str(spec_file(tmp_path, SITE)))
    try:
        for url in pair.urls():  # A leads (started first); B proxies to it
            fetch(a, f"{url}/pipelines/site/hello.txt", "from the leader")
        req = urllib.request.Request(f"{pair.urls()[1]}/pipelines/site/hello.txt")
        with pytest.raises(urllib.error.HTTPError) as refused:  # no token: B refuses
            urllib.request.urlopen(req, timeout=10)
        refused.value.close()
        assert refused.value.code == 401
    finally:
        b.ok("delete", "pipeline", "site")


def test_gc_through_a_while_b_uploads_loses_nothing(pair: Servers, tmp_path: Path) -> None:
    a, b = pair
    same = tmp_path / "same"
    same.mkdir()
    (same / "x.txt").write_text("the same content\n")
    b.ok("create", "repo", "scratch")
    b.ok("put", "file", "scratch@master:/s", "-f", str(same), "-r")
    b.ok("repo", "delete", "scratch")
    a.ok("gc")  # reclaims the trees B stored for scratch (B remembers storing them)
    b.ok("create", "repo", "busy")
    b.ok("put", "file", "busy@master:/s", "-f", str(same), "-r")  # the same trees again
    written = {"/s/x.txt": "the same content\n"}
    stop = threading.Event()
    gcs: list[object] = []

    def collect() -> None:  # gc through A, again and again, while B uploads
        with a.client() as through_a:
            while not stop.wait(0.1):
                gcs.append(through_a.gc())

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        with b.client() as through_b:
            for i in range(12):
                folder = tmp_path / f"up{i}"
                folder.mkdir()
                for j in range(4):  # contents repeat across rounds: chunks found stored
                    text = f"file {j} of round {i % 3}\n" * (50 + j)
                    (folder / f"f{j}.txt").write_text(text)
                    written[f"/r{i}/f{j}.txt"] = text
                through_b.put(f"busy@master:/r{i}", folder, recursive=True, stat_cache=False)
    finally:
        stop.set()
        collector.join(WAIT)
    assert gcs, "no gc ran while B uploaded"
    a.ok("gc")  # and one after: nothing live is reclaimed
    with a.client() as through_a, b.client() as through_b:
        for path, text in written.items():
            for c in (through_a, through_b):
                assert c.read(f"busy@master:{path}").decode() == text, path


def test_a_dead_servers_pipelines_and_jobs_are_taken_over(tmp_path: Path) -> None:
    with Servers(tmp_path / "platform", 2, env=CLUSTER) as servers:
        a, b = servers  # A started first: it leads the pipelines
        b.ok("create", "repo", "inbox")
        b.ok("create", "pipeline", "-f", str(spec_file(tmp_path, COPY)))
        put(b, tmp_path, "one")  # through B, which does not lead: A runs the job
        first = wait_final(b, "copier", head(b, "inbox"), timeout=240)
        assert first["state"] == "JOB_SUCCESS", first
        assert "copied" in b.ok("logs", "--job", f"copier@{first['id']}")  # A's, through B
        env = ws(a, "orphans")
        job = deploy(a, env, tmp_path / "job", TICKING)
        poll("the job runs on A", lambda: info(b, env, job)["state"] == "JOB_RUNNING")

        a_url = servers.urls()[0]
        a.kill_server()
        ended = wait_state(b, env, job, timeout=WAIT)
        assert ended["state"] == "JOB_FAILURE", ended
        assert "interrupted" in ended["reason"] and a_url in ended["reason"], ended
        put(b, tmp_path, "two")  # B leads now: its commit sets its pipeline off
        second = wait_final(b, "copier", head(b, "inbox"), timeout=240)
        assert second["state"] == "JOB_SUCCESS", second
        assert b.ok("get", "file", "copier@master:/two.txt") == "two\n"
        # the first job's log was on A's disk: B reads the copy A kept in the shared store
        assert "copied" in b.ok("logs", "--job", f"copier@{first['id']}")


def put(k: Kaon, root: Path, name: str) -> None:
    src = root / f"{name}.txt"
    src.write_text(f"{name}\n")
    k.ok("put", "file", f"inbox@master:/{name}.txt", "-f", str(src))
