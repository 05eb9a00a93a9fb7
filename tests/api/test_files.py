"""Files over HTTP: listing with history, stat, content and tar archive streaming, diff, gc."""

from __future__ import annotations

import io
import random
import tarfile
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kaon.core.chunking import hash_chunk
from kaon.services.objectkeys import tree_key
from kaon.wiring import Backends

BIG = random.Random(5).randbytes(300_000)
FILES = {
    "/readme.txt": b"hello\n",
    "/data/train/a.bin": BIG,
    "/data/train/b.bin": b"b" * 1000,
    "/data/test/c.csv": b"x,y\n1,2\n",
    "/data/empty": b"",
}


@pytest.fixture
def repo(api: TestClient, commit_files) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "r"})
    first = commit_files("r", FILES, message="first")
    second = commit_files("r", {"/readme.txt": b"hello, world\n"}, deletes=["/data/test"])
    return {"first": first, "second": second}


def test_list_files(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/files")
    assert r.status_code == 200
    assert [(f["path"], f["type"], f["size"]) for f in r.json()] == [
        ("/data", "dir", len(BIG) + 1000),
        ("/readme.txt", "file", 13),
    ]
    r = api.get("/v1/repos/r/files", params={"path": "/data/train", "ref": "master^"})
    assert [f["path"] for f in r.json()] == ["/data/train/a.bin", "/data/train/b.bin"]
    r = api.get("/v1/repos/r/files", params={"path": "/nope"})
    assert (r.status_code, r.json()["code"]) == (404, "path_not_found")


def test_list_files_in_pages(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    """limit + after (the last path of the previous page) walk a folder in name order, each
    entry once; a short page is the last; a file's own listing has no second page."""
    api.post("/v1/repos", json={"name": "paged"})
    names = [f"/big/f{i:03d}.txt" for i in range(25)]
    commit_files("paged", {n: n.encode() for n in names} | {"/top.txt": b"t"})
    seen: list[str] = []
    after = ""
    for _ in range(5):  # 3 pages expected
        params: dict[str, Any] = {"path": "/big", "limit": 10} | ({"after": after} if after else {})
        page = api.get("/v1/repos/paged/files", params=params).json()
        seen += [f["path"] for f in page]
        if len(page) < 10:
            break
        after = page[-1]["path"]
    assert seen == names and len(page) == 5, seen
    assert [f["path"] for f in api.get("/v1/repos/paged/files", params={"limit": 1}).json()] == [
        "/big"
    ]
    one = {"path": "/top.txt", "after": "/top.txt"}
    assert api.get("/v1/repos/paged/files", params=one).json() == []
    assert api.get("/v1/repos/paged/files", params={"limit": 0}).status_code == 400


def test_list_files_with_history(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/files", params={"path": "/readme.txt", "history": -1})
    assert [(f["commit"], f["size"]) for f in r.json()] == [
        (repo["second"]["id"], 13),
        (repo["first"]["id"], 6),
    ]
    assert r.json()[0]["committed"] == repo["second"]["finished"]
    r = api.get("/v1/repos/r/files", params={"path": "/readme.txt", "history": 1})
    assert len(r.json()) == 1
    r = api.get("/v1/repos/r/files", params={"history": -2})
    assert r.status_code == 400


def test_stat(api: TestClient, repo: dict[str, Any]) -> None:
    assert api.get("/v1/repos/r/stat", params={"path": "/data/train/b.bin"}).json() == {
        "path": "/data/train/b.bin",
        "type": "file",
        "size": 1000,
        "commit": None,
        "committed": None,
    }
    assert api.get("/v1/repos/r/stat", params={"path": "/"}).json()["type"] == "dir"
    r = api.get("/v1/repos/r/stat", params={"path": "/data/test", "ref": "master"})
    assert r.status_code == 404


def test_content(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/content", params={"path": "/data/train/a.bin"})
    assert r.status_code == 200
    assert r.content == BIG
    assert r.headers["content-length"] == str(len(BIG))
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["etag"] == f'"{hash_chunk(BIG)}"'
    assert r.headers["x-kaon-commit"] == repo["second"]["id"]
    old = api.get("/v1/repos/r/content", params={"path": "/readme.txt", "ref": "master^"})
    assert old.content == b"hello\n"
    assert old.headers["x-kaon-commit"] == repo["first"]["id"]
    empty = api.get("/v1/repos/r/content", params={"path": "/data/empty"})
    assert (empty.status_code, empty.content) == (200, b"")


def test_content_is_streamed(api: TestClient, repo: dict[str, Any]) -> None:
    with api.stream("GET", "/v1/repos/r/content", params={"path": "/data/train/a.bin"}) as r:
        got = b"".join(r.iter_bytes())
    assert got == BIG


def test_content_errors(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/content", params={"path": "/data"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert "is a directory" in r.json()["message"]
    r = api.get("/v1/repos/r/content", params={"path": "/nope"})
    assert (r.status_code, r.json()["code"]) == (404, "path_not_found")
    r = api.get("/v1/repos/r/content", params={"path": "/../etc/passwd"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    r = api.get("/v1/repos/r/content", params={"path": "/readme.txt", "ref": "nope"})
    assert (r.status_code, r.json()["code"]) == (404, "branch_not_found")


def untar(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            assert member.isfile()
            f = tar.extractfile(member)
            assert f is not None
            out[member.name] = f.read()
    return out


def test_archive_of_a_folder(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/archive", params={"path": "/data", "ref": "master^"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-tar"
    assert r.headers["x-kaon-commit"] == repo["first"]["id"]
    assert r.headers["x-kaon-files"] == "4"
    assert r.headers["x-kaon-bytes"] == str(len(BIG) + 1000 + 8)
    assert untar(r.content) == {
        "empty": b"",
        "test/c.csv": FILES["/data/test/c.csv"],
        "train/a.bin": BIG,
        "train/b.bin": FILES["/data/train/b.bin"],
    }
    assert len(r.content) % 512 == 0


def test_archive_of_the_root_and_of_a_file(api: TestClient, repo: dict[str, Any]) -> None:
    whole = untar(api.get("/v1/repos/r/archive").content)
    assert whole == {
        "data/empty": b"",
        "data/train/a.bin": BIG,
        "data/train/b.bin": b"b" * 1000,
        "readme.txt": b"hello, world\n",
    }
    one = api.get("/v1/repos/r/archive", params={"path": "/readme.txt"})
    assert untar(one.content) == {"readme.txt": b"hello, world\n"}


def test_archive_streamed(api: TestClient, repo: dict[str, Any]) -> None:
    with api.stream("GET", "/v1/repos/r/archive", params={"path": "/data/train"}) as r:
        pieces = list(r.iter_bytes())
    assert untar(b"".join(pieces))["a.bin"] == BIG


def test_archive_errors(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/archive", params={"path": "/nope"})
    assert (r.status_code, r.json()["code"]) == (404, "path_not_found")
    api.put("/v1/repos/r/branches/empty", json={})
    r = api.get("/v1/repos/r/archive", params={"ref": "empty"})
    assert (r.status_code, r.json()["code"]) == (404, "commit_not_found")


def test_long_names_in_archives(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "deep"})
    path = "/" + "/".join(["a-fairly-long-directory-name"] * 6) + "/file.txt"
    commit_files("deep", {path: b"deep"})
    assert untar(api.get("/v1/repos/deep/archive").content) == {path.lstrip("/"): b"deep"}


def test_diff(api: TestClient, repo: dict[str, Any]) -> None:
    r = api.get("/v1/repos/r/diff")
    assert r.status_code == 200
    assert r.json() == [
        {"path": "/data/test/c.csv", "kind": "removed", "old_size": 8, "new_size": None},
        {"path": "/readme.txt", "kind": "modified", "old_size": 6, "new_size": 13},
    ]
    r = api.get("/v1/repos/r/diff", params={"new": "master", "old": "master", "path": "/"})
    assert r.json() == []
    r = api.get("/v1/repos/r/diff", params={"new": "master^", "path": "/data/train"})
    assert [c["kind"] for c in r.json()] == ["added", "added"]


def test_gc(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    api.post("/v1/repos", json={"name": "tmp"})
    commit_files("tmp", {"/x": b"x" * 100})
    assert api.delete("/v1/repos/tmp").status_code == 204
    r = api.post("/v1/gc")
    assert r.status_code == 200
    report = r.json()
    assert set(report) == {
        "packs_deleted",
        "packs_rewritten",
        "chunks_dropped",
        "trees_deleted",
        "commits_deleted",
        "bytes_freed",
    }
    assert report["packs_deleted"] == 1 and report["commits_deleted"] == 1
    assert report["bytes_freed"] > 0
    assert api.post("/v1/gc").json()["bytes_freed"] == 0


def test_a_missing_tree_is_a_corrupt_object(
    backends: Backends, api: TestClient, repo: dict[str, Any]
) -> None:
    backends.objects.delete(tree_key(repo["second"]["tree"]))
    assert api.post("/v1/gc").status_code == 200  # the tree was cached; gc empties the cache
    r = api.get("/v1/repos/r/files")
    assert r.status_code == 500
    assert r.json()["code"] == "corrupt_object"
    assert "missing from the object store" in r.json()["message"]
    r = api.post("/v1/gc")  # refuses to sweep without the full set of live objects
    assert (r.status_code, r.json()["code"]) == (500, "corrupt_object")


def test_content_range_sends_only_those_bytes(api: TestClient, repo: dict[str, Any]) -> None:
    """A preview reads the first bytes of a big file: 206 with Content-Range and the size."""
    params = {"path": "/data/train/a.bin"}
    r = api.get("/v1/repos/r/content", params=params, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == BIG[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(BIG)}"
    r = api.get("/v1/repos/r/content", params=params, headers={"Range": "bytes=299990-400000"})
    assert (r.status_code, r.content) == (206, BIG[299990:])
    r = api.get("/v1/repos/r/content", params=params, headers={"Range": f"bytes={len(BIG)}-"})
    assert (r.status_code, r.json()["code"]) == (416, "invalid_range")
    assert r.json()["details"]["size"] == len(BIG)
    r = api.get("/v1/repos/r/content", params=params, headers={"Range": "bytes=-5"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert "bytes=START-END" in r.json()["message"]
    r = api.get("/v1/repos/r/content", params=params)  # no Range: the whole file, as before
    assert (r.status_code, len(r.content)) == (200, len(BIG))


def test_history_of_a_file_in_pages(api: TestClient, commit_files) -> None:  # type: ignore[no-untyped-def]
    """The commits that changed a path, newest first; `next` goes on down the chain; `scan`
    bounds the commits looked at, so a page may be short yet not the last."""
    api.post("/v1/repos", json={"name": "h"})
    ids = [commit_files("h", {"/f.txt": b"v1"}, message="add f")["id"]]
    ids.append(commit_files("h", {"/other": b"o"}, message="other only")["id"])
    ids.append(commit_files("h", {"/f.txt": b"version 2"}, message="change f")["id"])
    ids.append(commit_files("h", {"/other": b"o2"}, message="other again")["id"])
    ids.append(commit_files("h", {}, deletes=["/f.txt"], message="drop f")["id"])
    ids.append(commit_files("h", {"/f.txt": b"back"}, message="f is back")["id"])
    r = api.get("/v1/repos/h/history", params={"path": "/f.txt"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["next"] is None and doc["path"] == "/f.txt"
    assert [(v["commit"], v["kind"], v["size"], v["message"]) for v in doc["revisions"]] == [
        (ids[5], "added", 4, "f is back"),
        (ids[4], "removed", None, "drop f"),
        (ids[2], "modified", 9, "change f"),
        (ids[0], "added", 2, "add f"),
    ]
    # pages of 2 revisions, then pages bounded by 2 commits looked at: the same revisions
    for params in ({"limit": 2}, {"scan": 2}):
        seen: list[str] = []
        ref: str | None = "master"
        while ref is not None:
            page = api.get("/v1/repos/h/history", params={"path": "/f.txt", "ref": ref} | params)
            seen += [v["commit"] for v in page.json()["revisions"]]
            ref = page.json()["next"]
        assert seen == [ids[5], ids[4], ids[2], ids[0]], params
    r = api.get("/v1/repos/h/history", params={"path": "/other", "ref": ids[2]})
    assert [v["commit"] for v in r.json()["revisions"]] == [ids[1]]
    r = api.get("/v1/repos/h/history", params={"path": "/f.txt", "ref": "no such:ref"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    r = api.get("/v1/repos/h/history", params={"path": "/", "limit": 2})  # any file
    assert [v["commit"] for v in r.json()["revisions"]] == ids[:-3:-1]
    r = api.get("/v1/repos/nope/history", params={"path": "/f.txt"})
    assert r.status_code == 404


def test_diff_with_a_limit_stops_at_the_first_changes(
    api: TestClient,
    repo: dict[str, Any],
) -> None:
    """A page showing a huge diff asks for its first changes only, in path order."""
    old, new = repo["first"]["id"], repo["second"]["id"]
    whole = api.get("/v1/repos/r/diff", params={"old": old, "new": new}).json()
    assert [c["path"] for c in whole] == ["/data/test/c.csv", "/readme.txt"]
    first = api.get("/v1/repos/r/diff", params={"old": old, "new": new, "limit": 1}).json()
    assert first == whole[:1]
    r = api.get("/v1/repos/r/diff", params={"old": old, "new": new, "limit": 0})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
