"""Bearer-token auth: everything but health and the API description needs the token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

SECURED = [
    ("GET", "/v1/repos"),
    ("POST", "/v1/repos"),
    ("GET", "/v1/repos/r"),
    ("DELETE", "/v1/repos/r"),
    ("GET", "/v1/repos/r/branches"),
    ("PUT", "/v1/repos/r/branches/dev"),
    ("DELETE", "/v1/repos/r/branches/dev"),
    ("GET", "/v1/repos/r/commits"),
    ("POST", "/v1/repos/r/commits"),
    ("GET", "/v1/repos/r/commits/master"),
    ("GET", "/v1/repos/r/files"),
    ("GET", "/v1/repos/r/stat"),
    ("GET", "/v1/repos/r/content"),
    ("GET", "/v1/repos/r/archive"),
    ("GET", "/v1/repos/r/diff"),
    ("POST", "/v1/chunks/missing"),
    ("POST", "/v1/packs"),
    ("POST", "/v1/gc"),
]


def assert_denied(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "token" in body["message"]
    assert body["details"] == {}


@pytest.mark.parametrize(("method", "path"), SECURED)
def test_no_token(app_client: TestClient, method: str, path: str) -> None:
    assert_denied(app_client.request(method, path))


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong", "Bearer ", "Basic dGVzdA==", "test-token-0123456789", "Bearer  x"],
)
def test_wrong_token(app_client: TestClient, header: str) -> None:
    assert_denied(app_client.get("/v1/repos", headers={"Authorization": header}))


def test_right_token(app_client: TestClient, token: str) -> None:
    r = app_client.get("/v1/repos", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == []
    # the scheme is case-insensitive
    r = app_client.get("/v1/repos", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200


def test_no_token_and_a_body_is_still_401(app_client: TestClient) -> None:
    assert_denied(app_client.post("/v1/repos", json={"name": "x"}))
    assert_denied(app_client.post("/v1/packs", content=b"KPK1"))


def test_health_is_open(app_client: TestClient) -> None:
    r = app_client.get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"]


def test_openapi_is_served(app_client: TestClient) -> None:
    r = app_client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "kaon"
    for path in ("/v1/health", "/v1/repos", "/v1/repos/{repo}/content", "/v1/packs", "/v1/gc"):
        assert path in spec["paths"]


def test_docs_are_served(app_client: TestClient) -> None:
    assert app_client.get("/docs").status_code == 200
