"""uvicorn's httptools protocol with the writes of one event-loop turn sent together.

uvicorn writes an answer's status line and headers at `http.response.start` and its body at
`http.response.body`: two `send()` calls, two TCP segments (the socket has TCP_NODELAY) and two
wake-ups of the client for every prediction. Here a connection's writes are kept until the end
of the loop's turn and go out as one (the body follows its headers in the same turn: one
segment); closing the connection sends what is kept first. Measured on the prediction gateway
with benchmarks/serve.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _Coalescing:
    """A transport whose `write`s within one loop turn reach the real one as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._kept:
            self._loop.call_soon(self._flush)
        self._kept.append(bytes(data))

    def _flush(self) -> None:
        if not self._kept:
            return
        data = b"".join(self._kept) if len(self._kept) > 1 else self._kept[0]
        self._kept.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check
        real = cast(asyncio.Transport, transport)
        super().connection_made(cast(asyncio.Transport, _Coalescing(real, self.loop)))
