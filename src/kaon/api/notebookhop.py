"""The gateway's `/<notebook>/...` for a notebook another server runs (several servers share
one platform: kaon.services.notebookplaces): HTTP (streamed both ways) and websockets
(kernels, terminals) go to that server's gateway as they came — the caller's token, cookie
and Host unchanged: that server checks the token (a wrong one gets its 403) and its
JupyterLab compares a websocket's Origin with the Host — marked `X-Kaon-Forwarded: <this
server's id>`, so a request that came from another server is never sent on again (no loops).

A notebook whose server is gone answers 503 naming the notebook and that server (its
working folder is on that server's disk: it is not taken over); a server that does not
answer, 503 too (it may be dying: its claim expires within the claim time).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kaon.api.notebookgate import Upstream, relay_http, relay_websocket
from kaon.api.replies import Receive, Scope, Send, error, header
from kaon.core.placement import FORWARDED
from kaon.services.notebookplaces import Elsewhere
from kaon.services.notebooks import NotebookService

if TYPE_CHECKING:
    import httpx


class NotebookHop:
    def __init__(self, notebooks: NotebookService, server: str) -> None:
        self._notebooks = notebooks
        self._server = server  # this server's id: X-Kaon-Forwarded
        self._client: httpx.AsyncClient | None = None

    async def find(self, name: str) -> Elsewhere | None:
        """Where live notebook `name` runs when another server runs it (a database read)."""
        if not name:
            return None
        return await asyncio.get_running_loop().run_in_executor(None, self._notebooks.away, name)

    async def __call__(self, away: Elsewhere, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = scope["type"] == "websocket"
        why = away.gone
        if not why and header(scope, FORWARDED):  # sent here by a server that thinks it runs here
            why = f"notebook {away.name} does not run on this server: it runs on {away.url}"
        if why:
            if websocket:
                await send({"type": "websocket.close", "code": 1013})
            else:
                await error(send, 503, why, [(b"retry-after", b"2")])
            return
        mark = FORWARDED.decode()
        if websocket:
            await relay_websocket(
                self._upstream(away.url), scope, receive, send, [(mark, self._server)]
            )
            return
        if self._client is None:
            import httpx  # on first use: httpx (~40 ms) is no part of a server's start

            self._client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        more = [(FORWARDED, self._server.encode())]
        failed = await relay_http(self._client, away.url, scope, receive, send, [], more)
        if failed:
            await error(
                send,
                503,
                f"notebook {away.name} runs on server {away.url}, which did not answer "
                f"({failed}): retry",
                [(b"retry-after", b"2")],
            )

    def _upstream(self, url: str) -> Upstream:
        target = urlsplit(url)

        async def opened(
            uri: str, headers: list[tuple[str, str]], protocols: list[str] | None
        ) -> ClientConnection:
            return await connect(
                uri,  # the caller's Host, sent to the owner's address
                host=target.hostname,
                port=target.port or 80,
                additional_headers=headers,
                subprotocols=[Subprotocol(p) for p in protocols] if protocols else None,
                max_size=None,
                compression=None,
                open_timeout=10,
            )

        return opened

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
