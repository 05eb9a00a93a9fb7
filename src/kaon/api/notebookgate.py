"""The gateway's notebook branch: `/<notebook>/...` over HTTP and websockets (kernels,
terminals) to the notebook's JupyterLab on its unix socket.

A request needs the notebook's token — `?token=`, `Authorization: token|Bearer <token>` — or
the cookie the gateway set when it last saw that token (`kaon-notebook-<name>`, path
`/<name>/`, HttpOnly, SameSite=Strict, Max-Age COOKIE_TTL): `<expiry>.<HMAC-SHA256 of the
notebook's name, its token's digest and the expiry>`, keyed by `Gate.cookie_key` (derived from
the server secret every server shares: one server's cookie opens the notebook through
another; a redeploy's new token voids the old cookies). Anything else — no token, a wrong
one, a forged or expired cookie — is refused with 403 before it reaches JupyterLab, whose own
token auth stays on behind it. The Host header goes through unchanged
(Jupyter compares a websocket's Origin with it). Bodies stream both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from websockets.asyncio.client import ClientConnection, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from kaon.api.replies import Receive, Scope, Send, error, header
from kaon.core.notebooks import Gate, token_digest

if TYPE_CHECKING:
    import httpx

COOKIE_TTL = 12 * 3600  # seconds a cookie opens its notebook; then the token is asked again
HOPS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_WS_SKIP = HOPS | {
    b"host",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-extensions",
    b"sec-websocket-protocol",
}


def cookie_name(name: str) -> str:
    return f"kaon-notebook-{name}"


def cookie_value(name: str, gate: Gate, expires: int) -> str:
    """The signed cookie of notebook `name` that is good until `expires` (unix seconds)."""
    signed = f"{name}\0{gate.token_digest}\0{expires}".encode()
    return f"{expires}.{hmac.new(gate.cookie_key, signed, hashlib.sha256).hexdigest()}"


def cookie_ok(name: str, gate: Gate, value: str, now: float) -> bool:
    """Whether `value` is a cookie this platform signed for `name` and not expired."""
    expires, dot, _ = value.partition(".")
    if not gate.cookie_key or not dot or not expires.isdigit() or int(expires) <= now:
        return False
    return hmac.compare_digest(value, cookie_value(name, gate, int(expires)))


def presented(scope: Scope) -> str | None:
    """The token the request carries (query or Authorization), None when it carries none."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return str(query["token"][0])
    auth = header(scope, b"authorization").decode("latin-1")
    kind, _, value = auth.partition(" ")
    if kind.lower() in ("token", "bearer") and value:
        return value.strip()
    return None


def admitted(scope: Scope, name: str, gate: Gate, now: float | None = None) -> tuple[bool, bool]:
    """(may pass, set the cookie): a right token, or an unexpired cookie signed for it."""
    token = presented(scope)
    if token is not None:
        ok = hmac.compare_digest(token_digest(token), gate.token_digest)
        return ok, ok
    cookies = SimpleCookie()
    with contextlib.suppress(Exception):
        cookies.load(header(scope, b"cookie").decode("latin-1"))
    morsel = cookies.get(cookie_name(name))
    when = time.time() if now is None else now
    return morsel is not None and cookie_ok(name, gate, morsel.value, when), False


class NotebookGate:
    def __init__(self) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def __call__(
        self, name: str, gate: Gate, scope: Scope, receive: Receive, send: Send
    ) -> None:
        ok, remember = admitted(scope, name, gate)
        websocket = scope["type"] == "websocket"
        if not ok:
            if websocket:
                await send({"type": "websocket.close", "code": 1008})  # 403 before accept
            else:
                await error(
                    send,
                    403,
                    f"notebook {name} needs its token: open /{name}/lab?token=<token> (the "
                    "token `kaon notebook deploy` printed)",
                )
            return
        if gate.socket is None:
            if websocket:
                await send({"type": "websocket.close", "code": 1013})
            else:
                await error(
                    send,
                    503,
                    f"notebook {name} is {gate.state.value}, JupyterLab not answering yet: see "
                    f"`kaon notebook logs -n {name}`",
                    [(b"retry-after", b"2")],
                )
            return
        if websocket:
            await self._websocket(gate.socket, scope, receive, send)
        else:
            extra = _cookie(name, gate) if remember else []
            await self._http(gate.socket, scope, receive, send, extra)

    async def _http(
        self,
        socket: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        client = self._clients.get(socket)
        if client is None:
            import httpx  # on first use: httpx (~40 ms) is no part of a server's start

            transport = httpx.AsyncHTTPTransport(uds=socket)
            client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(None, connect=5))
            self._clients[socket] = client
        failed = await relay_http(client, "http://localhost", scope, receive, send, extra)
        if failed:
            await error(send, 502, f"the notebook's JupyterLab did not answer: {failed}")

    async def _websocket(self, socket: str, scope: Scope, receive: Receive, send: Send) -> None:
        async def upstream(
            uri: str, headers: list[tuple[str, str]], protocols: list[str] | None
        ) -> ClientConnection:
            return await unix_connect(
                socket,
                uri,
                additional_headers=headers,
                subprotocols=protocols,
                max_size=None,
                compression=None,
                open_timeout=10,
            )

        await relay_websocket(upstream, scope, receive, send)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


