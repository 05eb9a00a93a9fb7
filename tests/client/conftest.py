"""SDK tests against the real server of `live_server` (one per session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kaon.client import Client


@pytest.fixture
def client(live_server) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    c = Client(live_server.url, live_server.token)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def repo(client: Client) -> Iterator[str]:
    """A fresh repo (the server is shared by the session), deleted afterwards."""
    name = "t-" + uuid.uuid4().hex[:12]
    client.create_repo(name)
    try:
        yield name
    finally:
        client.delete_repo(name)
