"""The node side of Ray replicas: one Ray actor per replica (kaon.exec.ray.replicas).

`ReplicaHost`, made on whichever node Ray places it, fetches the served files (a `Source`:
today a tar the server put in Ray's object store), builds or reuses the uv environment of the
endpoint's lock on its node (cached per lock under the node's temp folder, one builder at a
time across processes), and runs ONE replica there with the local backend (LocalReplicas: the
same process, supervision, restart with backoff, sandbox where bubblewrap works). The replica
listens on a Unix socket of the node; the actor relays a TCP port on the node's address to it,
so the gateway reaches it as `tcp://<node ip>:<port>`. Its log lines are kept until the server
polls them (`poll`), each prefixed `[replica <i>]` like the local backend's.
"""

from __future__ import annotations

import collections
import contextlib
import io
import platform
import shutil
import socket
import tarfile
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from kaon.exec.replicas import LocalReplicas
from kaon.exec.uv import LOCK_FILE, UvEnvBuilder, lock_id
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import Environment, EnvLock
from kaon.ports.replicas import ReplicaSpec

MAX_LINES = 10_000  # kept between two polls; older ones are dropped
RELAY_BUFFER = 64 * 1024
ROOT = "kaon-ray"  # below the node's temp folder: environments and the replicas' folders


@dataclass(frozen=True)
class Source:
    """The served files as the server sent them: a tar (in Ray's object store)."""

    tar: bytes

    def fetch(self, dest: Path) -> int:
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(self.tar), mode="r:") as archive:
            archive.extractall(dest, filter="data")
        return len(self.tar)


def pack(folder: Path) -> bytes:
    """`folder`'s files as an uncompressed tar (what `Source.fetch` unpacks)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return out.getvalue()


def lock_of(env: Environment) -> EnvLock | None:
    """The lock `env` was built from (UvEnvBuilder keeps its text inside, the Python version
    in pyvenv.cfg), None when it has none (the environment is then used where it is)."""
    try:
        text = (env.root / LOCK_FILE).read_text()
        config = (env.root / "pyvenv.cfg").read_text()
    except OSError:
        return None
    versions = [platform.python_version()]
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            versions.insert(0, value.strip())
    for version in versions:
        if lock_id(version, text) == env.lock_id:
            return EnvLock(env.lock_id, text, version)
    return None


@dataclass(frozen=True)
class Poll:
    """What the server learns from a replica at each poll."""

    address: str  # tcp://ip:port, "" until the replica answers
    restarts: int
    last_error: str
    lines: tuple[str, ...]
    node: str  # the Ray node id


class _FilesOf:
    """The Content port over one fetched folder (LocalReplicas checks its files out)."""

    def __init__(self, source: Source) -> None:
        self._source = source

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        return self._source.fetch(dest)


class ReplicaHost:
    """One replica on this node (a Ray actor; see the module doc)."""

    def __init__(self, spec: ReplicaSpec, index: int, source: Source, lock: EnvLock | None) -> None:
        import ray

        self._index = index
        self._node = str(ray.get_runtime_context().get_node_id())
        self._lines: collections.deque[str] = collections.deque(maxlen=MAX_LINES)
        self._lines_lock = threading.Lock()
        base = Path(tempfile.gettempdir()) / ROOT
        base.mkdir(parents=True, exist_ok=True)
        self._root = Path(tempfile.mkdtemp(prefix=f"{spec.name}-r{index}-", dir=base))
        host = socket.gethostname()
        ip = _node_ip()
        self._log(f"[replica {index}] on {host} ({ip}), Ray node {self._node}")
        env = spec.env
        if lock is not None:
            builder = UvEnvBuilder(base / "envs")
            env = builder.ensure(lock, self._log, threading.Event())
        hidden = tuple(p for p in spec.hidden if p.exists())
        self._local = LocalReplicas(self._root / "replicas", _FilesOf(source))
        self._name = spec.name
        self._local.start(replace(spec, env=env, replicas=1, hidden=hidden), self._relabel)
        self._listener = socket.create_server((ip, 0))
        self._address = f"tcp://{ip}:{self._listener.getsockname()[1]}"
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    # -- what the server calls -----------------------------------------------------------

    def poll(self) -> Poll:
        status = self._local.status(self._name)
        with self._lines_lock:
            lines = tuple(self._lines)
            self._lines.clear()
        ready = status is not None and status.ready > 0
        return Poll(
            self._address if ready else "",
            status.restarts if status else 0,
            status.last_error if status else "",
            lines,
            self._node,
        )

    def recycle(self) -> bool:
        status = self._local.status(self._name)
        if status is None or not status.addresses:
            return False
        return self._local.recycle(self._name, status.addresses[0])

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._local.stop_all()
        shutil.rmtree(self._root, ignore_errors=True)

    # -- the relay -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        """Join `conn` to the replica's Unix socket, both ways, until either side closes."""
        status = self._local.status(self._name)
        target = status.addresses[0].removeprefix("unix://") if status and status.addresses else ""
        with conn:
            if not target:
                return  # not ready: the gateway sees the connection closed and tries another
            try:
                inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                inner.connect(target)
            except OSError:
                return
            with inner:
                back = threading.Thread(target=_pump, args=(inner, conn), daemon=True)
                back.start()
                _pump(conn, inner)
                back.join()

    # -- log lines -------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)

    def _relabel(self, line: str) -> None:
        """The local backend numbers its only replica 0: give it this replica's number."""
        if line.startswith("[replica 0]"):
            line = f"[replica {self._index}]" + line.removeprefix("[replica 0]")
        self._log(line)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(RELAY_BUFFER):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _node_ip() -> str:
    import ray

    return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
