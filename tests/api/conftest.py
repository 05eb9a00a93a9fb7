"""The FastAPI app in process (TestClient) over a real platform: SQLite metadata in a temp
dir and the memory object store (the local store is exercised by the live-server tests)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

with warnings.catch_warnings():
    # starlette >= 1.x prefers the `httpx2` fork and warns when it falls back to httpx
    # (the dev dependency); the behaviour is the same.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from kaon.api.asgi import create_app
from kaon.wiring import Backends, Platform

TOKEN = "test-token-0123456789"


@pytest.fixture
def platform(platform_factory) -> Platform:  # type: ignore[no-untyped-def]
    p: Platform = platform_factory(store="memory")
    return p


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def app_client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform, TOKEN), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(app_client: TestClient) -> TestClient:
    """Authenticated."""
    app_client.headers["Authorization"] = f"Bearer {TOKEN}"
    return app_client


Committer = Callable[..., dict[str, Any]]


@pytest.fixture
def commit_files(api: TestClient, make_pack) -> Committer:  # type: ignore[no-untyped-def]
    """Upload the files' chunks as one pack and commit them, all over HTTP."""

    def commit(
        repo: str,
        files: Mapping[str, bytes],
        deletes: list[str] | None = None,
        branch: str = "master",
        message: str = "",
    ) -> dict[str, Any]:
        contents = [data for data in files.values() if data]
        refs: list[Any] = []
        if contents:
            body, refs = make_pack(contents)
            r = api.post("/v1/packs", content=body)
            assert r.status_code == 201, r.text
        by_digest = iter(refs)
        puts = []
        for path, data in files.items():
            chunks = [[next(by_digest).digest, len(data)]] if data else []
            puts.append({"path": path, "size": len(data), "chunks": chunks})
        r = api.post(
            f"/v1/repos/{repo}/commits",
            json={"branch": branch, "message": message, "puts": puts, "deletes": deletes or []},
        )
        assert r.status_code == 201, r.text
        doc: dict[str, Any] = r.json()
        return doc

    return commit


@pytest.fixture
def statements(backends: Backends) -> Iterator[list[str]]:
    """Every SQL statement the platform's database runs while the test looks."""
    engine: Engine = backends.database.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
