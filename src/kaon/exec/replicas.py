"""LocalReplicas: each endpoint's replicas as local processes, kept alive by a supervisor thread.

`start` checks the served files out of the store (the Content port) into `<root>/<endpoint>/code`
(a fresh folder swapped in once complete: a replica never runs half a checkout), then a
supervisor thread starts the replicas (kaon.exec.replicaproc) in the module's folder; their
sockets live in `<root>/<endpoint>/run`, or a short folder under /tmp when that path is too
long for a socket. Their addresses are `unix://<socket path>`.

A replica is ready once its socket exists and a ping is answered from its process group (not
by a stale replica on the same path: kaon.exec.readiness); only ready replicas are listed in
the status. One that exits is restarted after a delay that doubles from `backoff[0]` to
`backoff[1]` and resets once a replica stayed up `stable_after` seconds. Whatever a replica
started (setsid() daemons included) is killed when it stops, crashes or is recycled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput
from kaon.exec.cgroups import CgroupRoot, find_cgroups
from kaon.exec.local import local_health
from kaon.exec.readiness import in_group, ping
from kaon.exec.replicaproc import (
    Launcher,
    Site,
    Slot,
    exit_reason,
    hurry,
    release,
    remove,
    safe_log,
    signal_group,
)
from kaon.exec.sandbox import bwrap_works
from kaon.ports.content import Content
from kaon.ports.envbuilder import LogSink
from kaon.ports.replicas import ReplicaSpec, ReplicaStatus
from kaon.runtime.install import install_runtime

GRACE_SECONDS = 3.0  # between SIGTERM and SIGKILL
POLL_SECONDS = 0.05  # how often the supervisor looks at its replicas
BACKOFF = (0.5, 30.0)  # first and longest delay before restarting a replica that exited
STABLE_AFTER = 60.0  # a replica up this long resets the delay
READY_TIMEOUT = 300.0  # a replica not answering this long after its start is restarted
MAX_SOCKET_PATH = 100  # bytes; the kernel's limit is 107, the replica binds `<path>.tmp` first
NO_HIDING = (
    "bubblewrap is not available: the replicas are not isolated and can read the platform's files"
)


@dataclass
class _Endpoint:
    site: Site
    log: LogSink
    home: Path  # <root>/<name>: the code checkout and the run folder
    scratch: Path | None  # a folder we created for the sockets, removed on stop
    slots: list[Slot]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: int = 0
    last_error: str = ""
    thread: threading.Thread | None = None


class LocalReplicas:
    """Replicas over local processes; every method is thread-safe."""

    def __init__(
        self,
        root: Path,
        content: Content,
        backoff: tuple[float, float] = BACKOFF,
        stable_after: float = STABLE_AFTER,
        grace: float = GRACE_SECONDS,
        ready_timeout: float = READY_TIMEOUT,
        cgroups: CgroupRoot | bool | None = True,
        bwrap: str | None = None,
    ) -> None:
        self._root = root
        self._content = content
        self._bwrap = bwrap if bwrap is not None else shutil.which("bwrap")
        self._launcher = Launcher(
            install_runtime(root / "runtime"),
            grace,
            find_cgroups() if cgroups is True else cgroups or None,
            self._bwrap,
        )
        self._ready_timeout = ready_timeout
        self._backoff = backoff
        self._stable_after = stable_after
        self._grace = grace
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()  # guards _endpoints
        self._control = threading.Lock()  # one start/stop at a time

    @property
    def can_sandbox(self) -> bool:
        return self._bwrap is not None and bwrap_works(self._bwrap)

    def health(self) -> BackendHealth:
        """Replicas run here, as processes of this machine."""
        return local_health(BackendRole.REPLICAS, self.can_sandbox)

    def start(self, spec: ReplicaSpec, log: LogSink) -> None:
        """Fetch the files of `spec.code`, then start the replicas of `spec.name` (stopping
        those of an earlier spec first)."""
        if spec.replicas < 1:
            raise InvalidInput(
                f"endpoint {spec.name} needs at least 1 replica, not {spec.replicas}"
            )
        sandboxed = bool(spec.hidden) and self.can_sandbox
        if spec.hidden and not sandboxed:
            safe_log(log, NO_HIDING)
        home = self._root / spec.name
        home.mkdir(parents=True, exist_ok=True)
        fetched = Path(tempfile.mkdtemp(prefix="code-", dir=home))
        try:
            self._content.checkout(spec.code, fetched)
        except BaseException:
            shutil.rmtree(fetched, ignore_errors=True)
            raise
        with self._control:
            with self._lock:
                old = self._endpoints.pop(spec.name, None)
            if old is not None:
                _halt([old])
            shutil.rmtree(home / "code", ignore_errors=True)
            fetched.rename(home / "code")
            endpoint = self._endpoint(spec, sandboxed, home, log)
            endpoint.thread = threading.Thread(
                target=self._supervise, args=(endpoint,), name=f"replicas-{spec.name}", daemon=True
            )
            with self._lock:
                self._endpoints[spec.name] = endpoint
            endpoint.thread.start()

    def stop(self, name: str) -> None:
        with self._control:
            with self._lock:
                endpoint = self._endpoints.pop(name, None)
            if endpoint is not None:
                _halt([endpoint])

    def stop_all(self) -> None:
        with self._control:
            with self._lock:
                endpoints = list(self._endpoints.values())
                self._endpoints.clear()
            _halt(endpoints)

    def recycle(self, name: str, address: str) -> bool:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            return False
        with endpoint.lock:
            slot = next((s for s in endpoint.slots if s.address == address), None)
            if slot is None or slot.proc is None:
                return False
            slot.ready = False  # out of the rotation at once; the supervisor restarts it
            pid = slot.proc.pid
        safe_log(
            endpoint.log,
            f"[replica {slot.index}] did not answer within the request timeout: restarting it",
        )
        hurry(pid)
        return True

    def status(self, name: str) -> ReplicaStatus | None:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            return None
        with endpoint.lock:
            ready = tuple(slot.address for slot in endpoint.slots if slot.ready)
            return ReplicaStatus(
                ready=len(ready),
                wanted=endpoint.site.spec.replicas,
                restarts=endpoint.restarts,
                last_error=endpoint.last_error,
                addresses=ready,
            )

    # -- one endpoint ----------------------------------------------------------------------

    def _endpoint(self, spec: ReplicaSpec, sandboxed: bool, home: Path, log: LogSink) -> _Endpoint:
        """The endpoint's folders: sockets in its run folder when their paths are short
        enough, else in a new folder under /tmp."""
        run_dir = home.absolute() / "run"
        scratch = None
        longest = f"r{spec.replicas - 1}.sock"
        if len(os.fsencode(run_dir / longest)) <= MAX_SOCKET_PATH:
            sockets = run_dir
        else:
            scratch = sockets = Path(tempfile.mkdtemp(prefix="kaon-", dir=_short_tmp()))
        for sub in ("home", "tmp"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        workdir = home.absolute() / "code" / spec.folder
        slots = [Slot(i, str(sockets / f"r{i}.sock")) for i in range(spec.replicas)]
        return _Endpoint(Site(spec, workdir, run_dir, sandboxed), log, home, scratch, slots)

    def _supervise(self, endpoint: _Endpoint) -> None:
        try:
            while not endpoint.stop.is_set():
                for slot in endpoint.slots:
                    self._tend(endpoint, slot)
                endpoint.stop.wait(POLL_SECONDS)
        finally:
            self._shutdown(endpoint)

    def _tend(self, endpoint: _Endpoint, slot: Slot) -> None:
        """Start, check or restart the replica in `slot`."""
        now = time.monotonic()
        if slot.proc is None:
            if now >= slot.next_start:
                self._spawn(endpoint, slot)
            return
        code = slot.proc.poll()
        if code is None:
            if not slot.ready and Path(slot.socket).exists():
                answer = ping(slot.socket)
                if answer is not None and in_group(answer.get("pid"), slot.proc.pid):
                    with endpoint.lock:
                        slot.ready = True
            if slot.ready or now - slot.started < self._ready_timeout:
                return
            # load_ctx (or an import) hangs: kill it, it is restarted like a crashed one
            safe_log(
                endpoint.log,
                f"[replica {slot.index}] not ready after {self._ready_timeout:g} s: killing it",
            )
            hurry(slot.proc.pid)
            code = slot.proc.wait()
        release(slot)  # anything that escaped the supervisor
        if slot.pump is not None:
            slot.pump.join(1.0)  # its last lines (a traceback) reach the log before our note
        why = exit_reason(code, slot.ready)
        if now - slot.started >= self._stable_after or slot.delay == 0:
            slot.delay = self._backoff[0]
        else:
            slot.delay = min(slot.delay * 2, self._backoff[1])
        self._failed(endpoint, slot, why)

    def _failed(self, endpoint: _Endpoint, slot: Slot, why: str) -> None:
        """Count the failure and schedule the restart (`why`: "exited with code 3 ...")."""
        with endpoint.lock:
            slot.ready = False
            slot.proc = slot.pump = None
            endpoint.restarts += 1
            endpoint.last_error = f"replica {slot.index} {why}"
        slot.next_start = time.monotonic() + slot.delay
        remove(slot.socket)
        safe_log(endpoint.log, f"[replica {slot.index}] {why}; restarting in {slot.delay:g} s")

    def _spawn(self, endpoint: _Endpoint, slot: Slot) -> None:
        slot.started = time.monotonic()
        try:
            self._launcher.spawn(endpoint.site, slot, endpoint.log)
        except OSError as exc:
            slot.delay = min(max(slot.delay * 2, self._backoff[0]), self._backoff[1])
            self._failed(endpoint, slot, f"could not start: {exc}")

    def _shutdown(self, endpoint: _Endpoint) -> None:
        """SIGTERM every replica, SIGKILL those still there after the grace period."""
        running = [slot for slot in endpoint.slots if slot.proc is not None]
        with endpoint.lock:
            for slot in endpoint.slots:
                slot.ready = False
        for slot in running:  # the supervisors give their trees the grace period
            assert slot.proc is not None
            with contextlib.suppress(ProcessLookupError):
                slot.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace + 2
        for slot in running:
            assert slot.proc is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            if slot.proc.poll() is None:
                hurry(slot.proc.pid)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    slot.proc.wait(timeout=2.0)
            signal_group(slot.proc.pid, signal.SIGKILL)  # a supervisor that did not end
            slot.proc.wait()
            release(slot)
        for slot in running:
            if slot.pump is not None:
                slot.pump.join(1.0)
        for slot in endpoint.slots:
            remove(slot.socket)
            remove(f"{slot.socket}.tmp")
        shutil.rmtree(endpoint.site.run_dir / "tmp", ignore_errors=True)  # the replicas' TMPDIR
        shutil.rmtree(endpoint.home / "code", ignore_errors=True)  # fetched again on a start
        if endpoint.scratch is not None:
            shutil.rmtree(endpoint.scratch, ignore_errors=True)


def _halt(endpoints: list[_Endpoint]) -> None:
    """Stop the supervisors of `endpoints` together and wait for them."""
    for endpoint in endpoints:
        endpoint.stop.set()
    for endpoint in endpoints:
        if endpoint.thread is not None:
            endpoint.thread.join()


def _short_tmp() -> str | None:
    """/tmp when the system temp dir is too long for socket paths."""
    default = tempfile.gettempdir()
    return None if len(default) <= 40 or not Path("/tmp").is_dir() else "/tmp"
