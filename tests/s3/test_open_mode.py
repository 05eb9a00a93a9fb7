"""KAON_S3_ANONYMOUS=1: the explicit open local mode takes unsigned requests (in process)."""

from __future__ import annotations

import asyncio

import httpx

from kaon.api.s3.dispatch import S3App
from kaon.core.address import Ref
from kaon.wiring import Platform


def call(app: S3App, method: str, path: str, body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s3") as client:
            return await client.request(method, path, content=body)

    return asyncio.run(go())


def test_anonymous_only_in_open_mode(platform: Platform) -> None:
    closed, open_ = S3App(platform), S3App(platform, anonymous=True)
    refused = call(closed, "GET", "/")
    assert refused.status_code == 403 and "<Code>AccessDenied</Code>" in refused.text
    assert call(open_, "PUT", "/master.anon").status_code == 200
    assert call(open_, "PUT", "/master.anon/a/b.txt", b"hello").status_code == 200
    assert call(open_, "GET", "/master.anon/a/b.txt").content == b"hello"
    listing = call(open_, "GET", "/master.anon?list-type=2&prefix=a/")
    assert "<Key>a/b.txt</Key>" in listing.text and "<KeyCount>1</KeyCount>" in listing.text
    (commit,) = platform.repos.history("anon", Ref("master"), None)
    assert commit.author == "anonymous (s3)"
    missing = call(open_, "GET", "/master.anon/nope")
    assert missing.status_code == 404 and "<Code>NoSuchKey</Code>" in missing.text
    assert "<Resource>/master.anon/nope</Resource>" in missing.text
