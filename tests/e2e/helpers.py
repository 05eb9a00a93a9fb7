"""End-to-end helpers: the real `kaon` CLI (subprocesses) against a real local server.

Every platform lives in its own temporary KAON_HOME with KAON_PORT=0 (a free port), so runs
in parallel never collide. A `Profile` says which backends it runs on: `SQLITE_LOCAL` (SQLite
and the object store in KAON_HOME, the default) or PostgreSQL (+ S3): a fresh database (and
bucket) per platform (tests/e2e/postgres/ runs a representative half of the suite on it). Teardown runs `kaon down` and then kills, by pid, every server
process this suite saw or that still serves that KAON_HOME, so none survives a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from envdirs import shared_env_dir
from kaon.client import Client

_SCRIPT = Path(sys.executable).with_name("kaon")
KAON: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kaon.cli.main"]
TIMEOUT = 120.0
MiB = 1024 * 1024
LEASE_SECONDS = 3  # upload leases of the shared platforms: what a killed client left is
# reclaimed by a gc this long after it died (kaon.services.leases; default 10 minutes)


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def random_file(path: Path, size: int) -> Path:
    """Write `size` random bytes to `path` in 4 MiB blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n
    return path


def same_tree(a: Path, b: Path) -> None:
    """Assert both folders hold the same relative files with identical bytes."""
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert fa == fb
    for rel in fa:
        assert same_bytes(a / rel, b / rel), rel


def same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(4 * MiB), fb.read(4 * MiB)
            if x != y:
                return False
            if not x:
                return True


@dataclass(frozen=True)
class Profile:
    """The backends a platform runs on: a fresh metadata database and object store for each
    platform from the factories (None: SQLite / `file://` in its KAON_HOME)."""

    name: str
    new_database: Callable[[], str] | None = None
    new_store: Callable[[], str] | None = None

    def env(self) -> dict[str, str]:
        """The settings (KAON_*) of one new platform."""
        env: dict[str, str] = {}
        if self.new_database is not None:
            url = self.new_database()
            env.update(KAON_DATABASE_URL=url, KAON_METADATA_URL=url)
        if self.new_store is not None:
            env["KAON_STORE_URL"] = self.new_store()
        return env


SQLITE_LOCAL = Profile("sqlite+local")


