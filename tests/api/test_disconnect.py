"""A client that goes away in the middle of an upload is not a server failure: one line in the
log, no traceback, no "internal error" (reliability report F16)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit


def test_a_client_gone_mid_pack_is_one_warning_line(own_server) -> None:  # type: ignore[no-untyped-def]
    url = urlsplit(own_server.url)
    log = own_server.home / "server.log"
    for _ in range(3):
        with socket.create_connection((url.hostname, url.port), timeout=5) as s:
            s.sendall(
                b"POST /v1/packs HTTP/1.1\r\n"
                + f"Host: {url.netloc}\r\n".encode()
                + f"Authorization: Bearer {own_server.token}\r\n".encode()
                + b"Content-Length: 1048576\r\n\r\n"
                + b"KPK1"
                + b"\0" * 4096
            )
            time.sleep(0.2)  # the server is reading the body when the client goes
    deadline = time.monotonic() + 10
    while log.read_text().count("POST /v1/packs") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert text.count("client disconnected during POST /v1/packs") == 3, text
    assert "Traceback" not in text
    assert "internal error" not in text
