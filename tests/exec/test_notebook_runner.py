"""LocalNotebooks (kaon.exec.notebooks) with a stand-in JupyterLab: a `jupyterlab` module on
the runner's PYTHONPATH that answers `GET /<name>/api` on the unix socket it is given. A
JupyterLab that dies is restarted; its environment carries the token and the data folder;
stop ends it and removes its socket; --cpu and --memory bound it (here without a cgroup: its
CPUs by affinity, its memory per process) and `describe_limits` says so."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from kaon.exec.notebooks import LocalNotebooks, answers
from kaon.ports.envbuilder import Environment
from kaon.ports.notebooks import NotebookSpec

FAKE = """
import http.server, json, os, resource, socketserver, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
sock, base = args["ServerApp.sock"], args["ServerApp.base_url"]
seen = {k: os.environ.get(k) for k in ("JUPYTER_TOKEN", "KAON_DATA_DIR", "DATA_REPO", "EXTRA")}
seen["pid"] = os.getpid()
seen["root"] = args["ServerApp.root_dir"]
seen["cpus"] = len(os.sched_getaffinity(0))
seen["rlimit_as"] = resource.getrlimit(resource.RLIMIT_AS)[0]
path = os.path.join(os.environ["HOME"], "seen.json")
with open(path + ".tmp", "w") as f:
    json.dump(seen, f)
os.replace(path + ".tmp", path)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == base + "api" else 404)
        self.end_headers()
    def address_string(self):
        return "unix"

class S(socketserver.UnixStreamServer):
    pass

S(sock, H).serve_forever()
"""

WAIT = 60.0


def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_dead_jupyterlab_restarts_and_stop_ends_it(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    (runtime / "jupyterlab").mkdir(parents=True)
    (runtime / "jupyterlab" / "__init__.py").write_text("")
    (runtime / "jupyterlab" / "__main__.py").write_text(FAKE)
    prefix = Path(sys.prefix)
    env = Environment("0" * 32, prefix, Path(sys.executable).parent, Path(sys.executable))
    work, run, data = tmp_path / "work", tmp_path / "run", tmp_path / "data"
    for folder in (work, data):
        folder.mkdir()
    spec = NotebookSpec(
        "nb-test", env, work, run, "s3cret", data, "ws-data", {"EXTRA": "x"}, (), None
    )
    runner = LocalNotebooks(runtime, cgroups=False, backoff=(0.1, 0.2))
    lines: list[str] = []
    runner.start(spec, lines.append)
    try:
        wait_for(lambda: (s := runner.status("nb-test")) is not None and s.ready, "never ready")
        status = runner.status("nb-test")
        assert status is not None and status.restarts == 0
        assert answers(status.socket, "nb-test")
        seen = json.loads((run / "home" / "seen.json").read_text())
        assert seen["JUPYTER_TOKEN"] == "s3cret" and seen["EXTRA"] == "x"
        assert seen["KAON_DATA_DIR"] == str(data) and seen["DATA_REPO"] == "ws-data"
        assert seen["root"] == str(work)
        first = seen["pid"]
        os.kill(first, signal.SIGKILL)  # JupyterLab crashes: it is started again
        wait_for(
            lambda: (s := runner.status("nb-test")) is not None and s.restarts == 1 and s.ready,
            "not restarted",
        )
        again = json.loads((run / "home" / "seen.json").read_text())["pid"]
        assert again != first
        assert any("restarting" in line for line in lines)
    finally:
        runner.stop("nb-test")
    assert runner.status("nb-test") is None
    assert not Path(status.socket).exists()
    wait_for(lambda: not Path(f"/proc/{again}").exists(), "still running after stop")


def test_cpu_and_memory_bound_it_without_a_cgroup(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    (runtime / "jupyterlab").mkdir(parents=True)
    (runtime / "jupyterlab" / "__init__.py").write_text("")
    (runtime / "jupyterlab" / "__main__.py").write_text(FAKE)
    env = Environment("0" * 32, Path(sys.prefix), Path(sys.executable).parent, Path(sys.executable))
    work, run = tmp_path / "work", tmp_path / "run"
    work.mkdir()
    memory = 4 * 2**30
    spec = NotebookSpec("nb-lim", env, work, run, "t", None, "", {}, (), memory, 0.5)
    runner = LocalNotebooks(runtime, cgroups=False, backoff=(0.1, 0.2))
    said = runner.describe_limits(0.5, memory)
    assert said.startswith("cpu: 1 of the ") and "--cpu 0.5 is 1 (only whole CPUs)" in said
    assert "memory: 4Gi for each of its processes (RLIMIT_AS)" in said
    assert runner.describe_limits(None, None) == ""
    runner.start(spec, lambda line: None)
    try:
        wait_for(lambda: (s := runner.status("nb-lim")) is not None and s.ready, "never ready")
        seen = json.loads((run / "home" / "seen.json").read_text())
        assert seen["cpus"] == 1 and seen["rlimit_as"] == memory
    finally:
        runner.stop("nb-lim")