Upstream = Callable[[str, list[tuple[str, str]], list[str] | None], Awaitable[ClientConnection]]


async def relay_http(
    client: httpx.AsyncClient,
    base: str,
    scope: Scope,
    receive: Receive,
    send: Send,
    extra: list[tuple[bytes, bytes]],
    more: list[tuple[bytes, bytes]] | None = None,
) -> str:
    """The request to `base` + its path (headers but the hop-by-hop ones, and `more`), the
    answer streamed back; "" once it is, else why it could not be sent (nothing sent yet)."""
    import httpx  # imported already: `client` is one

    headers = [(k, v) for k, v in scope.get("headers", ()) if k not in HOPS] + (more or [])
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = httpx.URL(f"{base}{path.decode('latin-1')}", query=query)
    request = client.build_request(scope["method"], url, headers=headers, content=_body(receive))
    try:
        answer = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        return str(exc) or type(exc).__name__
    try:
        out = [(k, v) for k, v in answer.headers.raw if k.lower() not in HOPS]
        await send(
            {"type": "http.response.start", "status": answer.status_code, "headers": out + extra}
        )
        async for chunk in answer.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await answer.aclose()
    return ""


async def relay_websocket(
    upstream: Upstream,
    scope: Scope,
    receive: Receive,
    send: Send,
    more: list[tuple[str, str]] | None = None,
) -> None:
    """The websocket opened by `upstream(uri, headers, subprotocols)` (the caller's headers
    but the handshake's own, and `more`) relayed both ways; refused (403) when it refuses."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    host = header(scope, b"host").decode("latin-1") or "localhost"
    query = scope.get("query_string", b"").decode("latin-1")
    uri = f"ws://{host}{scope['path']}" + (f"?{query}" if query else "")
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope.get("headers", ())
        if k not in _WS_SKIP
    ] + (more or [])
    try:
        opened = await upstream(uri, headers, scope.get("subprotocols") or None)
    except (OSError, InvalidStatus, WebSocketException, TimeoutError):
        await send({"type": "websocket.close", "code": 1011})
        return
    accept: dict[str, object] = {"type": "websocket.accept"}
    if opened.subprotocol:
        accept["subprotocol"] = opened.subprotocol
    await send(accept)
    async with opened:
        down = asyncio.create_task(_downstream(opened, send))
        try:
            await _upstream(opened, receive)
        finally:
            down.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await down


async def _upstream(upstream: ClientConnection, receive: Receive) -> None:
    """The browser's messages to JupyterLab until either side closes."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close()
            return
        if message["type"] != "websocket.receive":
            continue
        try:
            if message.get("bytes") is not None:
                await upstream.send(message["bytes"])
            elif message.get("text") is not None:
                await upstream.send(message["text"])
        except ConnectionClosed:
            return


async def _downstream(upstream: ClientConnection, send: Send) -> None:
    """JupyterLab's messages to the browser; its close closes the browser's socket."""
    code = 1000
    try:
        async for data in upstream:
            if isinstance(data, bytes):
                await send({"type": "websocket.send", "bytes": data})
            else:
                await send({"type": "websocket.send", "text": data})
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else 1011
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code})


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


def _cookie(name: str, gate: Gate) -> list[tuple[bytes, bytes]]:
    if not gate.cookie_key:
        return []
    signed = cookie_value(name, gate, int(time.time() + COOKIE_TTL))
    value = (
        f"{cookie_name(name)}={signed}; Path=/{name}/; Max-Age={COOKIE_TTL}; HttpOnly; "
        "SameSite=Strict"
    )
    return [(b"set-cookie", value.encode())]
