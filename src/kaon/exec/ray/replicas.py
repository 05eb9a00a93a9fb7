"""RayReplicas: an endpoint's replicas as Ray actors on the cluster's nodes (kaon.ports.replicas).

`start` checks the served files out of the store here (the Content port; NotFound when gone),
puts them in Ray's object store as one tar (fine for serve bundles and models of a few hundred
MB; a fetch by content address on the node is the next step), reads the endpoint's
environment lock, and makes one actor per replica (kaon.exec.ray.replicanode.ReplicaHost):
wherever Ray places it, it unpacks the files, builds or reuses the environment on its node and
runs the replica there, reachable at `tcp://<node ip>:<port>`.

A poller thread asks every actor for its state every `POLL_SECONDS` (status() answers from
that, without a round trip: the gateway calls it per request) and forwards the replicas' log
lines. A replica process that exits is restarted on its node by the local backend, with its
backoff; an actor that dies (its node lost, its process killed) is made again, anywhere Ray
can, after a delay that doubles from `backoff[0]` to `backoff[1]`. Both count as restarts.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput
from kaon.exec.ray.connect import connect, health
from kaon.exec.ray.replicanode import Poll, ReplicaHost, Source, lock_of, pack
from kaon.exec.replicaproc import safe_log
from kaon.ports.content import Content
from kaon.ports.envbuilder import LogSink
from kaon.ports.replicas import ReplicaSpec, ReplicaStatus

POLL_SECONDS = 0.5
CALL_SECONDS = 30.0  # an actor's answer to a stop
BACKOFF = (0.5, 30.0)


@dataclass
class _Member:
    """One replica: its actor, and what the last poll said."""

    index: int
    actor: Any = None  # the ActorHandle; None while waiting to be made again
    address: str = ""
    restarts: int = 0  # of its replica process, as its actor counts them
    deaths: int = 0  # of its actor
    last_error: str = ""
    delay: float = 0.0
    next_start: float = 0.0
    pending: Any = None  # the ObjectRef of a poll not answered yet


@dataclass
class _Group:
    spec: ReplicaSpec
    log: LogSink
    source: Any  # ObjectRef of the Source
    lock: Any  # EnvLock | None
    members: list[_Member] = field(default_factory=list)


class RayReplicas:
    """Replicas over Ray actors; every method is thread-safe."""

    def __init__(
        self,
        address: str,
        content: Content,
        scratch: Path,
        cpus: float = 1.0,
        resources: dict[str, float] | None = None,
        backoff: tuple[float, float] = BACKOFF,
    ) -> None:
        self._address = address
        self._content = content
        self._scratch = scratch
        self._cpus = cpus
        self._resources = dict(resources or {})
        self._backoff = backoff
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()
        self._control = threading.Lock()  # one start/stop at a time
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def can_sandbox(self) -> bool:
        # the replicas run on the cluster's nodes, where the platform's folders are not (and
        # in bubblewrap there, hiding `hidden` where it exists, when the node has it)
        return True

    def health(self) -> BackendHealth:
        return health(self._address, BackendRole.REPLICAS)

    def start(self, spec: ReplicaSpec, log: LogSink) -> None:
        if spec.replicas < 1:
            raise InvalidInput(
                f"endpoint {spec.name} needs at least 1 replica, not {spec.replicas}"
            )
        self._scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="code-", dir=self._scratch))
        try:
            self._content.checkout(spec.code, folder)
            data = pack(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        connect(self._address)
        group = _Group(spec, log, ray.put(Source(data)), lock_of(spec.env))
        group.members = [_Member(i) for i in range(spec.replicas)]
        with self._control:
            with self._lock:
                old = self._groups.pop(spec.name, None)
            if old is not None:
                self._halt(old)
            for member in group.members:
                self._make(group, member)
            with self._lock:
                self._groups[spec.name] = group
                if self._poller is None or not self._poller.is_alive():
                    self._stop.clear()
                    self._poller = threading.Thread(
                        target=self._poll_loop, name="ray-replicas", daemon=True
                    )
                    self._poller.start()

    def stop(self, name: str) -> None:
        with self._control:
            with self._lock:
                group = self._groups.pop(name, None)
            if group is not None:
                self._halt(group)

    def stop_all(self) -> None:
        with self._control:
            with self._lock:
                groups = list(self._groups.values())
                self._groups.clear()
            for group in groups:
                self._halt(group)
        self._stop.set()
        if self._poller is not None:
            self._poller.join(CALL_SECONDS)

    def status(self, name: str) -> ReplicaStatus | None:
        with self._lock:
            group = self._groups.get(name)
            if group is None:
                return None
            ready = tuple(m.address for m in group.members if m.address)
            errors = [m.last_error for m in group.members if m.last_error]
            return ReplicaStatus(
                ready=len(ready),
                wanted=group.spec.replicas,
                restarts=sum(m.restarts + m.deaths for m in group.members),
                last_error=errors[-1] if errors else "",
                addresses=ready,
            )

    def recycle(self, name: str, address: str) -> bool:
        with self._lock:
            group = self._groups.get(name)
            member = (
                next((m for m in group.members if m.address == address), None) if group else None
            )
            if group is None or member is None or member.actor is None:
                return False
            member.address = ""  # out of the rotation at once; its node restarts it
            actor = member.actor
        safe_log(
            group.log,
            f"[replica {member.index}] did not answer within the request timeout: restarting it",
        )
        actor.recycle.remote()
        return True

    # -- actors ----------------------------------------------------------------------------

    def _make(self, group: _Group, member: _Member) -> None:
        options: dict[str, Any] = {"num_cpus": self._cpus, "max_restarts": 0}
        if self._resources:
            options["resources"] = self._resources
        remote = ray.remote(ReplicaHost).options(**options)
        member.actor = remote.remote(group.spec, member.index, group.source, group.lock)
        member.address, member.pending = "", None

    def _halt(self, group: _Group) -> None:
        """Stop every replica of `group` (the actors end their replicas, then are killed)."""
        calls = [(m.actor, m.actor.stop.remote()) for m in group.members if m.actor is not None]
        for actor, call in calls:
            with contextlib.suppress(Exception):
                ray.get(call, timeout=CALL_SECONDS)
            with contextlib.suppress(Exception):
                ray.kill(actor)
        for member in group.members:
            member.actor, member.address, member.pending = None, "", None

    def _poll_loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                groups = list(self._groups.values())
            for group in groups:
                with contextlib.suppress(Exception):  # the cluster away: next round
                    self._poll(group)

    def _poll(self, group: _Group) -> None:
        """Ask every actor of `group` for its state (one question in flight per actor: one
        still building its environment answers later) and take the answers that came."""
        now = time.monotonic()
        for member in group.members:
            if member.actor is None:
                if now >= member.next_start:
                    with self._control:
                        if self._groups.get(group.spec.name) is group:
                            self._make(group, member)
                continue
            if member.pending is None:
                member.pending = member.actor.poll.remote()
        asked = [m for m in group.members if m.pending is not None]
        if not asked:
            return
        done, _ = ray.wait([m.pending for m in asked], num_returns=len(asked), timeout=0.2)
        for member in asked:
            if member.pending not in done:
                continue
            call, member.pending = member.pending, None
            try:
                answer: Poll = ray.get(call)
            except ray.exceptions.RayActorError as exc:
                self._died(group, member, exc)
                continue
            for line in answer.lines:
                safe_log(group.log, line)
            with self._lock:
                member.address = answer.address
                member.restarts = answer.restarts
                if answer.last_error:
                    member.last_error = answer.last_error

    def _died(self, group: _Group, member: _Member, exc: BaseException) -> None:
        """`member`'s actor is gone: make it again after its delay."""
        if self._groups.get(group.spec.name) is not group:
            return  # stopped meanwhile: it was killed on purpose
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        member.delay = min(max(member.delay * 2, self._backoff[0]), self._backoff[1])
        with self._lock:
            member.actor, member.address, member.pending = None, "", None
            member.deaths += 1
            member.last_error = f"replica {member.index} lost its Ray actor: {first}"
        member.next_start = time.monotonic() + member.delay
        safe_log(
            group.log,
            f"[replica {member.index}] its Ray actor died ({first}); "
            f"starting it again in {member.delay:g} s",
        )
