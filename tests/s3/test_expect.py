"""An error answered before the request body was read (Expect: 100-continue, or a body sent
anyway) must not leave that body on a reused connection, where it would be read as the next
request: the gateway drains it or says `Connection: close`."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from .conftest import Gateway
from .test_gateway import code

pytestmark = pytest.mark.e2e


def test_boto3_client_survives_an_early_error(gateway: Gateway) -> None:
    s3 = gateway.client()  # one client: one pooled connection, reused
    s3.create_bucket(Bucket="master.expect")
    for size in (1, 100, 700, 5000):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket="master.nosuchrepo", Key="k", Body=b"x" * size)
        assert code(exc) == ("NoSuchBucket", 404)
        put = s3.put_object(Bucket="master.expect", Key=f"k{size}", Body=b"y" * size)
        got = s3.get_object(Bucket="master.expect", Key=f"k{size}")
        assert got["ETag"] == put["ETag"] and got["Body"].read() == b"y" * size
    s3.close()


def _request(url: str, head: str) -> socket.socket:
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    sock.sendall(head.encode())
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response read off `sock` (a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed before a response: {data!r}"
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    size = int(headers.get("content-length", "0"))
    while len(rest) < size:
        piece = sock.recv(65536)
        assert piece
        rest += piece
    return int(lines[0].split()[1]), headers, rest[:size]


def _after(sock: socket.socket, url: str) -> None:
    """The connection answers the next request right."""
    u = urlparse(url)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
    status, _, body = _response(sock)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, body


@pytest.mark.parametrize("expect", [True, False])
def test_raw_socket_early_error(gateway: Gateway, expect: bool) -> None:
    host = urlparse(gateway.url).netloc
    extra = "Expect: 100-continue\r\n" if expect else ""
    head = f"PUT /master.nobucket/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: 300\r\n{extra}\r\n"
    with _request(gateway.url, head) as sock:
        if expect:  # a small body: the server asks for it and drops it
            status, _, _ = _response(sock)
            assert status == 100
        sock.sendall(b"z" * 300)
        status, headers, body = _response(sock)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body  # unsigned
        assert headers.get("connection", "").lower() != "close", headers
        _after(sock, gateway.url)


def test_raw_socket_early_error_big_body(gateway: Gateway) -> None:
    """A big body is not asked for: the answer comes at once and closes the connection."""
    host = urlparse(gateway.url).netloc
    size = 1 << 30
    head = (
        f"PUT /master.nobucket/k HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with _request(gateway.url, head) as sock:
        status, headers, body = _response(sock)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body
        assert headers.get("connection", "").lower() == "close", headers
        assert sock.recv(100) == b""  # closed


def test_conditional_put_refused_before_the_body(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.expect2")
    s3.put_object(Bucket="master.expect2", Key="k", Body=b"1")
    for _ in range(3):  # each 412 comes before the body; the connection stays usable
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket="master.expect2", Key="k", Body=b"2" * 600, IfNoneMatch="*")
        assert code(exc) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="master.expect2", Key="k")["Body"].read() == b"1"
