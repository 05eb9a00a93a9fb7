"""Talking to replicas from the gateway: pooled Unix-socket connections with failover, and
adaptive batching (concurrent requests to one endpoint grouped into one predict call)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from kaon.core.endpoints import Batching
from kaon.runtime.protocol import ProtocolError, read_message, write_message
from kaon.services.serving import Route

IDLE_PER_REPLICA = 64
_CONNECT_ERRORS = (OSError, EOFError, ProtocolError, asyncio.IncompleteReadError)


class ReplicaError(Exception):
    """No replica could answer (all refused, crashed or vanished mid-request)."""


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class ReplicaPool:
    def __init__(self) -> None:
        self._idle: dict[str, list[Conn]] = {}

    async def _exchange(
        self, address: str, header: dict[str, Any], body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        idle = self._idle.setdefault(address, [])
        conn = idle.pop() if idle else await asyncio.open_unix_connection(address)
        reader, writer = conn
        try:
            await write_message(writer, header, body)
            reply = await read_message(reader)
        except BaseException:  # cancelled (timeout) or broken: this connection is not reused
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

    def _drop(self, address: str) -> None:
        for _, writer in self._idle.pop(address, []):
            writer.close()

    async def close(self) -> None:
        for address in list(self._idle):
            self._drop(address)


def _result(header: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    status = int(header.get("status", 500))
    if status != 200:
        import json

        return status, json.dumps({"error": header.get("error", "prediction failed")}).encode()
    return 200, body


class Batcher:
    """Collects requests for one endpoint: a batch leaves when it has `max_size` requests or
    `wait_ms` after its first one, whichever comes first; batches go out concurrently."""

    def __init__(self, pool: ReplicaPool, batching: Batching) -> None:
        self._pool = pool
        self._batching = batching
        self._queue: asyncio.Queue[tuple[Route, str, bytes, asyncio.Future[tuple[int, bytes]]]]
        self._queue = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._rr = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()

    def submit(
        self, route: Route, content_type: str, body: bytes
    ) -> asyncio.Future[tuple[int, bytes]]:
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((route, content_type, body, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._collect())
        return future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch = [first]
            deadline = loop.time() + self._batching.wait_ms / 1000
            while len(batch) < self._batching.max_size:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            task = asyncio.create_task(self._send(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
