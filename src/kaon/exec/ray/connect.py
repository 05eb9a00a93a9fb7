"""One connection of this process to a Ray cluster, shared by the Ray backends (the executor
and the replicas): `ray://host:port` through Ray Client, or `ray` / `auto` for the cluster
this machine is part of (`ray.init("auto")`). Ray allows one connection per process: a second
address is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlparse

import ray
from ray._private import ray_constants

from kaon.core.backends import BackendHealth, BackendRole, redact_url
from kaon.core.errors import BackendUnavailable, InvalidInput

ATTEMPTS = 3
CONNECT_SECONDS = 5.0  # to reach the head's client port before Ray's own (slow) retries
_lock = threading.Lock()
_connected: str | None = None


def address_of(url: str) -> str:
    """What ray.init takes for a KAON_EXECUTOR value: `ray://host:port`, or "auto"."""
    if url in ("ray", "auto", "ray://"):
        return "auto"
    parsed = urlparse(url)
    if parsed.scheme != "ray" or not parsed.hostname:
        raise InvalidInput(f"not a Ray address: {url!r}: use ray://host:10001 or ray")
    return f"ray://{parsed.hostname}:{parsed.port or 10001}"


def connect(url: str) -> str:
    """Connect this process to the cluster of `url` (once; again: nothing). Returns the
    address used. BackendUnavailable when the head does not answer."""
    global _connected
    address = address_of(url)
    with _lock:
        if _connected == address and ray.is_initialized():
            return address
        if address.startswith("ray://"):
            _reachable(address)
        if _connected is not None and ray.is_initialized():
            raise InvalidInput(
                f"this process is connected to Ray at {_connected}: it cannot also use {address}"
            )
        for name in ("ray", "ray.util.client"):
            logging.getLogger(name).setLevel(logging.WARNING)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # a server started by `uv run` would otherwise ship its working folder and `uv run`
        # to every worker: kaon's workers need neither (kaon is installed on the node)
        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
        for attempt in range(ATTEMPTS):  # the head's per-client server may fail to start
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
                break
            except Exception as exc:  # noqa: BLE001 (ConnectionError, grpc errors: "not there")
                with contextlib.suppress(Exception):
                    ray.shutdown()
                if attempt < ATTEMPTS - 1:
                    continue
                raise BackendUnavailable(
                    f"cannot connect to the Ray cluster at {redact_url(address)}: "
                    f"{_line(exc)}; start it (ray start --head --ray-client-server-port=10001) "
                    "or fix KAON_EXECUTOR"
                ) from None
        _connected = address
        return address


def _reachable(address: str) -> None:
    parsed = urlparse(address)
    host, port = parsed.hostname or "", parsed.port or 10001
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise BackendUnavailable(
            f"the Ray head at {address} does not answer ({exc.strerror or exc}): start it "
            "(ray start --head --ray-client-server-port=10001) or fix KAON_EXECUTOR"
        ) from None


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class NodeResources:
    host: str
    cpus: float
    gpus: float
    memory: float  # bytes


def nodes() -> list[NodeResources]:
    """The cluster's live nodes and what each has in all."""
    found = []
    for info in ray.nodes():  # type: ignore[no-untyped-call]
        if not info.get("Alive"):
            continue
        res = info.get("Resources", {})
        found.append(
            NodeResources(
                str(info.get("NodeManagerAddress", "?")),
                float(res.get("CPU", 0)),
                float(res.get("GPU", 0)),
                float(res.get("memory", 0)),
            )
        )
    return found


def health(url: str, role: BackendRole) -> BackendHealth:
    """The cluster as `kaon status` shows it; never raises."""
    shown = redact_url(url)
    try:
        connect(url)
        found = nodes()
    except Exception as exc:  # noqa: BLE001 (health never raises)
        return BackendHealth(role, shown, False, "", _line(exc))
    cpus = sum(n.cpus for n in found)
    gpus = sum(n.gpus for n in found)
    detail = f"{len(found)} node(s), {cpus:g} CPUs" + (f", {gpus:g} GPUs" if gpus else "")
    return BackendHealth(role, shown, bool(found), f"Ray {ray.__version__}", detail)


def disconnect() -> None:
    """Drop this process' connection (tests)."""
    global _connected
    with _lock:
        with contextlib.suppress(Exception):
            ray.shutdown()
        _connected = None
