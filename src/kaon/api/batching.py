"""Talking to replicas from the gateway: pooled connections with failover, by the scheme of
each replica's address (`unix:///path` a Unix socket, `tcp://host:port` a TCP port, both
speaking kaon.runtime.protocol), and adaptive batching (concurrent requests to one endpoint
grouped into one predict call)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from typing import Any

from kaon.core.endpoints import Batching, socket_path, tcp_target
from kaon.runtime.protocol import ProtocolError, read_message, write_message
from kaon.services.endpointrun import Route

IDLE_PER_REPLICA = 64
_CONNECT_ERRORS = (OSError, EOFError, ProtocolError, asyncio.IncompleteReadError)


class ReplicaError(Exception):
    """No replica could answer (all refused, crashed or vanished mid-request)."""


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class ReplicaPool:
    def __init__(self) -> None:
        self._idle: dict[str, list[Conn]] = {}
        self._stuck: set[str] = set()  # replicas a timed-out request was waiting on

    async def _exchange(
        self, address: str, header: dict[str, Any], body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        idle = self._idle.setdefault(address, [])
        pooled = bool(idle)
        conn = idle.pop() if pooled else await _connect(address)
        reader, writer = conn
        try:
            await write_message(writer, header, body)
            reply = await read_message(reader)
        except asyncio.CancelledError:  # the request timed out while this replica had it
            writer.close()
            self._stuck.add(address)
            raise
        except _CONNECT_ERRORS:
            writer.close()
            if not pooled:
                raise
            # an idle connection to a process that is gone (a replica restarted at the same
            # address, e.g. a version started again by a rollback): its other idle ones are
            # stale too; this request goes over a fresh connection
            self._drop(address)
            return await self._exchange(address, header, body)
        except BaseException:  # broken: this connection is not reused
            writer.close()
            raise
        if len(idle) < IDLE_PER_REPLICA:
            idle.append(conn)
        else:
            writer.close()
        return reply

    async def call(
        self, addresses: tuple[str, ...], start: int, header: dict[str, Any], body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        """Send to the replica at `start` (round-robin), failing over to the others."""
        errors: list[str] = []
        for k in range(len(addresses)):
            address = addresses[(start + k) % len(addresses)]
            try:
                return await self._exchange(address, header, body)
            except _CONNECT_ERRORS as exc:
                self._drop(address)
                errors.append(f"{type(exc).__name__}: {exc}")
        raise ReplicaError(f"no replica answered ({'; '.join(errors) or 'none ready'})")

    async def predict(
        self, addresses: tuple[str, ...], start: int, content_type: str, body: bytes
    ) -> tuple[int, bytes]:
        header, out = await self.call(
            addresses, start, {"op": "predict", "id": "", "content_type": content_type}, body
        )
        return _result(header, out)

    def take_stuck(self) -> list[str]:
        """Replicas that held a request past its timeout since the last call."""
        stuck, self._stuck = list(self._stuck), set()
        for address in stuck:
            self._drop(address)
        return stuck

    def _drop(self, address: str) -> None:
        for _, writer in self._idle.pop(address, []):
            writer.close()

    async def close(self) -> None:
        """Close every idle connection and wait until their sockets are (the app stops)."""
        writers = [writer for conns in self._idle.values() for _, writer in conns]
        for address in list(self._idle):
            self._drop(address)
        for writer in writers:
            with contextlib.suppress(*_CONNECT_ERRORS):
                await writer.wait_closed()


async def _connect(address: str) -> Conn:
    path = socket_path(address)
    if path is not None:
        return await asyncio.open_unix_connection(path)
    target = tcp_target(address)
    if target is not None:
        return await asyncio.open_connection(*target)
    raise OSError(f"replica address {address!r}: the gateway connects to unix:// or tcp:// only")


def _result(header: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    status = int(header.get("status", 500))
    if status != 200:
        return status, json.dumps({"error": header.get("error", "prediction failed")}).encode()
    return 200, body


class Batcher:
    """Groups requests for one endpoint only when they would wait anyway: a request goes out
    at once while a replica has no batch in flight; while every replica is busy, requests pile
    up and leave together (up to `max_size`) as soon as one is free. No timer, so batching
    costs nothing at low load; `wait_ms` bounds how long a pile may wait for a free replica
    before it is sent regardless."""

    def __init__(self, pool: ReplicaPool, batching: Batching) -> None:
        self._pool = pool
        self._batching = batching
        self._queue: deque[tuple[Route, str, bytes, asyncio.Future[tuple[int, bytes]]]] = deque()
        self._rr = itertools.count()
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def submit(
        self, route: Route, content_type: str, body: bytes
    ) -> asyncio.Future[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self._queue.append((route, content_type, body, future))
        self._pump(force=False)
        if self._queue and self._timer is None:  # all replicas busy: do not wait forever
            self._timer = loop.call_later(self._batching.wait_ms / 1000, self._expire)
        return future

    def _expire(self) -> None:
        self._timer = None
        self._pump(force=True)

    def _pump(self, force: bool) -> None:
        while self._queue:
            capacity = max(1, len(self._queue[-1][0].addresses))
            if self._inflight >= capacity and not force:
                return
            batch = [
                self._queue.popleft() for _ in range(min(len(self._queue), self._batching.max_size))
            ]
            self._inflight += 1
            task = asyncio.create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._done)
            force = False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        self._pump(force=False)
        if not self._queue and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _send(
        self, batch: list[tuple[Route, str, bytes, asyncio.Future[tuple[int, bytes]]]]
    ) -> None:
        live = [item for item in batch if not item[3].done()]
        if not live:
            return
        route = live[-1][0]  # the freshest view of the replicas
        header = {
            "op": "batch",
            "id": "",
            "parts": [{"content_type": c, "size": len(b)} for _, c, b, _ in live],
        }
        try:
            reply, body = await self._pool.call(
                route.addresses, next(self._rr), header, b"".join(b for _, _, b, _ in live)
            )
        except ReplicaError as exc:
            for *_, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        parts = reply.get("parts") or []
        offset = 0
        for i, (*_, future) in enumerate(live):
            part: dict[str, Any] = (
                parts[i] if i < len(parts) else {"status": 500, "size": 0, "error": "lost"}
            )
            size = int(part.get("size", 0))
            piece = body[offset : offset + size]
            offset += size
            if not future.done():
                future.set_result(_result(part, piece))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
