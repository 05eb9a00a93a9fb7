"""Half-sent `POST /v1/packs`: the server reserves no memory for a declared size, and caps the
uploads it receives at once with a 503 + Retry-After that the SDK honours."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from kaon.api.routes.chunks import MAX_RECEIVING
from kaon.client import Client
from kaon.core.errors import BackendUnavailable

MiB = 1024 * 1024
DECLARED = 256 * MiB


@pytest.fixture
def server(own_server: Any) -> Any:
    """The module's own server (the tests hold every upload slot of it)."""
    return own_server


def _server_pid(home: Path) -> int:
    import json

    return int(json.loads((home / "server.json").read_text())["pid"])


@contextlib.contextmanager
def half_sent(server: Any, count: int, sent: int = MiB) -> Iterator[list[socket.socket]]:
    """`count` connections that each declared DECLARED bytes of pack and sent `sent`."""
    url = urlsplit(server.url)
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.create_connection((url.hostname, url.port), timeout=30)
            socks.append(s)
            s.sendall(
                b"POST /v1/packs HTTP/1.1\r\n"
                + f"Host: {url.netloc}\r\n".encode()
                + f"Authorization: Bearer {server.token}\r\n".encode()
                + f"Content-Length: {DECLARED}\r\n\r\n".encode()
                + b"KPK1"
                + b"\0" * (sent - 4)
            )
        yield socks
    finally:
        for s in socks:
            s.close()


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_half_sent_packs_do_not_pin_their_declared_size(server: Any) -> None:
    pid = _server_pid(server.home)
    with Client(server.url, server.token) as c:
        c.health()
    before = _rss(pid)
    with half_sent(server, 16):
        time.sleep(2.0)  # let the server take what was sent (not an assertion on time)
        grown = _rss(pid) - before
        with Client(server.url, server.token) as c:
            assert c.health()  # still answering
    # 16 x 256 MiB declared: the old server reserved ~215 MiB each (3.4 GiB)
    assert grown < 200 * MiB, f"server RSS grew by {grown / MiB:.0f} MiB"


def test_too_many_uploads_at_once_answer_503_with_retry_after(server: Any) -> None:
    url = urlsplit(server.url)
    with half_sent(server, MAX_RECEIVING, sent=4096):
        time.sleep(1.0)  # the server has taken them (all slots busy)
        with socket.create_connection((url.hostname, url.port), timeout=30) as s:
            s.sendall(
                b"POST /v1/packs HTTP/1.1\r\n"
                + f"Host: {url.netloc}\r\n".encode()
                + f"Authorization: Bearer {server.token}\r\n".encode()
                + b"Content-Length: 4096\r\nConnection: close\r\n\r\n"
                + b"\0" * 4096
            )
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    head = answer.decode(errors="replace").lower()
    assert head.startswith("http/1.1 503"), head[:200]
    assert "retry-after:" in head
    assert "uploads at once" in head


def test_the_sdk_waits_and_retries_when_told_to(server: Any, make_pack: Any) -> None:
    body, refs = make_pack([b"retried after a 503"])
    result: list[object] = []

    def upload() -> None:
        with Client(server.url, server.token) as c:
            try:
                result.append(c.upload_pack(body))
            except BackendUnavailable as exc:
                result.append(exc)

    with half_sent(server, MAX_RECEIVING, sent=4096):
        time.sleep(1.0)
        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(1.5)  # it has been refused at least once by now
    thread.join(timeout=60)
    assert len(result) == 1
    assert isinstance(result[0], dict), result[0]
    with Client(server.url, server.token) as c:
        assert c.missing_chunks([r.digest for r in refs]) == []
