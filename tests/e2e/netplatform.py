"""The platform spread over three test hosts (kaon.tests.e2e.netns):

- host1: PostgreSQL and an S3 server (moto's server mode): the durable state;
- host2: a Ray head (no CPUs of its own: it runs no trial, no replica) and a `kaon server`
  using host1's database and store and host2's Ray cluster through Ray Client (ray://);
- host3: a Ray worker, in a mount namespace of its own where the server's KAON_HOME, the
  database's folder and the test's files are empty tmpfs: what it runs gets nothing from the
  server's disk.

The CLI runs on host1 (a user's machine), with KAON_ENDPOINT/KAON_TOKEN naming host2's server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .helpers import KAON
from .netns import Host, Hosts, tail

PG_PORT = 5432
S3_PORT = 5000
RAY_PORT = 6379
RAY_CLIENT_PORT = 10001
API_PORT = 5266
S3_GATEWAY_PORT = 5267
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's minimum is 75 MiB
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "kaon-multihost"
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # a driver started under `uv run` (as the tests are) would make Ray ship the project to
    # the workers and `uv run` it there: the hosts have no index to build it from
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    "RAY_raylet_start_wait_time_s": "120",  # a raylet waits this long for its agents
}
HOST3_RESOURCE = "kaon_host3"  # a Ray resource only host3's node has
NODE_ATTEMPTS = 3
RAY_NICE = "-15"  # ahead of the machine's other work: Ray's agents must start in time


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAON_", "RAY_", "AWS_"))}
    return env | AWS | RAY_ENV | {"PYTHONUNBUFFERED": "1"}


@dataclass
class Platform:
    hosts: Hosts
    base: Path  # the test's files (hidden from host3)
    logs: Path
    server_home: Path
    database_url: str
    store_url: str
    executor: str
    ray_temp: Path  # the Ray head's --temp-dir (its logs)

    @property
    def url(self) -> str:
        return f"http://{self.hosts['h2'].ip}:{API_PORT}"

    def token(self) -> str:
        return (self.server_home / "token").read_text().strip()

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """`kaon ARGS` run on host1 against host2's server."""
        home = self.base / "client-home"
        home.mkdir(exist_ok=True)
        full = _base_env() | {
            "KAON_HOME": str(home),
            "KAON_ENDPOINT": self.url,
            "KAON_TOKEN": self.token(),
        }
        full |= env or {}
        return self.hosts["h1"].run([*KAON, *args], env=full, timeout=timeout)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = self.cli(*args, env=env)
        assert done.returncode == 0, (
            f"kaon {' '.join(args)} → {done.returncode}\n{done.stdout}{done.stderr}\n"
            f"server log:\n{tail(self.logs / 'h2-kaon.log')}"
        )
        return done.stdout

    def json(self, *args: str, env: dict[str, str] | None = None) -> object:
        return json.loads(self.ok(*args, "--json", env=env))

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST to host2's server from host1."""

        def send() -> tuple[int, bytes]:
            req = urllib.request.Request(
                f"{self.url}{path}", body, {"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    return int(r.status), r.read()
            except urllib.error.HTTPError as e:
                return int(e.code), e.read()

        return self.hosts["h1"].call(send)


def start_postgres(hosts: Hosts, logs: Path) -> tuple[str, Path]:
    """PostgreSQL on host1 (as the `postgres` user); its URL and data folder."""
    h1 = hosts["h1"]
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found or shutil.which("runuser") is None:
        raise RuntimeError("PostgreSQL binaries (/usr/lib/postgresql/*/bin) or runuser missing")
    bindir = found[-1].parent
    folder = Path(tempfile.mkdtemp(prefix=f"kaon-pg-{hosts.run_id}-"))
    shutil.chown(folder, user="postgres", group="postgres")
    data = folder / "data"
    as_pg = ["runuser", "-u", "postgres", "--"]
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run(
        [*as_pg, *initdb, "-E", "UTF8", "--no-sync", "--no-instructions"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {h1.ip.rsplit('.', 1)[0]}.0/24 trust\n")
    server = [str(bindir / "postgres"), "-D", str(data), "-p", str(PG_PORT), "-k", str(folder)]
    server += ["-c", f"listen_addresses={h1.ip}", "-c", "fsync=off", "-c", "max_connections=100"]
    server += ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    log = logs / "h1-postgres.log"
    proc = h1.popen([*as_pg, *server], log)
    h1.wait_port(PG_PORT, proc, log)
    return f"postgresql+psycopg://postgres@{h1.ip}:{PG_PORT}/postgres", folder


def start_s3(hosts: Hosts, logs: Path) -> str:
    """moto's S3 server on host1 with one bucket; the endpoint URL."""
    h1 = hosts["h1"]
    log = logs / "h1-s3.log"
    argv = [sys.executable, "-m", "moto.server", "-H", h1.ip, "-p", str(S3_PORT)]
    proc = h1.popen(argv, log, env=_base_env())
    h1.wait_port(S3_PORT, proc, log)
    endpoint = f"http://{h1.ip}:{S3_PORT}"

    def make_bucket() -> None:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, **_boto_creds()).create_bucket(Bucket=BUCKET)

    h1.call(make_bucket)
    return endpoint


def _boto_creds() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


def start_ray(hosts: Hosts, logs: Path, temp: Path, hidden: list[Path]) -> str:
    """A Ray head on host2 (0 CPUs) and a worker on host3 (hiding `hidden`), both with Ray's
    files in `temp` (a short path: Ray's sockets live there); the Ray Client address of the
    cluster. Returns once host3's node has joined."""
    h2, h3 = hosts["h2"], hosts["h3"]
    common = ["--block", "--disable-usage-stats", "--temp-dir", str(temp)]
    # fixed ports (each host has its own): with port 0 a raylet waits for its agents to write
    # theirs to files, and gives up after a while on a loaded machine
    common += ["--node-manager-port=6380", "--object-manager-port=6381"]
    common += ["--dashboard-agent-listen-port=6382", "--dashboard-agent-grpc-port=6383"]
    common += ["--runtime-env-agent-port=6384", "--metrics-export-port=6385"]
    common += ["--min-worker-port=20000", "--max-worker-port=20999"]
    common += ["--object-store-memory", str(OBJECT_STORE_BYTES)]
    head = [_bin("ray"), "start", "--head", "--node-ip-address", h2.ip, "--port", str(RAY_PORT)]
    head += ["--ray-client-server-port", str(RAY_CLIENT_PORT), "--num-cpus", "0"]
    head += ["--include-dashboard", "false", *common]
    _start_node(h2, head, logs / "h2-ray-head.log", temp, [])
    h2.wait_port(RAY_CLIENT_PORT, h2.procs[-1], logs / "h2-ray-head.log")
    worker = [_bin("ray"), "start", "--address", f"{h2.ip}:{RAY_PORT}"]
    worker += ["--node-ip-address", h3.ip, "--num-cpus", "2"]
    worker += ["--resources", json.dumps({HOST3_RESOURCE: 100}), *common]
    _start_node(h3, worker, logs / "h3-ray-worker.log", temp, hidden)
    return f"ray://{h2.ip}:{RAY_CLIENT_PORT}"


def _start_node(host: Host, argv: list[str], log: Path, temp: Path, hidden: list[Path]) -> None:
    """`ray start` on `host`, again if it fails: Ray gives a node's raylet and agents a fixed
    30 s to register, which a loaded machine may not meet."""
    for attempt in range(1, NODE_ATTEMPTS + 1):
        proc = host.popen(["nice", "-n", RAY_NICE, *argv], log, env=_base_env(), private=hidden)
        try:
            _wait_joined(proc, log)
            return
        except AssertionError as exc:
            if attempt == NODE_ATTEMPTS:
                raylets = sorted((temp / "session_latest" / "logs").glob("raylet*.out"))
                seen = "\n".join(f"{p.name}:\n{tail(p, 5)}" for p in raylets)
                raise AssertionError(f"{exc}\n{seen}") from None
            for pid in host.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            while host.pids():
                time.sleep(0.1)


def _wait_joined(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until `ray start` says its node runs (it checked that the head registered it)."""
    deadline = time.monotonic() + 180
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the Ray node did not start:\n{tail(log)}")
        time.sleep(0.5)


def start_server(hosts: Hosts, logs: Path, home: Path, settings: dict[str, str]) -> None:
    """`kaon server` on host2 with `settings` (KAON_*); returns once it answers."""
    h2 = hosts["h2"]
    env = _base_env() | {"KAON_HOME": str(home)} | settings
    env |= {"KAON_ADVERTISE_URL": f"http://{h2.ip}:{API_PORT}"}
    argv = [*KAON, "server", "--host", h2.ip, "--port", str(API_PORT)]
    argv += ["--s3-port", str(S3_GATEWAY_PORT)]
    log = logs / "h2-kaon.log"
    proc = h2.popen(argv, log, env=env)
    h2.wait_port(API_PORT, proc, log, timeout=180)
