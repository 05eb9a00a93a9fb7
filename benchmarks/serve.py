#!/usr/bin/env python3
"""Serving benchmark: the same sklearn digits model served by kaon, by `mlflow models serve` and
by a bare uvicorn app, in ONE run, under the same load.

The mnist template is trained through kaon (`kaon train deploy ... --wait`); its model.pkl is
fetched with `kaon train get -m`, and that one file is what all three servers load:

  * kaon: `kaon serve deploy -s templates/mnist/model-serve -m <model id>` (the gateway,
    `POST /<endpoint>/invocations` with `{"pixels": [64 numbers]}`);
  * a bare uvicorn app of a few lines (raw ASGI, uvloop + httptools, `model.predict` inline:
    the practical limit of a Python HTTP server here), same request body as kaon;
  * `mlflow models serve --env-manager local` of the model saved with `mlflow.sklearn`
    (`POST /invocations` with `{"inputs": [[64 numbers]]}`, its fastest input format).
The bare app and MLflow run in throw-away venvs built with uv (cached in benchmarks/.cache/),
pinned to the scikit-learn, numpy and scipy versions of the endpoint's own environment.

Load: wrk (C, one thread, HTTP/1.1 keep-alive), single-row JSON requests on loopback for
--seconds at concurrency 1, 8 and 32, after an untimed warm-up. wrk shares the machine's cores
with the server under test: its own CPU time per request is reported beside the server's,
with the share of the machine other processes took during the run. Before every run the
benchmark waits (--quiet-wait, 60 s at most) for the machine to be idle, and a run disturbed by
other processes (> 5% of all cores) is measured again (--noisy-retries, 2), the quietest kept.

Targets (PASS/FAIL):
  * kaon gateway, concurrency 8: >= 0.5 x the bare app's requests/s, p99 <= 10 ms;
  * kaon `--replicas 2 --batch 32/5ms`, concurrency 32: >= the bare app's requests/s;
  * deploy with the environment cached -> first 200 answer of the new endpoint <= 3 s (from
    the start of `kaon serve deploy` until a polled POST to its URL answers 200; every one of
    --deploy-repeat deploys).

Also measured (informational): the same endpoint deployed with `--auth`, every request with
`Authorization: Bearer <token>` (one token lookup and role check per request), against the
open one; `--auth-only` measures just these two (no bare app, MLflow or timed deploys).

Issue 16 (releases, protocols), sections beside the one above ("base"), each `--only`-able:
  * mlserver: the real MLServer (`mlserver` + `mlserver-sklearn` from PyPI, in a throw-away
    venv under .tools/venvs built with uv, never the project's env) serving the same sklearn
    estimator over OIP v2, against kaon's `/v2/models/<endpoint>/infer` with the same body, at
    concurrency 8: kaon >= 1.5x its req/s at <= its p99;
  * seldon: `POST /seldon/kubeflow/<endpoint>/api/v1.0/predictions` (a SeldonMessage ndarray)
    against kaon's own `/invocations` on the same endpoint, concurrency 8: >= 0.8x;
    both: the servers loaded in turn --pair-repeat times, ratios within each repeat,
    median [min-max], with each server's CPU per request (less disturbed by other work);
  * rolling: wrk at concurrency 8 for 20 s; 2 s in, a new version (same model) through
    `POST /v1/endpoints/<e>/versions`, waited until the traffic moved: 0 non-2xx answers and
    both versions seen (every answer counted by status and X-Kaon-Version), --release-repeat
    updates;
  * canary: a 10 % canary, then 10,000 requests counted by X-Kaon-Version: 10 +- 2 %,
    --release-repeat counts.
Issue 20: the seldon section also loads OIP v2 binary tensors (the tritonclient format) against
/invocations on the same endpoint, c=8: >= 1.0x; and
  * mlflow: the estimator saved with mlflow.sklearn.save_model, served by kaon with `kaon serve
    deploy --mlflow` (the generated pyfunc adapter, no model.py) against `mlflow models serve`
    of the same folder, same body, c=8, in turn --pair-repeat times: kaon >= 3x.

    uv run python benchmarks/serve.py [--seconds 10] [--deploy-repeat 3] [--no-mlflow] [--check]
    uv run python benchmarks/serve.py --only mlserver,seldon,rolling,canary --pair-repeat 3
    uv run python benchmarks/serve.py --only seldon,mlflow --pair-repeat 3
    uv run python benchmarks/serve.py --auth-only --concurrency 1,8,32

Exit code 0 unless --check is given and a target fails or a step fails (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import (
    kaon_exe,
    log,
    print_table,
    rmtree,
    server_pid,
    stop_server,
    terminate_as_exit,
    verdict,
)

HERE = Path(__file__).resolve().parent
GiB = 1024**3
CONCURRENCY = (1, 8, 32)
SHARE_C8 = 0.5  # kaon gateway req/s at concurrency 8, as a share of the bare app's
P99_C8 = 0.010  # s, kaon gateway p99 at concurrency 8
SHARE_C32 = 1.0  # kaon --replicas 2 --batch at concurrency 32, as a share of the bare app's
FIRST_200 = 3.0  # s, deploy (env cached) -> first 200
NOISY = 0.05  # share of all cores used by other processes that makes a run suspect
BATCH = "32/5ms"
REPLICAS = 2
# the reference figures "measured on this machine" (shown beside ours, never checked)
REF_BARE = "1,200-1,380 req/s"
REF_MLFLOW = "~50 req/s, p50 18 ms at concurrency 1"
JOB_TIMEOUT = 600.0  # s, per CLI command
START_TIMEOUT = 180.0  # s, for a server to answer its first request
POLL_EVERY = 0.01  # s, between polls of a new endpoint
# what kaon's replicas get (platform env); the bare app and MLflow get the same
THREADS_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
PINNED = ("scikit-learn", "numpy", "scipy")  # taken from the endpoint's lock
# issue 16: protocols and releases
SECTIONS = ("base", "mlserver", "seldon", "rolling", "canary", "mlflow")
SELDON_SHARE = 0.8  # Seldon predictions vs kaon's own /invocations, c=8, same endpoint
OIP_BINARY_SHARE = 1.0  # OIP v2 binary tensors vs kaon's own /invocations (issue 20)
MLSERVER_X = 1.5  # kaon OIP v2 req/s vs the real MLServer's (same model, same body), c=8
MLFLOW_X = 3.0  # the MLflow pyfunc model served by kaon (--mlflow) vs `mlflow models serve`, c=8
PAIR_CONC = 8
ROLL_SECONDS = 20  # wrk load around one rolling update
CANARY = 10  # %
CANARY_SLACK = 2  # percentage points
CANARY_REQUESTS = 10_000
# uvloop 0.22 breaks MLServer 1.7.1's inference workers ("There is no current event loop",
# SeldonIO/MLServer#2286, unfixed in a release): pinned below it, as MLflow does
MLSERVER = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22")

BARE_APP = """\
import json, os, pickle

import numpy as np

with open(os.environ["BENCH_MODEL"], "rb") as f:
    model = pickle.load(f)["model"]  # the same model.pkl kaon serves
HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send):
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    rows = json.loads(body)["pixels"]
    rows = rows if isinstance(rows[0], list) else [rows]
    labels = model.predict(np.asarray(rows, dtype=float)).tolist()
    out = json.dumps({"result": labels}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": out})
"""

SAVE_MLFLOW = """\
import pickle, sys

import mlflow.sklearn

with open(sys.argv[1], "rb") as f:
    mlflow.sklearn.save_model(pickle.load(f)["model"], sys.argv[2])
"""

# appended to a COPY of the template's serve module (never the template itself): the same
# predictions, one model.predict per batch; shows what --batch would give if the template
# opted in
PREDICT_BATCH = '''

def predict_batch(payloads, ctx):
    """Benchmark-only: many JSON payloads in one model.predict call."""
    if any(isinstance(p, (bytes, bytearray, memoryview)) for p in payloads):
        return [predict(p, ctx) for p in payloads]
    rows = [_json_rows(p, ctx["n_pixels"]) for p in payloads]
    labels = ctx["model"].predict(np.concatenate(rows))
    out, at = [], 0
    for r in rows:
        out.append({"result": [int(x) for x in labels[at : at + len(r)]]})
        at += len(r)
    return out
'''

SAVE_JOBLIB = """\
import pickle, sys

import joblib

with open(sys.argv[1], "rb") as f:
    joblib.dump(pickle.load(f)["model"], sys.argv[2])  # the estimator inside kaon's model.pkl
"""

# wrk Lua: count the answers by status class and by X-Kaon-Version (one wrk thread)
WRK_COUNT_SCRIPT = """\
local f = assert(io.open([==[{body}]==], "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  non2xx = 0
  seen = {{}}
end
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  local v = headers["x-kaon-version"] or headers["X-Kaon-Version"] or "-"
  seen[v] = (seen[v] or 0) + 1
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KAON_BENCH_WRK %d %d %d %d %d %d %d %.1f %.1f %.1f %.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
  for _, t in ipairs(threads) do
    io.write(string.format("KAON_BENCH_NON2XX %d\\n", t:get("non2xx")))
    for v, n in pairs(t:get("seen")) do
      io.write(string.format("KAON_BENCH_VERSION %s %d\\n", v, n))
    end
  end
end
"""

WRK_SCRIPT = """\
local f = assert(io.open([==[{body}]==], "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{content_type}"
{auth}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KAON_BENCH_WRK %d %d %d %d %d %d %d %.1f %.1f %.1f %.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


# ---------------------------------------------------------------------------------------
# small helpers


def fmt_s(s: float | None, digits: int = 2) -> str:
    return "n/a" if s is None else f"{s:.{digits}f} s"


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1000:.2f} ms" if s < 0.01 else f"{s * 1000:,.1f} ms"


def fmt_us(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1e6:,.0f} us"


def fmt_rps(r: float | None) -> str:
    return "n/a" if r is None else f"{r:,.0f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def median(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def base_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set by some shells and CI) would make every CLI start recompile
    # kaon's changed modules, and the throw-away venvs never keep bytecode: measure what
    # users see instead.
    drop = ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if not k.startswith("KAON_") and k not in drop}


def run(
    cmd: Sequence[str | Path],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = JOB_TIMEOUT,
) -> str:
    """An untimed helper command; its stdout."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return str(proc.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """One POST of a JSON body on a fresh connection: (status, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=timeout)
    try:
        conn.request("POST", u.path or "/", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# kaon


def kaon_env(home: Path, workspace: str | None = None) -> dict[str, str]:
    env = base_env()
    env["KAON_HOME"] = str(home)
    env["KAON_PORT"] = "0"  # a free port: never clash with another local server
    if workspace:
        env["KAON_WORKSPACE"] = workspace
    return env


def endpoint_url(doc: dict[str, Any]) -> str:
    url = str(doc["url"])
    return url if "://" in url else f"http://{url}"


def pins_of(lock: str) -> list[str]:
    """`name==version` of the PINNED packages in the endpoint's lock."""
    pins = []
    for name in PINNED:
        m = re.search(rf"^{re.escape(name)}==(\S+)", lock, re.MULTILINE)
        pins.append(f"{name}=={m.group(1)}" if m else name)
    return pins


# ---------------------------------------------------------------------------------------
# processes we start (the bare app, MLflow): own session, stopped by pid (process group)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""


def start_proc(
    name: str, cmd: Sequence[str | Path], env: dict[str, str], cwd: Path, log_path: Path
) -> Proc:
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            [str(c) for c in cmd],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )
    return Proc(name, popen, log_path)


def stop_proc(p: Proc | None) -> None:
    if p is None or p.popen.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.popen.pid, sig)  # the group of the process we started, by its pid
        try:
            p.popen.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_answer(url: str, body: bytes, proc: Proc | None, timeout: float = START_TIMEOUT) -> bytes:
    """POST until the server answers 200; its answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            status, out = post(url, body)
            if status == 200:
                return out
            last = f"HTTP {status}: {out[:300]!r}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    tail = proc.tail() if proc else ""
    raise RuntimeError(f"no 200 from {url} within {timeout:g} s ({last})\n{tail}")


# ---------------------------------------------------------------------------------------
# throw-away venvs (cached)


def uv_exe() -> Path | None:
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return beside
    found = shutil.which("uv") or (HERE.parent / ".venv" / "bin" / "uv")
    return Path(found) if Path(found).exists() else None


def ensure_venv(cache: Path, name: str, requirements: list[str]) -> Path:
    """A venv under `cache` with exactly `requirements` installed (rebuilt when they change);
    its python. Raises RuntimeError if it cannot be built."""
    venv = cache / name
    python = venv / "bin" / "python"
    marker = venv / "kaon-bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    rmtree(venv)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n")
    log(f"installing {' '.join(requirements)} into {venv} (once; cached for later runs)")
    uv = uv_exe()
    env = base_env()
    try:
        if uv:
            run([uv, "venv", "-q", "--python", sys.executable, venv], env=env)
            run([uv, "pip", "install", "-q", "--python", python, *requirements], env=env)
        else:
            run([sys.executable, "-m", "venv", venv], env=env)
            run([python, "-m", "pip", "install", "-q", *requirements], env=env)
    except (RuntimeError, OSError, subprocess.SubprocessError):
        rmtree(venv)
        raise
    marker.write_text(wanted)
    return python


def version_in(python: Path, module: str) -> str:
    with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
        code = f"import {module}; print({module}.__version__)"
        return run([python, "-c", code], env=base_env()).strip()
    return "?"


# ---------------------------------------------------------------------------------------
# load generation: wrk


def ensure_wrk() -> Path:
    found = shutil.which("wrk")
    if found:
        return Path(found)
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        log("wrk is missing: apt-get install -y wrk")
        env = base_env() | {"DEBIAN_FRONTEND": "noninteractive"}
        try:
            run([apt, "install", "-y", "wrk"], env=env)
        except RuntimeError:
            run([apt, "update"], env=env)
            run([apt, "install", "-y", "wrk"], env=env)
        found = shutil.which("wrk")
        if found:
            return Path(found)
    raise SystemExit("this benchmark needs wrk: `apt-get install wrk` (Debian/Ubuntu)")


def wrk_script(
    work: Path,
    name: str,
    body: bytes,
    token: str | None = None,
    counting: bool = False,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Path:
    """A wrk Lua script POSTing `body` (read from a file: no quoting issues), with a bearer
    token when given; `counting`: it also counts non-2xx answers and X-Kaon-Version values
    (parsed by `wrk_counts`; parsing every answer's headers costs wrk some CPU)."""
    body_file = work / f"{name}.json"
    body_file.write_bytes(body)
    script = work / f"{name}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    auth += "".join(f'\nwrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    text = (
        WRK_COUNT_SCRIPT.format(body=body_file)
        if counting
        else WRK_SCRIPT.format(body=body_file, auth=auth, content_type=content_type)
    )
    script.write_text(text)
    return script


def wrk_counts(raw: str) -> tuple[int, dict[str, int]]:
    """(non-2xx answers, answers per X-Kaon-Version) from a counting script's output."""
    non2xx = sum(int(n) for n in re.findall(r"^KAON_BENCH_NON2XX (\d+)", raw, re.MULTILINE))
    versions: dict[str, int] = {}
    for v, n in re.findall(r"^KAON_BENCH_VERSION (\S+) (\d+)", raw, re.MULTILINE):
        versions[v] = versions.get(v, 0) + int(n)
    return non2xx, versions


@dataclass
class Load:
    server: str
    concurrency: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0  # non-2xx answers, socket errors, timeouts
    p50: float | None = None  # s
    p99: float | None = None
    p999: float | None = None
    max: float | None = None
    front_cpu: float | None = None  # s of CPU: the HTTP server process (kaon: the gateway)
    back_cpu: float | None = None  # s of CPU: its children (kaon: the replicas)
    wrk_cpu: float | None = None  # s of CPU: wrk
    busy: float | None = None  # share of the machine's CPU in use during the run
    others: float | None = None  # share of the machine's CPU used by other processes
    repeats: list[float] = field(default_factory=list)  # req/s of every repetition
    raw: str = ""

    @property
    def rps(self) -> float | None:
        return self.requests / self.seconds if self.seconds else None

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.errors == 0

    def per_request(self, cpu: float | None) -> float | None:
        return cpu / self.requests if cpu is not None and self.requests else None


def tree_cpu(pid: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of process `pid` and of each of its descendants."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        own = t.user + t.system
        children = root.children(recursive=True)
    except psutil.Error:
        return 0.0, {}
    kids: dict[int, float] = {}
    for child in children:
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            kids[child.pid] = c.user + c.system
    return own, kids


def run_wrk(wrk: Path, url: str, script: Path, concurrency: int, seconds: int) -> tuple[str, float]:
    """wrk's output and its own CPU seconds (rusage of exactly that child)."""
    cmd = [
        str(wrk),
        "-t1",  # one thread: the other core belongs to the server
        f"-c{concurrency}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    with tempfile.TemporaryFile() as out:
        popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        killer = threading.Timer(seconds + 60, popen.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(popen.pid, 0)
        finally:
            killer.cancel()
        popen.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if popen.returncode != 0:
        raise RuntimeError(f"wrk failed ({popen.returncode}): {text.strip()[-1500:]}")
    return text, usage.ru_utime + usage.ru_stime


# --quiet-wait: s to wait for a quiet machine before a run; --noisy-retries: runs disturbed
# by other processes are measured again up to this many times
QUIET = {"wait": 60.0, "retries": 2}


def wait_quiet() -> None:
    """Before a run (servers idle): wait up to QUIET["wait"] s until the machine is < 10%
    busy for 1 s, so other work (tests, other benchmarks) does not distort the figures. The
    run goes ahead anyway after that; the OTHERS column shows what it shared the cores with."""
    if QUIET["wait"] <= 0:
        return
    deadline = time.monotonic() + QUIET["wait"]
    said = False
    while (busy := psutil.cpu_percent(interval=1.0)) >= 10.0 and time.monotonic() < deadline:
        if not said:
            log(f"machine {busy:.0f}% busy with other work: waiting up to {QUIET['wait']:g} s")
            said = True


def measure(
    wrk: Path,
    name: str,
    url: str,
    script: Path,
    concurrency: int,
    seconds: int,
    warmup: int,
    pid: int | None,
    quiet: bool = True,
) -> Load:
    if quiet:
        wait_quiet()
    if warmup > 0:
        run_wrk(wrk, url, script, concurrency, warmup)
    before = tree_cpu(pid) if pid else None
    machine0, wall0 = psutil.cpu_times(), time.monotonic()
    text, wrk_cpu = run_wrk(wrk, url, script, concurrency, seconds)
    machine1, wall1 = psutil.cpu_times(), time.monotonic()
    after = tree_cpu(pid) if pid else None
    load = Load(name, concurrency, raw=text, wrk_cpu=wrk_cpu)
    m = re.search(r"KAON_BENCH_WRK ((?:[\d.]+ ?){11})", text)
    if m is None:
        raise RuntimeError(f"no summary in wrk's output:\n{text[-1500:]}")
    n, duration, *errs = (int(float(x)) for x in m.group(1).split()[:7])
    p50, p99, p999, top = (float(x) / 1e6 for x in m.group(1).split()[7:])
    load.requests, load.seconds, load.errors = n, duration / 1e6, sum(errs)
    load.p50, load.p99, load.p999, load.max = p50, p99, p999, top
    if before is not None and after is not None:
        load.front_cpu = after[0] - before[0]
        load.back_cpu = sum(v - before[1].get(k, 0.0) for k, v in after[1].items())
    capacity = (wall1 - wall0) * (psutil.cpu_count() or 1)  # CPU-seconds of all cores
    idle = (machine1.idle + getattr(machine1, "iowait", 0.0)) - (
        machine0.idle + getattr(machine0, "iowait", 0.0)
    )
    if capacity > 0:
        used = max(0.0, capacity - idle)
        load.busy = min(1.0, used / capacity)
        ours = (load.front_cpu or 0.0) + (load.back_cpu or 0.0) + wrk_cpu
        load.others = max(0.0, used - ours) / capacity
    return load


def measure_quiet(*args: Any) -> Load:
    """`measure`, again (up to QUIET["retries"] times) while other processes took more than
    NOISY of the machine during the run; the quietest attempt."""
    best = measure(*args)
    for _ in range(int(QUIET["retries"])):
        if best.others is None or best.others <= NOISY:
            break
        log(f"other processes took {best.others:.0%} of the machine during the run: again")
        again = measure(*args)
        if again.others is not None and again.others < best.others:
            best = again
    return best


def measure_n(repeat: int, *args: Any) -> Load:
    """`measure` `repeat` times; the repetition with the median req/s (all req/s kept)."""
    loads = [measure_quiet(*args) for _ in range(max(1, repeat))]
    loads.sort(key=lambda x: x.rps or 0.0)
    chosen = loads[(len(loads) - 1) // 2]
    chosen.repeats = [x.rps or 0.0 for x in loads]
    return chosen


# ---------------------------------------------------------------------------------------
# the steps


@dataclass
class Results:
    loads: list[Load] = field(default_factory=list)
    deploys: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pairs: dict[str, list[Load]] = field(default_factory=dict)  # server -> one Load a repeat
    rolls: list[dict[str, Any]] = field(default_factory=list)  # one rolling update each
    canaries: list[dict[str, Any]] = field(default_factory=list)  # one 10,000-request count

    def load(self, server: str, concurrency: int) -> Load | None:
        for x in self.loads:
            if x.server == server and x.concurrency == concurrency:
                return x
        return None


@dataclass
class Setup:
    kaon: Path
    home: Path
    work: Path
    env: dict[str, str]
    model_id: str = ""
    model_pkl: Path = Path()
    serve_src: Path = Path()
    row: list[float] = field(default_factory=list)
    label: int | None = None


def train_model(s: Setup, res: Results) -> None:
    run([s.kaon, "workspace", "create", "-n", "bench"], env=kaon_env(s.home))
    run([s.kaon, "template", "get", "--name", "mnist"], env=s.env, cwd=s.work)
    tpl = s.work / "templates" / "mnist"
    s.serve_src = tpl / "model-serve"
    log("kaon train deploy (mnist template) --wait")
    t0 = time.monotonic()
    out = run(
        [
            s.kaon,
            "train",
            "deploy",
            "-s",
            tpl / "model-train",
            "-d",
            tpl / "data",
            "--wait",
            "--json",
        ],
        env=s.env,
        cwd=s.work,
    )
    res.values["train_seconds"] = time.monotonic() - t0
    job = json.loads(out)
    if job.get("state") != "JOB_SUCCESS":
        raise RuntimeError(f"training job {job.get('id')} ended {job.get('state')}")
    info = json.loads(run([s.kaon, "train", "info", "-j", job["id"], "--json"], env=s.env))
    s.model_id = info["trials"][0]["model_id"]
    res.values["model_id"] = s.model_id
    got = s.work / "model-get"
    run([s.kaon, "train", "get", "-j", job["id"], "-m", "-o", got], env=s.env, cwd=s.work)
    pkls = sorted(got.glob("*/*/models/*/model/model.pkl"))
    if not pkls:
        raise RuntimeError(f"`kaon train get -m` gave no model.pkl under {got}")
    s.model_pkl = pkls[0]
    res.values["model_pkl_bytes"] = s.model_pkl.stat().st_size
    # one real digit of the template's test set: the request body of every server
    with (tpl / "data" / "features" / "test" / "test.csv").open() as f:
        reader = csv.reader(f)
        next(reader)
        first = next(reader)
    s.label = int(float(first[0]))
    s.row = [int(float(v)) if float(v).is_integer() else float(v) for v in first[1:]]


def serve_deploy(
    s: Setup, source: Path, extra: Sequence[str], wait: bool
) -> tuple[dict[str, Any], float, float]:
    """`kaon serve deploy`; (endpoint JSON, epoch before start, epoch at exit)."""
    cmd: list[str | Path] = [s.kaon, "serve", "deploy", "-s", source, "-m", s.model_id]
    cmd += [*extra, "--json"]
    if wait:
        cmd.append("--wait")
    t0 = time.time()
    out = run(cmd, env=s.env, cwd=s.work)
    t1 = time.time()
    return json.loads(out), t0, t1


def first_200(url: str, body: bytes, timeout: float = 120.0) -> tuple[float, int]:
    """Poll `url` with `body` until it answers 200: (epoch of that answer, polls)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = post(url, body, timeout=10)
            if status == 200:
                return time.time(), polls
        time.sleep(POLL_EVERY)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")


def endpoint_doc(s: Setup, name: str) -> dict[str, Any]:
    for e in json.loads(run([s.kaon, "serve", "list", "--json"], env=s.env)):
        if e.get("name") == name:
            return dict(e)
    return {}


def replica_ready(s: Setup, name: str) -> float | None:
    """The slowest replica's own `ready in X s` (interpreter, imports, load_ctx)."""
    text = run([s.kaon, "serve", "logs", "-e", name], env=s.env)
    found = [float(x) for x in re.findall(r"ready in (\d+(?:\.\d+)?) s", text)]
    return max(found) if found else None


def timed_deploys(s: Setup, body: bytes, repeat: int, res: Results) -> dict[str, Any]:
    """`repeat` deploys of `--replicas 2 --batch 32/5ms` (env cached), each timed to its first
    200; all but the last are killed. Returns the last endpoint's JSON."""
    extra = ["--replicas", str(REPLICAS), "--batch", BATCH]
    last: dict[str, Any] = {}
    for i in range(repeat):
        doc, t0, t1 = serve_deploy(s, s.serve_src, extra, wait=False)
        answered, polls = first_200(endpoint_url(doc), body)
        after = endpoint_doc(s, doc["name"])
        sample = {
            "name": doc["name"],
            "first_200": answered - t0,
            "cli_exit": t1 - t0,  # start-up, upload, endpoint created
            "created": diff(after.get("created"), t0),
            "env_ready": diff(after.get("started"), t0),  # model, env check, commit
            "replica_ready": replica_ready(s, doc["name"]),
            "polls": polls,
        }
        res.deploys.append(sample)
        log(f"deploy {i + 1}/{repeat}: first 200 after {fmt_s(sample['first_200'])}")
        if i < repeat - 1:
            run([s.kaon, "serve", "kill", "-e", doc["name"], "-y"], env=s.env)
        last = after or doc
    return last


def batch_variant(s: Setup) -> Path:
    """A copy of the template's serve bundle whose module adds predict_batch."""
    dest = s.work / "serve-batch"
    shutil.copytree(s.serve_src, dest)
    module = next(dest.rglob("model.py"))
    if "def predict_batch" not in module.read_text():  # the template has its own since 2026-11
        module.write_text(module.read_text() + PREDICT_BATCH)
    return dest


def start_bare(s: Setup, python: Path, port: int) -> Proc:
    app_dir = s.work / "bare-app"
    app_dir.mkdir(exist_ok=True)
    (app_dir / "bare_app.py").write_text(BARE_APP)
    env = base_env() | THREADS_ENV | {"BENCH_MODEL": str(s.model_pkl)}
    cmd: list[str | Path] = [python, "-m", "uvicorn", "bare_app:app", "--app-dir", app_dir]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    cmd += ["--no-access-log"]
    return start_proc("bare uvicorn app", cmd, env, app_dir, s.work / "bare.log")


def mlflow_env(s: Setup, python: Path) -> dict[str, str]:
    env = base_env() | THREADS_ENV
    env["MLFLOW_TRACKING_URI"] = (s.work / "mlruns").as_uri()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # it runs `uvicorn`
    return env


def save_mlflow(s: Setup, python: Path) -> Path:
    """The model saved by mlflow.sklearn.save_model (once): what MLflow and kaon --mlflow serve."""
    model_dir = s.work / "mlflow-model"
    if not (model_dir / "MLmodel").is_file():
        (s.work / "save_mlflow.py").write_text(SAVE_MLFLOW)
        env = mlflow_env(s, python)
        run([python, s.work / "save_mlflow.py", s.model_pkl, model_dir], env=env, cwd=s.work)
    return model_dir


def start_mlflow(s: Setup, python: Path, port: int) -> Proc:
    model_dir = save_mlflow(s, python)
    env = mlflow_env(s, python)
    cmd: list[str | Path] = [python.parent / "mlflow", "models", "serve", "-m", model_dir]
    cmd += ["-h", "127.0.0.1"]
    cmd += ["-p", str(port), "--env-manager", "local"]
    return start_proc("mlflow models serve", cmd, env, s.work, s.work / "mlflow.log")


def digit(answer: bytes) -> int | None:
    """The digit in an answer: kaon's {"result": [d]}, MLflow's {"predictions": [d]}, OIP's
    {"outputs": [{"data": [d]}]}, Seldon's {"data": {"ndarray": ...}} or {"jsonData": ...}."""
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        return first_number(json.loads(answer))
    return None


def first_number(doc: Any) -> int | None:
    if isinstance(doc, bool):
        return None
    if isinstance(doc, int | float):
        return int(doc)
    if isinstance(doc, list):
        return first_number(doc[0]) if doc else None
    if isinstance(doc, dict):
        for key in ("result", "predictions", "outputs", "data", "ndarray", "jsonData"):
            if key in doc:
                return first_number(doc[key])
        tensor = doc.get("tensor")
        if isinstance(tensor, dict):
            return first_number(tensor.get("values"))
    return None


# ---------------------------------------------------------------------------------------
# issue 16: the real MLServer and the Seldon protocol against kaon (c, d); a rolling update
# under load and a canary's split (a, b)


def oip_body(row: list[float]) -> bytes:
    """An Open Inference Protocol v2 request of one row (MLServer and kaon get this body)."""
    tensor = {"name": "pixels", "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return json.dumps({"inputs": [tensor]}).encode()


def oip_binary_body(row: list[float]) -> tuple[bytes, int]:
    """The same request as oip_body in the binary tensor extension, as tritonclient sends it
    by default (FP64 bytes after the JSON header, binary outputs asked): (body, header size)."""
    tensor = {
        "name": "pixels",
        "shape": [1, len(row)],
        "datatype": "FP64",
        "parameters": {"binary_data_size": 8 * len(row)},
    }
    header = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}})
    return header.encode() + struct.pack(f"<{len(row)}d", *row), len(header.encode())


def seldon_body(row: list[float]) -> bytes:
    """A SeldonMessage of one row, as `SeldonClient.predict(data=np.array([row]))` sends it."""
    return json.dumps({"data": {"names": [], "ndarray": [row]}}).encode()


def gateway_of(url: str) -> str:
    """`http://host:port` of an endpoint's URL: the platform's gateway."""
    u = urllib.parse.urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


def start_mlserver(s: Setup, python: Path, port: int) -> Proc:
    """`mlserver start` of the sklearn estimator inside kaon's model.pkl (saved with joblib,
    as mlserver-sklearn loads it): default settings (1 parallel inference worker) but
    `debug: false` (no per-request debug logging: its fastest configuration)."""
    folder = s.work / "mlserver"
    folder.mkdir(exist_ok=True)
    env = base_env() | THREADS_ENV
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    (s.work / "save_joblib.py").write_text(SAVE_JOBLIB)
    run([python, s.work / "save_joblib.py", s.model_pkl, folder / "model.joblib"], env=env)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": "digits",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(model))
    cmd: list[str | Path] = [python.parent / "mlserver", "start", folder]
    return start_proc("mlserver start", cmd, env, folder, s.work / "mlserver.log")


def measure_pairs(
    args: argparse.Namespace,
    wrk: Path,
    res: Results,
    runs: Sequence[tuple[str, str, Path, int | None]],
) -> None:
    """Load each (label, url, wrk script, pid of its server) in turn at concurrency 8,
    --pair-repeat times, the order reversed every other repeat; each load is kept under its
    label in `res.pairs` (ratios are taken within a repeat)."""
    for i in range(max(1, args.pair_repeat)):
        for label, url, script, proc_pid in runs if i % 2 == 0 else runs[::-1]:
            x = measure_quiet(
                wrk, label, url, script, PAIR_CONC, args.seconds, args.warmup, proc_pid
            )
            res.pairs.setdefault(label, []).append(x)
            res.loads.append(x)
            log(
                f"{LABELS.get(label, label)}, c={PAIR_CONC} (repeat {i + 1}): "
                f"{fmt_rps(x.rps)} req/s, p99 {fmt_ms(x.p99)}"
            )


def protocol_pairs(
    args: argparse.Namespace,
    s: Setup,
    wrk: Path,
    res: Results,
    ep: dict[str, Any],
    sections: set[str],
    answers: dict[str, int | None],
) -> None:
    """(c) Seldon predictions vs kaon's own /invocations and (d) kaon's OIP v2 vs the real
    MLServer, at concurrency 8 on the endpoint `ep` (1 replica): the servers are loaded in
    turn, --pair-repeat times (the order reversed every other repeat), and each repeat's
    ratio is taken within that repeat."""
    kaon_url = endpoint_url(ep)
    gateway, name = gateway_of(kaon_url), ep["name"]
    pid = server_pid(s.home)
    row_oip = oip_body(s.row)
    runs: list[tuple[str, str, Path, int | None]] = []
    ml_proc: Proc | None = None
    try:
        if "mlserver" in sections:
            pins = pins_of(str((ep.get("env") or {}).get("lock", "")))
            try:
                py = ensure_venv(args.tools_venvs, "bench-mlserver", [*pins, *MLSERVER])
                res.values["mlserver_versions"] = (
                    f"mlserver {version_in(py, 'mlserver')}, {' '.join(pins)}"
                )
                port = free_port()
                ml_proc = start_mlserver(s, py, port)
                ml_url = f"http://127.0.0.1:{port}/v2/models/digits/infer"
                answers["mlserver"] = digit(wait_answer(ml_url, row_oip, ml_proc))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                res.notes.append(f"MLServer n/a: {str(exc).strip().splitlines()[0][:300]}")
                log(f"MLServer n/a: {exc}")
                stop_proc(ml_proc)
                ml_proc = None
            if ml_proc is not None:
                oip_lua = wrk_script(s.work, "oip", row_oip)
                oip_url = f"{gateway}/v2/models/{name}/infer"
                answers["kaon OIP v2"] = digit(wait_answer(oip_url, row_oip, None, 30.0))
                runs += [
                    ("mlserver", ml_url, oip_lua, ml_proc.popen.pid),
                    ("kaon-oip", oip_url, oip_lua, pid),
                ]
        if "seldon" in sections:
            inv_body = json.dumps({"pixels": s.row}).encode()
            body = seldon_body(s.row)
            url = f"{gateway}/seldon/kubeflow/{name}/api/v1.0/predictions"
            try:
                answers["kaon Seldon"] = digit(wait_answer(url, body, None, 30.0))
            except RuntimeError as exc:
                res.notes.append(f"Seldon route n/a: {str(exc).strip().splitlines()[0][:300]}")
                log(f"Seldon route n/a: {exc}")
            else:
                bin_body, bin_header = oip_binary_body(s.row)
                bin_lua = wrk_script(
                    s.work,
                    "oip-bin",
                    bin_body,
                    headers={"Inference-Header-Content-Length": str(bin_header)},
                    content_type="application/octet-stream",
                )
                runs += [
                    ("kaon-inv", kaon_url, wrk_script(s.work, "inv", inv_body), pid),
                    ("kaon-seldon", url, wrk_script(s.work, "seldon", body), pid),
                    ("kaon-oip-bin", f"{gateway}/v2/models/{name}/infer", bin_lua, pid),
                ]
        measure_pairs(args, wrk, res, runs)
    finally:
        stop_proc(ml_proc)


def mlflow_pairs(
    args: argparse.Namespace,
    s: Setup,
    wrk: Path,
    res: Results,
    ep: dict[str, Any],
    answers: dict[str, int | None],
) -> None:
    """(e, issue 20) the MLflow pyfunc model (mlflow.sklearn.save_model of the same estimator)
    served by kaon with `kaon serve deploy --mlflow` (no model.py: the generated adapter calls
    mlflow.pyfunc) against `mlflow models serve` of the same folder, both with
    {"inputs": [[64 numbers]]}, at concurrency 8, in turn --pair-repeat times."""
    pins = pins_of(str((ep.get("env") or {}).get("lock", "")))
    proc: Proc | None = None
    body = json.dumps({"inputs": [s.row]}).encode()
    try:
        py = ensure_venv(args.cache_dir, "serve-mlflow-venv", [*pins, "mlflow"])
        res.values["mlflow_pair_versions"] = f"mlflow {version_in(py, 'mlflow')}"
        model_dir = save_mlflow(s, py)
        log("kaon serve deploy --mlflow (1 replica) --wait: the pyfunc model, no model.py")
        cmd: list[str | Path] = [s.kaon, "serve", "deploy", "--mlflow", model_dir]
        mep = json.loads(run([*cmd, "--json", "--wait"], env=s.env, cwd=s.work))
        kaon_url = endpoint_url(mep)
        answers["kaon --mlflow"] = digit(wait_answer(kaon_url, body, None))
        port = free_port()
        proc = start_mlflow(s, py, port)
        ml_url = f"http://127.0.0.1:{port}/invocations"
        answers["mlflow (pair)"] = digit(wait_answer(ml_url, body, proc))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        res.notes.append(f"MLflow pair n/a: {str(exc).strip().splitlines()[0][:300]}")
        log(f"MLflow pair n/a: {exc}")
        stop_proc(proc)
        return
    try:
        lua = wrk_script(s.work, "mlflow-pair", body)
        runs = [
            ("kaon-mlflow", kaon_url, lua, server_pid(s.home)),
            ("mlflow-pair", ml_url, lua, proc.popen.pid),
        ]
        measure_pairs(args, wrk, res, runs)
    finally:
        stop_proc(proc)
        run([s.kaon, "serve", "kill", "-e", mep["name"], "-y"], env=s.env)


def api(s: Setup, method: str, path: str, doc: Any = None) -> Any:
    """A call of the platform's REST API with the admin token: its JSON answer."""
    server = json.loads((s.home / "server.json").read_text())
    token = (s.home / "token").read_text().strip()
    u = urllib.parse.urlsplit(str(server["url"]))
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = None if doc is None else json.dumps(doc).encode()
        conn.request(method, path, body, headers)
        resp = conn.getresponse()
        out = resp.read()
    finally:
        conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status} {out[:500]!r}")
    return json.loads(out) if out else None


def update_release(
    s: Setup, release: str, version: str, canary: int | None = None, timeout: float = 120.0
) -> float:
    """A new version of `release` (`POST /v1/endpoints/<release>/versions`, what `kaon serve
    update` sends: same model, label `version`), waited for until the traffic moved to it
    (all of it, or `canary` %): the wall time."""
    t0 = time.monotonic()
    doc: dict[str, Any] = {"model_id": s.model_id, "version": version}
    if canary is not None:
        doc["canary"] = canary
    api(s, "POST", f"/v1/endpoints/{release}/versions", doc)
    want = 100 if canary is None else canary
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        info = api(s, "GET", f"/v1/endpoints/{release}/release")
        if (info.get("traffic") or {}).get(version) == want:
            return time.monotonic() - t0
        states = {v["version"]: v["state"] for v in info.get("versions") or []}
        if states.get(version) in ("PIPELINE_FAILURE", "FAILURE", "KILLED"):
            raise RuntimeError(f"version {version} of {release} is {states[version]}")
        time.sleep(0.05)
    raise RuntimeError(f"traffic of {release} did not move to {version} within {timeout:g} s")


def rolling_updates(
    args: argparse.Namespace,
    s: Setup,
    wrk: Path,
    res: Results,
    release: str,
    url: str,
    body: bytes,
) -> None:
    """(a) wrk at concurrency 8 for ROLL_SECONDS on the release's URL; 2 s in, a rolling
    update to a new version (same model, new label) with --wait. Every answer is counted by
    status and X-Kaon-Version; --release-repeat updates, one wrk run each."""
    script = wrk_script(s.work, "rolling", body, counting=True)
    pid = server_pid(s.home)
    for i in range(max(1, args.release_repeat)):
        version = f"r{i + 1}"
        wait_quiet()
        box: dict[str, Any] = {}

        def load(box: dict[str, Any] = box) -> None:
            try:
                box["load"] = measure(
                    wrk, "kaon-rolling", url, script, 8, ROLL_SECONDS, 0, pid, False
                )
            except (RuntimeError, OSError) as exc:
                box["error"] = exc

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(2.0)
        try:
            took = update_release(s, release, version)
        finally:
            loader.join()
        if "error" in box:
            raise RuntimeError(f"wrk during the rolling update: {box['error']}")
        x: Load = box["load"]
        non2xx, versions = wrk_counts(x.raw)
        sample = {
            "version": version,
            "update_s": took,
            "requests": x.requests,
            "non2xx": non2xx,
            "errors": x.errors,  # wrk's: socket errors, timeouts and >= 400
            "versions": versions,
            "rps": x.rps,
            "p99": x.p99,
            "max": x.max,
        }
        res.rolls.append(sample)
        res.loads.append(x)
        log(
            f"rolling update to {version} under load: {x.requests:,} answers, {non2xx} non-2xx, "
            f"{x.errors} wrk errors, versions {versions}, update took {took:.1f} s"
        )


def count_versions(url: str, body: bytes, total: int, concurrency: int) -> dict[str, int]:
    """`total` POSTs over `concurrency` keep-alive connections: answers per X-Kaon-Version
    (non-2xx answers counted under "status <code>")."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    left = [total]
    u = urllib.parse.urlsplit(url)

    def worker() -> None:
        conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)
        try:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                conn.request("POST", u.path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                key = (
                    resp.getheader("x-kaon-version") or "-"
                    if 200 <= resp.status < 300
                    else f"status {resp.status}"
                )
                with lock:
                    counts[key] = counts.get(key, 0) + 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return counts


def canary_split(
    args: argparse.Namespace,
    s: Setup,
    res: Results,
    release: str,
    url: str,
    body: bytes,
) -> None:
    """(b) `update --canary CANARY` to version `canary`, then --release-repeat counts of
    CANARY_REQUESTS answers by X-Kaon-Version; the canary is rolled back at the end."""
    took = update_release(s, release, "canary", CANARY)
    res.values["canary_update_s"] = took
    for i in range(max(1, args.release_repeat)):
        t0 = time.monotonic()
        counts = count_versions(url, body, CANARY_REQUESTS, PAIR_CONC)
        seconds = time.monotonic() - t0
        answered = sum(n for k, n in counts.items() if not k.startswith("status"))
        share = counts.get("canary", 0) / answered if answered else None
        res.canaries.append(
            {"counts": counts, "share": share, "seconds": seconds, "answered": answered}
        )
        log(f"canary split {i + 1}: {counts} ({'n/a' if share is None else f'{share:.2%}'})")


def releases(
    args: argparse.Namespace, s: Setup, wrk: Path, res: Results, sections: set[str]
) -> None:
    """(a) and (b) on an endpoint deployed here (1 replica): its name is its release's."""
    body = json.dumps({"pixels": s.row}).encode()
    ep, _, _ = serve_deploy(s, s.serve_src, [], wait=True)
    release = str(ep["name"])
    url = endpoint_url(ep)
    wait_answer(url, body, None, 30.0)
    steps = [("rolling", rolling_updates, (wrk,)), ("canary", canary_split, ())]
    try:
        for section, step, extra in steps:
            if section not in sections:
                continue
            try:
                step(args, s, *extra, res, release, url, body)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                res.notes.append(f"{section} n/a: {str(exc).strip().splitlines()[0][:300]}")
                log(f"{section} n/a: {exc}")
    finally:
        run([s.kaon, "serve", "kill", "-e", release, "-y"], env=s.env)


def fmt_range(xs: Sequence[float | None], spec: str = ".2f", unit: str = "x") -> str:
    """`median [min-max]` of the values."""
    vals = sorted(x for x in xs if x is not None)
    if not vals:
        return "n/a"
    mid = statistics.median(vals)
    if len(vals) == 1:
        return f"{mid:{spec}}{unit}"
    return f"{mid:{spec}}{unit} [{vals[0]:{spec}}-{vals[-1]:{spec}}]"


# ---------------------------------------------------------------------------------------
# report


@dataclass
class Check:
    name: str
    kaon: str
    detail: str
    target: str
    ok: bool | None  # None: could not be measured


def release_checks(res: Results, sections: set[str]) -> list[Check]:
    """The checks of issue 16's sections that were asked for."""
    checks: list[Check] = []

    def pairs(a: str, b: str) -> list[tuple[Load, Load]]:
        return list(zip(res.pairs.get(a, []), res.pairs.get(b, []), strict=False))

    def rps(xs: Sequence[Load]) -> str:
        return fmt_rps(median([x.rps for x in xs]))

    def p99(xs: Sequence[Load]) -> float | None:
        return median([x.p99 for x in xs])

    def cpu(x: Load) -> float | None:
        """The server's CPU per request (its process and its children: replicas, workers)."""
        if x.front_cpu is None or not x.requests:
            return None
        return (x.front_cpu + (x.back_cpu or 0.0)) / x.requests

    def cpu_text(pl: list[tuple[Load, Load]], a: str, b: str) -> str:
        """`; CPU/req a X vs b Y -> b/a ratio` (less disturbed by other work than req/s)."""
        ca, cb = median([cpu(x) for x, _ in pl]), median([cpu(y) for _, y in pl])
        shares = [ratio(cpu(y), cpu(x)) for x, y in pl]
        return f"; CPU/req {a} {fmt_us(ca)} vs {b} {fmt_us(cb)} -> {fmt_range(shares)}"

    def share_check(
        title: str, keys: tuple[str, str], names: tuple[str, str], other: str, target: float
    ) -> Check:
        """req/s of `keys[0]` over `keys[1]` (pairs of the same run) against `target`."""
        pl = pairs(*keys)
        ours, theirs = [a for a, _ in pl], [b for _, b in pl]
        shares = [ratio(a.rps, b.rps) for a, b in pl]
        mid = median(shares)
        return Check(
            f"{title}, c={PAIR_CONC}",
            f"{rps(ours)} req/s, p99 {fmt_ms(p99(ours))}",
            f"{other} {rps(theirs)} req/s, p99 {fmt_ms(p99(theirs))}; ratio "
            f"{fmt_range(shares)} ({len(pl)} repeats)" + cpu_text(pl, *names),
            f">= {target:g}x",
            None if mid is None else all(a.ok and b.ok for a, b in pl) and mid >= target,
        )

    if "mlserver" in sections:
        pl = pairs("kaon-oip", "mlserver")
        kaon, ml = [k for k, _ in pl], [m for _, m in pl]
        shares = [ratio(k.rps, m.rps) for k, m in pl]
        p99s = [ratio(k.p99, m.p99) for k, m in pl]
        ok = None
        if pl:
            mid, kp, mp = median(shares), p99(kaon), p99(ml)
            ok = all(k.ok and m.ok for k, m in pl) and mid is not None and mid >= MLSERVER_X
            ok = ok and kp is not None and mp is not None and kp <= mp
        checks.append(
            Check(
                f"kaon OIP v2 vs the real MLServer, c={PAIR_CONC}",
                f"{rps(kaon)} req/s, p99 {fmt_ms(p99(kaon))}",
                f"MLServer {rps(ml)} req/s, p99 {fmt_ms(p99(ml))}; req/s ratio "
                f"{fmt_range(shares)}, p99 ratio {fmt_range(p99s)} ({len(pl)} repeats)"
                + cpu_text(pl, "kaon", "MLServer"),
                f">= {MLSERVER_X:g}x its req/s at <= its p99",
                ok,
            )
        )
    if "seldon" in sections:
        checks.append(
            share_check(
                "Seldon predictions vs kaon /invocations",
                ("kaon-seldon", "kaon-inv"),
                ("Seldon", "/invocations"),
                "/invocations",
                SELDON_SHARE,
            )
        )
        checks.append(
            share_check(
                "OIP v2 binary tensors vs kaon /invocations",
                ("kaon-oip-bin", "kaon-inv"),
                ("OIP binary", "/invocations"),
                "/invocations",
                OIP_BINARY_SHARE,
            )
        )
    if "mlflow" in sections:
        checks.append(
            share_check(
                "MLflow pyfunc: kaon --mlflow vs mlflow models serve",
                ("kaon-mlflow", "mlflow-pair"),
                ("kaon", "MLflow"),
                "MLflow",
                MLFLOW_X,
            )
        )
    if "rolling" in sections:
        rolls = res.rolls
        bad = sum(r["non2xx"] + r["errors"] for r in rolls)
        answered = sum(r["requests"] for r in rolls)
        # the update must have happened inside the window: both versions answered
        moved = all(len([v for v in r["versions"] if v != "-"]) >= 2 for r in rolls)
        checks.append(
            Check(
                f"rolling update under load (wrk c=8, {ROLL_SECONDS} s)",
                f"{bad} non-2xx or failed of {answered:,}",
                f"{len(rolls)} updates; update --wait took "
                f"{fmt_range([r['update_s'] for r in rolls], '.1f', ' s')}; answers per "
                f"version {'; '.join(str(r['versions']) for r in rolls)}"
                + ("" if moved else " (NOT both versions seen)"),
                "0 non-2xx",
                None if not rolls else bad == 0 and moved,
            )
        )
    if "canary" in sections:
        cs = res.canaries
        shares = [c["share"] * 100 if c["share"] is not None else None for c in cs]
        lo, hi = CANARY - CANARY_SLACK, CANARY + CANARY_SLACK
        ok = None
        if cs:
            ok = all(x is not None and lo <= x <= hi for x in shares) and all(
                not k.startswith("status") for c in cs for k in c["counts"]
            )
        checks.append(
            Check(
                f"canary {CANARY}%: split over {CANARY_REQUESTS:,} requests",
                fmt_range(shares, ".2f", " %"),
                f"{len(cs)} counts: {'; '.join(str(c['counts']) for c in cs)}",
                f"{lo}-{hi} %",
                ok,
            )
        )
    return checks


def build_checks(res: Results) -> list[Check]:
    checks: list[Check] = []
    sections = set(res.values.get("sections") or SECTIONS)
    if "base" not in sections:
        return release_checks(res, sections)
    bare8, kaon8, ml8 = res.load("bare", 8), res.load("kaon", 8), res.load("mlflow", 8)
    share = ratio(kaon8.rps, bare8.rps) if kaon8 and bare8 else None
    vs_ml = ratio(kaon8.rps, ml8.rps) if kaon8 and ml8 else None
    valid8 = bool(kaon8 and bare8 and kaon8.ok and bare8.ok)
    checks.append(
        Check(
            "kaon gateway, c=8: req/s vs the bare app",
            f"{fmt_rps(kaon8.rps if kaon8 else None)} req/s",
            f"bare {fmt_rps(bare8.rps if bare8 else None)} req/s -> "
            f"{'n/a' if share is None else f'{share:.2f}x'}; "
            f"{'MLflow n/a' if vs_ml is None else f'{vs_ml:.1f}x MLflow'}",
            f">= {SHARE_C8:.2f}x bare",
            None if share is None else valid8 and share >= SHARE_C8,
        )
    )
    checks.append(
        Check(
            "kaon gateway, c=8: p99 latency",
            fmt_ms(kaon8.p99 if kaon8 else None),
            f"p50 {fmt_ms(kaon8.p50 if kaon8 else None)}; bare p99 "
            f"{fmt_ms(bare8.p99 if bare8 else None)}",
            f"<= {P99_C8 * 1000:g} ms",
            None if not kaon8 or kaon8.p99 is None else kaon8.ok and kaon8.p99 <= P99_C8,
        )
    )
    bare32, rb32 = res.load("bare", 32), res.load("kaon-r2-batch", 32)
    share32 = ratio(rb32.rps, bare32.rps) if rb32 and bare32 else None
    batching = res.values.get("batch_applied")
    how = "batching applied" if batching else "--batch IGNORED (module has no predict_batch)"
    checks.append(
        Check(
            f"kaon --replicas {REPLICAS} --batch {BATCH}, c=32: req/s vs bare",
            f"{fmt_rps(rb32.rps if rb32 else None)} req/s",
            f"bare {fmt_rps(bare32.rps if bare32 else None)} -> "
            f"{'n/a' if share32 is None else f'{share32:.2f}x'}; {how}",
            f">= {SHARE_C32:.2f}x bare",
            None
            if share32 is None
            else bool(rb32 and bare32 and rb32.ok and bare32.ok) and share32 >= SHARE_C32,
        )
    )
    firsts = [d["first_200"] for d in res.deploys]
    worst = max(firsts) if firsts else None
    checks.append(
        Check(
            "serve deploy (env cached) -> first 200",
            f"max {fmt_s(worst)}, median {fmt_s(median(firsts))}",
            f"{len(firsts)} deploys --replicas {REPLICAS} --batch {BATCH}",
            f"<= {FIRST_200:g} s each",
            None if worst is None else worst <= FIRST_200,
        )
    )
    return checks + release_checks(res, sections)


LABELS = {
    "bare": "bare uvicorn app",
    "mlflow": "mlflow models serve",
    "mlflow-df": "mlflow, dataframe_split",
    "kaon": "kaon gateway, 1 replica",
    "kaon-r2-batch": f"kaon --replicas {REPLICAS} --batch {BATCH}",
    "kaon-r2-pb": f"kaon r{REPLICAS} --batch, predict_batch copy",
    "kaon-auth": "kaon gateway, 1 replica, --auth",
    "mlserver": "MLServer (mlserver-sklearn), OIP v2",
    "kaon-oip": "kaon gateway, 1 replica, OIP v2",
    "kaon-inv": "kaon gateway, 1 replica, /invocations",
    "kaon-seldon": "kaon gateway, 1 replica, Seldon",
    "kaon-oip-bin": "kaon gateway, 1 replica, OIP v2 binary",
    "kaon-rolling": "kaon gateway, rolling update",
    "kaon-mlflow": "kaon --mlflow (pyfunc), 1 replica",
    "mlflow-pair": "mlflow models serve (pyfunc pair)",
}


def load_rows(res: Results) -> list[list[str]]:
    rows = []
    for x in res.loads:
        front, back = x.per_request(x.front_cpu), x.per_request(x.back_cpu)
        if x.server.startswith("kaon"):
            cpu = f"{fmt_us(front)} gw + {fmt_us(back)} rep"
        elif x.server.startswith(("mlflow", "mlserver")):  # + its worker processes
            cpu = fmt_us(None if front is None else front + (back or 0.0))
        else:
            cpu = fmt_us(front)
        rows.append(
            [
                LABELS.get(x.server, x.server),
                str(x.concurrency),
                fmt_rps(x.rps),
                fmt_ms(x.p50),
                fmt_ms(x.p99),
                fmt_ms(x.max),
                str(x.errors) if x.errors else "0",
                cpu,
                fmt_us(x.per_request(x.wrk_cpu)),
                "n/a" if x.busy is None else f"{x.busy:.0%}",
                "n/a" if x.others is None else f"{x.others:.0%}",
            ]
        )
    return rows


def info_rows(res: Results) -> list[list[str]]:
    v = res.values.get

    def m(key: str) -> float | None:
        return median([d.get(key) for d in res.deploys])

    bare1, ml1 = res.load("bare", 1), res.load("mlflow", 1)
    base = "base" in (res.values.get("sections") or SECTIONS)
    rows = [
        [
            "deploy -> first 200, where the time goes (median)",
            f"CLI exit {fmt_s(m('cli_exit'))} (start-up, bundle upload, endpoint created "
            f"at {fmt_s(m('created'))}); environment ready {fmt_s(m('env_ready'))} (bundle and "
            f"model composed, env check, served files committed); replica ready in "
            f"{fmt_s(m('replica_ready'))} (its own log: interpreter, imports, load_ctx); "
            f"first 200 {fmt_s(m('first_200'))}",
        ],
        [
            "first deploy (untimed warm-up, builds the env)",
            f"{fmt_s(v('warmup_deploy'))} with --wait (env built: {v('warmup_env_built')})",
        ],
        ["batching", str(v("batch_note") or "n/a")],
        [
            "same model, same answer",
            f"{v('answers')} (test row label {v('label')}); model.pkl "
            f"{v('model_pkl_bytes') or 0:,} bytes from `kaon train get -m`",
        ],
        [
            "issue's reference figures",
            f"bare uvicorn {REF_BARE}, MLflow {REF_MLFLOW}; measured now: bare "
            f"{fmt_rps(bare1.rps if bare1 else None)} req/s at c=1, MLflow "
            f"{fmt_rps(ml1.rps if ml1 else None)} req/s, p50 "
            f"{fmt_ms(ml1.p50 if ml1 else None)} at c=1",
        ],
        ["versions", str(v("versions") or "n/a")],
        [
            "load generator",
            "wrk -t1 (C, epoll, keep-alive), same 2 cores as the server: its CPU per request is "
            "the 'wrk CPU/req' column; 'busy' = share of all cores in use during the run, "
            "'others' = the share used by processes other than the server and wrk",
        ],
    ]
    if not base:  # the wave-1 comparison did not run: keep only what applies
        shown = ("first deploy", "same model", "load generator")
        rows = [r for r in rows if r[0].startswith(shown)]
    noisy = [x for x in res.loads if x.others is not None and x.others > NOISY]
    if noisy:
        worst = max(x.others or 0.0 for x in noisy)
        rows.append(
            [
                "WARNING: machine not quiet",
                f"other processes used up to {worst:.0%} of all cores during {len(noisy)} of "
                f"{len(res.loads)} runs: those figures are disturbed, rerun on a quiet machine",
            ]
        )
    for c in sorted({x.concurrency for x in res.loads if x.server == "kaon-auth"}):
        open_, guarded = res.load("kaon", c), res.load("kaon-auth", c)
        share = ratio(guarded.rps, open_.rps) if open_ and guarded else None
        rows.append(
            [
                f"--auth endpoint vs open, c={c}",
                f"{fmt_rps(guarded.rps if guarded else None)} vs "
                f"{fmt_rps(open_.rps if open_ else None)} req/s -> "
                f"{'n/a' if share is None else f'{share:.2f}x'}; p50 "
                f"{fmt_ms(guarded.p50 if guarded else None)} vs "
                f"{fmt_ms(open_.p50 if open_ else None)}",
            ]
        )
    if v("mlserver_versions"):
        rows.append(["MLServer", f"{v('mlserver_versions')}; settings: defaults, debug false"])
    inv, ml = res.pairs.get("kaon-inv", []), res.pairs.get("mlserver", [])
    if inv and ml:
        shares = [ratio(a.rps, b.rps) for a, b in zip(inv, ml, strict=False)]
        rows.append(["kaon /invocations vs MLServer OIP v2, c=8", fmt_range(shares)])
    for r in res.rolls:
        rows.append(
            [
                f"rolling update to {r['version']}",
                f"{r['requests']:,} answers at {fmt_rps(r['rps'])} req/s, p99 "
                f"{fmt_ms(r['p99'])}, max {fmt_ms(r['max'])}; update --wait {r['update_s']:.1f} s",
            ]
        )
    if v("canary_update_s") is not None:
        rows.append(["update --canary --wait", fmt_s(v("canary_update_s"))])
    rows += [["note", n] for n in res.notes]
    return rows


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="kaon serving benchmark (kaon vs MLflow vs a bare uvicorn app)."
    )
    p.add_argument("--seconds", type=int, default=10, help="timed load per run (whole s)")
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed load before each run (whole s, 0: none)"
    )
    p.add_argument(
        "--concurrency",
        default=",".join(map(str, CONCURRENCY)),
        help="comma-separated connection counts (8 and 32 are needed by the checks)",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="runs per server and concurrency (median kept)"
    )
    p.add_argument("--deploy-repeat", type=int, default=3, help="timed deploys (env cached)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="s to wait before each run for other work on the machine to stop (0: never)",
    )
    p.add_argument(
        "--noisy-retries",
        type=int,
        default=2,
        help="measure a run again when other processes took > "
        + f"{NOISY * 100:.0f}%% of the machine",
    )
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help="comma-separated sections to run: base (bare app, MLflow, kaon, --auth, deploys), "
        "mlserver (kaon OIP v2 vs the real MLServer), seldon (Seldon and OIP v2 binary vs /invocations), "
        "rolling (update under load), canary (the 10%% split), mlflow (kaon --mlflow vs "
        "mlflow models serve, the same pyfunc model); default all",
    )
    p.add_argument(
        "--pair-repeat",
        type=int,
        default=3,
        help="repeats of the mlserver and seldon loads (ratios taken within each repeat)",
    )
    p.add_argument(
        "--release-repeat",
        type=int,
        default=2,
        help="rolling updates under load, and 10,000-request canary counts",
    )
    p.add_argument(
        "--tools-venvs",
        type=Path,
        default=HERE.parent / ".tools" / "venvs",
        help="where MLServer's throw-away venv is built (never the project's env)",
    )
    p.add_argument("--no-mlflow", action="store_true", help="skip MLflow (reported n/a)")
    p.add_argument(
        "--auth-only",
        action="store_true",
        help="only kaon's endpoint open vs deployed with --auth (no bare app, MLflow, deploys)",
    )
    p.add_argument(
        "--no-batch-variant",
        action="store_true",
        help="skip the benchmark-only copy of the serve module with predict_batch",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the temp dir (KAON_HOME, bundles); default the system temp dir",
    )
    p.add_argument(
        "--cache-dir", type=Path, default=HERE / ".cache", help="where the venvs are cached"
    )
    p.add_argument("--kaon", default=None, help="path of the kaon CLI (default: beside python)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    p.add_argument("--check", action="store_true", help="exit 1 if any target fails")
    return p.parse_args(argv)


def bench(args: argparse.Namespace, s: Setup, wrk: Path, res: Results) -> None:
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    train_model(s, res)
    kaon_body = json.dumps({"pixels": s.row}).encode()
    kaon_lua = wrk_script(s.work, "kaon", kaon_body)

    log("kaon serve deploy (1 replica) --wait: builds the serving environment if needed")
    t0 = time.monotonic()
    ep, _, _ = serve_deploy(s, s.serve_src, [], wait=True)
    res.values["warmup_deploy"] = time.monotonic() - t0
    build_log = run([s.kaon, "serve", "build-logs", "-e", ep["name"]], env=s.env)
    res.values["warmup_env_built"] = "building environment" in build_log
    if ep.get("state") != "PIPELINE_RUNNING":
        raise RuntimeError(f"endpoint {ep['name']} is {ep.get('state')}: {ep.get('reason')}")
    kaon_url = endpoint_url(ep)
    answers: dict[str, int | None] = {"kaon": digit(wait_answer(kaon_url, kaon_body, None))}
    pid = server_pid(s.home)

    def load(name: str, url: str, script: Path, at: Sequence[int], proc_pid: int | None) -> None:
        for c in at:
            x = measure_n(
                args.repeat, wrk, name, url, script, c, args.seconds, args.warmup, proc_pid
            )
            res.loads.append(x)
            log(f"{LABELS.get(name, name)}, c={c}: {fmt_rps(x.rps)} req/s, p99 {fmt_ms(x.p99)}")

    if args.auth_only:
        load("kaon", kaon_url, kaon_lua, levels, pid)
        auth_loads(s, kaon_body, levels, load, ep["name"])
        return
    sections = set(res.values["sections"])
    if sections & {"mlserver", "seldon"}:
        protocol_pairs(args, s, wrk, res, ep, sections, answers)
    if "mlflow" in sections:
        mlflow_pairs(args, s, wrk, res, ep, answers)
    if "base" in sections:
        base_loads(args, s, wrk, res, ep, answers, load)
    if sections & {"rolling", "canary"}:
        releases(args, s, wrk, res, sections)
    same = len(set(answers.values())) == 1
    listed = ", ".join(f"{k} {a}" for k, a in answers.items())
    res.values["answers"] = f"{'all answer' if same else 'DIFFERENT answers:'} {listed}"
    res.values["label"] = s.label


def base_loads(
    args: argparse.Namespace,
    s: Setup,
    wrk: Path,
    res: Results,
    ep: dict[str, Any],
    answers: dict[str, int | None],
    load: Any,
) -> None:
    """The wave-1 comparison: the bare app, MLflow, kaon at every concurrency, --auth, the
    timed deploys, --replicas 2 --batch."""
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    kaon_body = json.dumps({"pixels": s.row}).encode()
    mlflow_body = json.dumps({"inputs": [s.row]}).encode()
    mlflow_df = json.dumps({"dataframe_split": {"data": [s.row]}}).encode()
    kaon_lua = wrk_script(s.work, "kaon", kaon_body)
    kaon_url = endpoint_url(ep)
    pins = pins_of(str((ep.get("env") or {}).get("lock", "")))
    pid = server_pid(s.home)
    log("timed deploys (env cached): start of `kaon serve deploy` -> first 200")
    ep2 = timed_deploys(s, kaon_body, args.deploy_repeat, res)
    batchable = bool((ep2.get("env") or {}).get("batchable"))
    res.values["batch_applied"] = batchable and ep2.get("batch") is not None
    if not batchable:
        res.values["batch_note"] = (
            f"--batch {BATCH} is ignored by kaon for the mnist template: its serve module "
            "(templates/mnist/model-serve/mnist/model/model.py) defines neither predict_batch "
            "nor BATCH = True, so the gateway forwards one request per predict"
        )
    else:
        res.values["batch_note"] = f"--batch {BATCH} applied (the module batches)"

    bare_proc = mlflow_proc = None
    versions = [f"scikit-learn/numpy/scipy pinned from the endpoint's lock: {' '.join(pins)}"]
    try:
        # -- the bare app --------------------------------------------------------------
        bare_py = ensure_venv(args.cache_dir, "serve-bare-venv", [*pins, "uvicorn[standard]"])
        versions.append(f"uvicorn {version_in(bare_py, 'uvicorn')}")
        port = free_port()
        bare_proc = start_bare(s, bare_py, port)
        bare_url = f"http://127.0.0.1:{port}/invocations"
        answers["bare"] = digit(wait_answer(bare_url, kaon_body, bare_proc))
        load("bare", bare_url, kaon_lua, levels, bare_proc.popen.pid)
        stop_proc(bare_proc)

        # -- MLflow --------------------------------------------------------------------
        if args.no_mlflow:
            res.notes.append("MLflow skipped (--no-mlflow)")
        else:
            try:
                ml_py = ensure_venv(args.cache_dir, "serve-mlflow-venv", [*pins, "mlflow"])
                versions.append(f"mlflow {version_in(ml_py, 'mlflow')}")
                port = free_port()
                mlflow_proc = start_mlflow(s, ml_py, port)
                ml_url = f"http://127.0.0.1:{port}/invocations"
                answers["mlflow"] = digit(wait_answer(ml_url, mlflow_body, mlflow_proc))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                res.notes.append(f"MLflow n/a: {str(exc).strip().splitlines()[0][:300]}")
                log(f"MLflow n/a: {exc}")
                stop_proc(mlflow_proc)
                mlflow_proc = None
            if mlflow_proc is not None:
                ml_pid = mlflow_proc.popen.pid
                load("mlflow", ml_url, wrk_script(s.work, "mlflow", mlflow_body), levels, ml_pid)
                df_lua = wrk_script(s.work, "mlflow-df", mlflow_df)
                load("mlflow-df", ml_url, df_lua, [8], ml_pid)
                stop_proc(mlflow_proc)
    finally:
        stop_proc(bare_proc)
        stop_proc(mlflow_proc)
    res.values["versions"] = "; ".join(versions)

    # -- kaon ----------------------------------------------------------------------------
    load("kaon", kaon_url, kaon_lua, levels, pid)
    # only the first endpoint and the last timed one run now: kill the first
    auth_loads(s, kaon_body, levels, load, ep["name"])
    load("kaon-r2-batch", endpoint_url(ep2), kaon_lua, levels, pid)
    if not args.no_batch_variant and not batchable:
        run([s.kaon, "serve", "kill", "-e", ep2["name"], "-y"], env=s.env)
        log("benchmark-only copy of the serve module with predict_batch: deploy and load")
        ep3, _, _ = serve_deploy(
            s, batch_variant(s), ["--replicas", str(REPLICAS), "--batch", BATCH], wait=True
        )
        url3 = endpoint_url(ep3)
        answers["kaon predict_batch copy"] = digit(wait_answer(url3, kaon_body, None))
        load("kaon-r2-pb", url3, kaon_lua, [c for c in levels if c >= 8], pid)
        run([s.kaon, "serve", "kill", "-e", ep3["name"], "-y"], env=s.env)
    else:
        run([s.kaon, "serve", "kill", "-e", ep2["name"], "-y"], env=s.env)


def auth_loads(s: Setup, body: bytes, levels: Sequence[int], load: Any, previous: str) -> None:
    """Replace endpoint `previous` by the same one deployed with --auth, and load it with the
    platform's token in every request."""
    run([s.kaon, "serve", "kill", "-e", previous, "-y"], env=s.env)
    log("kaon serve deploy --auth (1 replica) --wait")
    guarded, _, _ = serve_deploy(s, s.serve_src, ["--auth"], wait=True)
    token = (s.home / "token").read_text().strip()
    url = endpoint_url(guarded)
    status, _ = post(url, body)
    if status != 401:
        raise RuntimeError(f"--auth endpoint answered {status} without a token, not 401")
    load("kaon-auth", url, wrk_script(s.work, "kaon-auth", body, token), levels, server_pid(s.home))
    run([s.kaon, "serve", "kill", "-e", guarded["name"], "-y"], env=s.env)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kaon = kaon_exe(args.kaon)
    wrk = ensure_wrk()
    parent = args.workdir.absolute() if args.workdir else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    args.cache_dir = args.cache_dir.absolute()
    QUIET["wait"] = max(0.0, args.quiet_wait)
    QUIET["retries"] = max(0, args.noisy_retries)
    sections = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not sections:
        raise SystemExit(
            f"--only {args.only!r}: unknown section(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(SECTIONS)}"
        )
    args.tools_venvs = args.tools_venvs.absolute()
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-serve-", dir=parent))
    home = work / "home"
    s = Setup(kaon, home, work, kaon_env(home, "bench"))
    res = Results()
    res.values["sections"] = sections
    error: str | None = None
    started = time.monotonic()
    with terminate_as_exit():
        try:
            log(f"workdir {work}: kaon up")
            run([kaon, "up"], env=kaon_env(home))
            bench(args, s, wrk, res)
        except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log(f"benchmark step failed: {error}")
        finally:
            stop_server(kaon, home, kaon_env(home))
            if args.keep:
                log(f"kept {work}")
            else:
                rmtree(work)

    kaon_version = "?"
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        kaon_version = version("kaon")
    wrk_version = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout or out.stderr).split()[1]
    env_line = (
        f"{os.cpu_count()} CPU, {psutil.virtual_memory().total / GiB:.0f} GiB RAM, "
        f"Python {platform.python_version()}, kaon {kaon_version}, wrk {wrk_version}"
    )
    checks = build_checks(res)
    print()
    print(f"kaon serving benchmark - {env_line}")
    print(
        f"single-row JSON POSTs on loopback, {args.seconds:g} s per run after {args.warmup:g} s "
        f"of warm-up, wrk -t1; the same model.pkl in every server; took "
        f"{time.monotonic() - started:.0f} s"
    )
    if error:
        print(f"ERROR: a step failed, its figures and those after it are missing: {error}")
    print()
    print_table(
        [
            "SERVER",
            "CONC",
            "REQ/S",
            "P50",
            "P99",
            "MAX",
            "ERRORS",
            "SERVER CPU/REQ",
            "WRK CPU/REQ",
            "BUSY",
            "OTHERS",
        ],
        load_rows(res),
    )
    print()
    print_table(
        ["CHECK", "KAON", "DETAIL", "TARGET", "RESULT"],
        [[c.name, c.kaon, c.detail, c.target, verdict(c.ok)] for c in checks],
    )
    print()
    print_table(["MORE FIGURES", "VALUE"], info_rows(res))
    if args.json:
        doc = {
            "env": env_line,
            "error": error,
            "values": res.values,
            "deploys": res.deploys,
            "loads": [x.__dict__ | {"rps": x.rps} for x in res.loads],
            "checks": [c.__dict__ for c in checks],
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str))
    if error:
        return 1 if args.check else 0
    failed = any(c.ok is False for c in checks)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
