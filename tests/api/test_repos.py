"""Repos, branches and commits over HTTP; the error body is {code, message, details}."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kaon.core.chunking import hash_chunk


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def test_create_get_list_delete(api: TestClient) -> None:
    r = api.post("/v1/repos", json={"name": "images", "description": "pics"})
    assert r.status_code == 201
    created = r.json()
    assert created["name"] == "images"
    assert created["description"] == "pics"
    assert (created["size"], created["branches"]) == (0, [])
    assert api.get("/v1/repos/images").json() == created
    api.post("/v1/repos", json={"name": "labels"})
    assert [x["name"] for x in api.get("/v1/repos").json()] == ["labels", "images"]
    r = api.delete("/v1/repos/images")
    assert r.status_code == 204
    assert r.content == b""
    error(api.get("/v1/repos/images"), 404, "repo_not_found")


def test_invalid_name_is_400(api: TestClient) -> None:
    body = error(api.post("/v1/repos", json={"name": "bad name"}), 400, "invalid_input")
    assert "invalid repo name 'bad name'" in body["message"]
    error(api.get("/v1/repos/bad%20name"), 400, "invalid_input")


def test_unknown_repo_is_404(api: TestClient) -> None:
    body = error(api.get("/v1/repos/nope"), 404, "repo_not_found")
    assert "repo 'nope' not found" in body["message"]
    for method, path in [
        ("DELETE", "/v1/repos/nope"),
        ("GET", "/v1/repos/nope/branches"),
        ("GET", "/v1/repos/nope/commits"),
        ("GET", "/v1/repos/nope/files"),
    ]:
        error(api.request(method, path), 404, "repo_not_found")


def test_duplicate_is_409(api: TestClient) -> None:
    api.post("/v1/repos", json={"name": "dup"})
    body = error(api.post("/v1/repos", json={"name": "dup"}), 409, "already_exists")
    assert "already exists" in body["message"]


@pytest.mark.parametrize(
    "body",
    [{}, {"name": 3}, {"description": "no name"}, [], "text"],
    ids=["empty", "not-a-string", "missing", "list", "text"],
)
def test_malformed_bodies_are_400(api: TestClient, body: Any) -> None:
    message = error(api.post("/v1/repos", json=body), 400, "invalid_input")["message"]
    assert message.startswith("invalid request:")


def test_not_json_is_400(api: TestClient) -> None:
    r = api.post("/v1/repos", content=b"{not json", headers={"Content-Type": "application/json"})
    error(r, 400, "invalid_input")


def test_branches(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "r"})
    c1 = commit_files("r", {"/a": b"1"})
    c2 = commit_files("r", {"/a": b"2"})
    r = api.put("/v1/repos/r/branches/dev", json={"head": "master^"})
    assert r.status_code == 200
    assert r.json() == {"repo": "r", "name": "dev", "head": c1["id"]}
    r = api.put("/v1/repos/r/branches/empty", json={})
    assert r.json()["head"] is None
    r = api.put("/v1/repos/r/branches/dev", json={"head": c2["id"]})  # moves it
    assert r.json()["head"] == c2["id"]
    assert api.get("/v1/repos/r/branches").json() == [
        {"repo": "r", "name": "dev", "head": c2["id"]},
        {"repo": "r", "name": "empty", "head": None},
        {"repo": "r", "name": "master", "head": c2["id"]},
    ]
    assert api.get("/v1/repos/r").json()["branches"] == ["dev", "empty", "master"]
    assert api.delete("/v1/repos/r/branches/dev").status_code == 204
    error(api.delete("/v1/repos/r/branches/dev"), 404, "branch_not_found")
    error(api.put("/v1/repos/r/branches/empty", json={}), 409, "already_exists")
    error(api.put("/v1/repos/r/branches/x", json={"head": "nope"}), 404, "branch_not_found")
    error(api.put("/v1/repos/r/branches/x", json={"head": "master^5"}), 404, "commit_not_found")


def test_commits(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "r"})
    c1 = commit_files("r", {"/a": b"hello", "/d/b": b"xy"}, message="first")
    c2 = commit_files("r", {"/c": b"!"}, deletes=["/a"], message="second")
    assert (c1["size"], c1["count"], c1["message"], c1["parent"]) == (7, 2, "first", None)
    assert (c2["size"], c2["count"], c2["parent"]) == (3, 2, c1["id"])
    listed = api.get("/v1/repos/r/commits").json()
    assert [c["id"] for c in listed] == [c2["id"], c1["id"]]
    assert api.get("/v1/repos/r/commits", params={"limit": 1}).json() == [c2]
    assert api.get("/v1/repos/r/commits", params={"ref": "master^"}).json() == [c1]
    assert api.get("/v1/repos/r/commits/master").json() == c2
    assert api.get(f"/v1/repos/r/commits/{c1['id'][:8]}").json() == c1
    assert api.get("/v1/repos/r/commits/master^").json() == c1
    assert api.get("/v1/repos/r").json()["size"] == 3
    error(api.get("/v1/repos/r/commits/master^2"), 404, "commit_not_found")
    error(api.get("/v1/repos/r/commits", params={"limit": 0}), 400, "invalid_input")
    error(api.get("/v1/repos/r/commits", params={"ref": ""}), 400, "invalid_input")


def test_commit_with_missing_chunks_is_409(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "r"})
    head = commit_files("r", {"/a": b"1"})
    never = hash_chunk(b"never uploaded")
    r = api.post(
        "/v1/repos/r/commits",
        json={"puts": [{"path": "/x", "size": 14, "chunks": [[never, 14]]}]},
    )
    body = error(r, 409, "missing_chunks")
    assert body["details"] == {"missing": [never]}
    assert api.get("/v1/repos/r/commits/master").json()["id"] == head["id"]


def test_invalid_commits_are_400(api: TestClient) -> None:
    api.post("/v1/repos", json={"name": "r"})
    d = hash_chunk(b"x")
    for body in (
        {"puts": []},
        {"puts": [{"path": "/x", "size": -1, "chunks": []}]},
        {"puts": [{"path": "/x", "size": 2, "chunks": [[d, 1]]}]},
        {"puts": [{"path": "/../x", "size": 1, "chunks": [[d, 1]]}]},
        {"puts": [{"path": "/x", "size": 1, "chunks": [["zz", 1]]}]},
        {"branch": "bad branch", "puts": [{"path": "/x", "size": 1, "chunks": [[d, 1]]}]},
    ):
        error(api.post("/v1/repos/r/commits", json=body), 400, "invalid_input")
    error(api.post("/v1/repos/r/commits", json={"deletes": ["/nope"]}), 404, "path_not_found")
    assert api.get("/v1/repos/r/branches").json() == []


def test_empty_repo_commits(api: TestClient) -> None:
    api.post("/v1/repos", json={"name": "r"})
    error(api.get("/v1/repos/r/commits"), 404, "branch_not_found")
    api.put("/v1/repos/r/branches/master", json={})
    assert api.get("/v1/repos/r/commits").json() == []
    error(api.get("/v1/repos/r/commits/master"), 404, "commit_not_found")


def test_a_commit_takes_the_puts_of_its_staging(api: TestClient, make_pack) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "r"})
    body, (a, b) = make_pack([b"aaa", b"bb"])
    assert api.post("/v1/packs", content=body).status_code == 201
    r = api.post("/v1/repos/r/stagings", json={"branch": "master"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = api.post(f"/v1/repos/r/stagings/{sid}", json={"puts": [_row("/a", a)]})
    assert r.json() == {"files": 1}
    assert api.get("/v1/repos/r/branches").json() == []  # staged: nothing visible
    r = api.post(
        "/v1/repos/r/commits", json={"branch": "master", "puts": [_row("/b", b)], "staged": sid}
    )
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 2
    files = api.get("/v1/repos/r/files", params={"ref": "master", "path": "/"}).json()
    assert sorted(f["path"] for f in files) == ["/a", "/b"]
    # the staging went with its commit
    error(api.post("/v1/repos/r/commits", json={"staged": sid}), 404, "staging_not_found")
    error(api.post(f"/v1/repos/r/stagings/{sid}", json={"puts": []}), 404, "staging_not_found")


def test_bad_stagings_are_refused(api: TestClient) -> None:
    api.post("/v1/repos", json={"name": "r"})
    error(api.post("/v1/repos/nope/stagings", json={}), 404, "repo_not_found")
    sid = api.post("/v1/repos/r/stagings", json={}).json()["id"]
    d = hash_chunk(b"x")
    bad = {"puts": [{"path": "/x", "size": 2, "chunks": [[d, 1]]}]}
    error(api.post(f"/v1/repos/r/stagings/{sid}", json=bad), 400, "invalid_input")
    error(api.post(f"/v1/repos/r/stagings/{sid}", content=b"{"), 400, "invalid_input")
    error(
        api.post("/v1/repos/r/commits", json={"branch": "dev", "staged": sid}), 400, "invalid_input"
    )


def _row(path: str, ref) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"path": path, "size": ref.size, "chunks": [[ref.digest, ref.size]]}


@pytest.mark.parametrize("memory", ["Inf", "NaN", "1e400Gi", "99999999Ti"])
def test_train_with_an_impossible_memory_is_400(api: TestClient, memory: str) -> None:
    assert api.post("/v1/workspaces", json={"name": "mem"}).status_code == 201
    r = api.post("/v1/workspaces/mem/train", json={"memory": memory})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_input"
    assert "invalid memory" in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/repos", {"name": "images", "descripton": "typo"}),
        ("put", "/v1/repos/r/branches/dev", {"head": None, "heads": "typo"}),
        ("post", "/v1/repos/r/stagings", {"branch": "master", "brnch": "typo"}),
        ("post", "/v1/chunks/missing", {"digests": [], "leases": "typo"}),
        ("post", "/v1/s3/credentials", {"workspace": "typo"}),
    ],
)
def test_a_body_field_the_server_does_not_know_is_refused_not_ignored(
    api: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    api.post("/v1/repos", json={"name": "r"})
    r = api.request(method.upper(), path, json=body)
    assert r.status_code == 400, (path, r.text)
    assert "Extra inputs are not permitted" in r.text or "extra" in r.text.lower()
