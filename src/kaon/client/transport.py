"""HTTP transport over the standard library's http.client: one keep-alive connection per
thread, JSON helpers and streamed bodies. (httpx costs ~0.35 s of import time per CLI call;
the CLI must answer in ~0.3 s, see docs/architecture.md.)"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

from kaon.core.errors import BackendUnavailable, InvalidInput, KaonError, error_class_for

TIMEOUT = 300.0
PIECE = 1024 * 1024


class Response:
    def __init__(self, raw: http.client.HTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.getheaders()}

    def read(self) -> bytes:
        return self._raw.read()

    def json(self) -> Any:
        return json.loads(self._raw.read() or b"null")

    def iter_bytes(self, size: int = PIECE) -> Iterator[bytes]:
        while piece := self._raw.read(size):
            yield piece

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Read some of the body into `buffer`; the count (0 at its end)."""
        return self._raw.readinto(buffer)

    def reader(self, size: int = PIECE) -> io.BufferedReader:
        """The body as a buffered file: many small reads (a tar's headers) cost no syscall."""
        return io.BufferedReader(self._raw, size)


class Transport:
    def __init__(self, endpoint: str, token: str | None, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KaonError(f"invalid endpoint {endpoint!r}: expected http://host:port")
        self.endpoint = endpoint.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._local = threading.local()
        self._conns: set[http.client.HTTPConnection] = set()  # of every thread, for close()
        self._conns_lock = threading.Lock()

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.add(conn)
        return conn

    def _drop(self) -> None:
        """Close this thread's connection (the next request opens a fresh one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._conns_lock:
                self._conns.discard(conn)

    def close(self) -> None:
        """Close the connections of every thread that used this transport."""
        with self._conns_lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            conn.close()
        self._local = threading.local()

    @contextmanager
    def open(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[Response]:
        """Send a request (with `headers` besides the token) and yield its response (raising
        the server's KaonError on >= 400)."""
        url = self._base + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        headers = dict(self._headers) | (headers or {})
        body: bytes | None = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None:
            headers["Content-Type"] = "application/octet-stream"
        raw = self._send(method, url, body, headers)
        response = Response(raw)
        try:
            if response.status >= 400:
                raise error_from(response.status, response.read())
            yield response
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            # the body was cut (the server stopped mid-answer): not the caller's own I/O
            self._drop()
            raise self.unreachable(exc) from exc
        finally:
            if not raw.isclosed():
                try:
                    raw.read()
                except (OSError, http.client.HTTPException):
                    self._drop()

    def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, url, body=body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()  # a stale keep-alive connection: retry once on a fresh one
                if attempt:
                    raise self.unreachable(exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise self.unreachable(exc) from exc
        raise AssertionError("unreachable")

    def unreachable(self, exc: BaseException) -> BackendUnavailable:
        reason = "timed out" if isinstance(exc, socket.timeout) else type(exc).__name__
        return BackendUnavailable(
            f"cannot reach the kaon server at {self.endpoint} ({reason}): start it with "
            "`kaon up`, or point the CLI elsewhere with `kaon init -e URL`",
            reason=reason,
        )

    def raw(
        self, method: str, path: str, body: bytes, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        """A request whose HTTP errors are returned, not raised (the gateway's answers)."""
        headers = dict(self._headers) | {"Content-Type": content_type}
        response = self._send(method, self._base + path, body, headers)
        try:
            data = response.read()
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            self._drop()
            raise self.unreachable(exc) from exc
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.open(method, path, **kwargs) as response:
            return response.json()


def error_from(status: int, body: bytes) -> KaonError:
    try:
        doc = json.loads(body)
        cls = error_class_for(str(doc.get("code", "")))
        return cls(str(doc.get("message", "")), **(doc.get("details") or {}))
    except (ValueError, AttributeError):
        pass
    # not kaon's JSON error: the HTTP layer itself refused it (h11: a request line too long)
    said = body[:200].decode("utf-8", "replace").strip()
    if status in (400, 413, 414, 431):
        return InvalidInput(
            f"the server refused the request (HTTP {status}: {said}): an argument, such as an "
            "address or path, may be too long"
        )
    return KaonError(f"server answered HTTP {status}: {said}")