class Kaon:
    """Runs the CLI with KAON_HOME set, and knows the server that home runs."""

    def __init__(
        self, home: Path, profile: Profile = SQLITE_LOCAL, *, private_envs: bool = False
    ) -> None:
        """`private_envs`: environments in $KAON_HOME/envs, not in the session's shared
        folder (tests/envdirs.py): for tests that check a first build or delete environments."""
        self.home = home
        self.profile = profile
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        self.env.update(KAON_HOME=str(home), KAON_PORT="0")
        shared = None if private_envs else shared_env_dir()
        self.envs = shared if shared is not None else home / "envs"  # the builder's folder
        if shared is not None:
            self.env["KAON_ENV_DIR"] = str(shared)
        self.env.update(profile.env())
        self.env.pop("COLUMNS", None)
        self.pids: set[int] = set()

    # running the CLI ----------------------------------------------------------------------
    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*KAON, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*KAON, *args],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run, assert exit 0, return stdout."""
        p = self.run(*args, env=env)
        assert p.returncode == 0, f"kaon {' '.join(args)} → {p.returncode}\n{p.stdout}{p.stderr}"
        assert "Traceback" not in p.stderr
        self.track()
        return p.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(
        self, code: int, *args: str, env: dict[str, str] | None = None, match: str = ""
    ) -> str:
        """Run, assert exit `code` with exactly one `Error: ...` line on stderr; return it."""
        p = self.run(*args, env=env)
        return check_error(p, code, match, args)

    def rows(self, *args: str) -> list[list[str]]:
        """A table command's rows split on runs of spaces, header first."""
        return [line.split() for line in self.ok(*args).splitlines() if line.strip()]

    # the server -------------------------------------------------------------------------
    def server(self) -> dict[str, Any] | None:
        try:
            doc = json.loads((self.home / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def track(self) -> None:
        doc = self.server()
        if doc and isinstance(doc.get("pid"), int):
            self.pids.add(doc["pid"])

    def up(self) -> dict[str, Any]:
        self.ok("up")
        doc = self.server()
        assert doc is not None, "kaon up wrote no server.json"
        self.pids.add(doc["pid"])
        if self.profile.new_database is not None:  # the matrix column is what it says
            assert not (self.home / "kaon.db").exists(), f"{self.profile.name}: SQLite was used"
        if self.profile.new_store is not None:
            assert not (self.home / "objects").exists(), f"{self.profile.name}: file:// was used"
        return doc

    def client(self) -> Client:
        doc = self.server()
        assert doc is not None
        return Client(doc["url"], (self.home / "token").read_text().strip())

    def kill_server(self) -> int:
        doc = self.server()
        assert doc is not None
        pid = int(doc["pid"])
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid)
        return pid

    def shutdown(self) -> None:
        """`kaon down`, then SIGKILL every server of this home still alive (by pid)."""
        self.track()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.run("down", timeout=30)
        for pid in self.pids | set(server_pids(self.home)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in self.pids:
            wait_dead(pid)
        assert not server_pids(self.home), "a kaon server survived its test"

    # state, read through the SDK (cheap, no subprocess) ----------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Repos, their branch heads and full commit lists: 'nothing changed' compares these."""
        with self.client() as c:
            state: dict[str, Any] = {}
            for repo in c.list_repos():
                heads = {b.name: b.head for b in c.list_branches(repo.name)}
                commits = {
                    b: [x.id for x in c.list_commits(repo.name, b)] if h else []
                    for b, h in heads.items()
                }
                state[repo.name] = {"heads": heads, "commits": commits}
            return state


def check_error(
    p: subprocess.CompletedProcess[str], code: int, match: str = "", args: Sequence[str] = ()
) -> str:
    where = f"kaon {' '.join(args)}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    assert p.returncode == code, where
    assert "Traceback" not in p.stderr, where
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith("Error: "), where
    assert len(lines[0]) > len("Error: ") + 10, where
    assert match.lower() in lines[0].lower(), where
    return lines[0]


def wait_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not die")


def server_pids(home: Path) -> list[int]:
    """Live `kaon.api` processes whose KAON_HOME is `home`."""
    out: list[int] = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmd = proc.info["cmdline"] or []
            if "kaon.api" not in cmd or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("KAON_HOME") == str(home):
                out.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def packs(home: Path) -> list[Path]:
    """Final pack files (temp files excluded) in the local object store of `home`."""
    root = home / "objects" / "packs"
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]


# pipelines (tests/e2e/test_pipelines.py) --------------------------------------------------
JOB_FINAL = {"JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED", "JOB_UNRUNNABLE"}
PIPELINE_WAIT = 240.0  # generous: environments are built on first use, the machine is shared


def spec_file(folder: Path, text: str) -> Path:
    """`text` (a YAML spec) in a new file of `folder`."""
    path = folder / f"spec-{time.monotonic_ns()}.yaml"
    path.write_text(text)
    return path


def put_text(k: Kaon, address: str, text: str, folder: Path) -> None:
    """`kaon put file <address> -f <a file holding text>`."""
    src = folder / f"put-{time.monotonic_ns()}"
    src.write_text(text)
    k.ok("put", "file", address, "-f", str(src))


def pipeline_jobs(k: Kaon, pipeline: str) -> list[dict[str, Any]]:
    """`kaon list job -p <pipeline> --json`, newest first."""
    jobs: list[dict[str, Any]] = k.json("list", "job", "-p", pipeline)
    return jobs


def wait_jobs(
    k: Kaon, global_id: str, count: int, timeout: float = PIPELINE_WAIT
) -> dict[str, dict[str, Any]]:
    """Wait until `kaon list job <global id>` shows `count` jobs, all ended; by pipeline."""
    deadline = time.monotonic() + timeout
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        jobs = k.json("list", "job", global_id)
        if len(jobs) >= count and all(j["state"] in JOB_FINAL for j in jobs):
            return {j["pipeline"]: j for j in jobs}
        time.sleep(0.2)
    raise AssertionError(f"the jobs of {global_id} did not all end: {jobs}")


def wait_final(k: Kaon, pipeline: str, job_id: str, timeout: float = PIPELINE_WAIT) -> Any:
    """Wait until `kaon inspect job <pipeline>@<id>` shows an ended job; return it."""
    deadline = time.monotonic() + timeout
    job: Any = None
    while time.monotonic() < deadline:
        job = k.json("inspect", "job", f"{pipeline}@{job_id}")
        if job["state"] in JOB_FINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {pipeline}@{job_id} did not end: {job}")


def said(k: Kaon, *args: str) -> str:
    """Run, assert exit 0, return what it printed on stdout and stderr (✔ lines, notes)."""
    p = k.run(*args)
    assert p.returncode == 0, f"kaon {' '.join(args)} → {p.returncode}\n{p.stdout}{p.stderr}"
    assert "Traceback" not in p.stderr
    return p.stdout + p.stderr


def tool_python(script: str, *args: str, what: str, timeout: float = 900) -> Path:
    """The python of a throw-away venv built (or reused) by `scripts/<script> ARGS` (a real
    third-party client: seldon-core, mlflow). A venv that cannot be built skips the test,
    except under CI=true, where it fails it. One build at a time (a lock per script): two
    xdist workers (or test sessions) building one venv would remove each other's files."""
    root = Path(__file__).resolve().parents[2]
    locks = root / ".tools" / "venvs"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f".{script}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        built = subprocess.run(
            ["bash", str(root / "scripts" / script), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    if built.returncode != 0:
        why = f"could not build the {what} venv: {built.stderr.strip()[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return Path(built.stdout.strip().splitlines()[-1])
