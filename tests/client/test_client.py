"""The SDK against a real server: one method per call, the server's errors re-raised as the
same KaonError subclass."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from kaon.client import Client
from kaon.client.models import BranchInfo, CommitInfo, FileInfo, RepoInfo
from kaon.core import chunking
from kaon.core.errors import (
    AlreadyExists,
    BackendUnavailable,
    BranchNotFound,
    CommitNotFound,
    CorruptObject,
    InvalidInput,
    KaonError,
    MissingChunks,
    PathNotFound,
    PermissionDenied,
    RepoNotFound,
)
from kaon.core.pack import HEADER, MAGIC


def put(client: Client, repo: str, files: dict[str, bytes], **kwargs) -> CommitInfo:  # type: ignore[no-untyped-def]
    """Upload the missing chunks (one per file) and commit, with the low-level calls."""
    body = bytearray(MAGIC)
    puts = []
    wanted = {chunking.hash_chunk(d): d for d in files.values() if d}
    missing = set(client.missing_chunks(list(wanted)))
    for d, data in wanted.items():
        if d in missing:
            codec, stored = chunking.compress(data)
            body += HEADER.pack(bytes.fromhex(d), codec, len(data), len(stored)) + stored
    if len(body) > len(MAGIC):
        client.upload_pack(bytes(body))
    for path, data in files.items():
        chunks = [[chunking.hash_chunk(data), len(data)]] if data else []
        puts.append({"path": path, "size": len(data), "chunks": chunks})
    return client.commit(repo, kwargs.pop("branch", "master"), puts, **kwargs)


def test_health(client: Client) -> None:
    doc = client.health()
    assert doc["status"] == "ok"


def test_repos(client: Client, repo: str) -> None:
    info = client.get_repo(repo)
    assert isinstance(info, RepoInfo)
    assert (info.name, info.size, info.branches) == (repo, 0, [])
    assert repo in [r.name for r in client.list_repos()]
    other = client.create_repo(repo + "-x", "described")
    assert other.description == "described"
    client.delete_repo(other.name)
    with pytest.raises(RepoNotFound):
        client.get_repo(other.name)


def test_errors_come_back_as_the_same_class(client: Client, repo: str) -> None:
    with pytest.raises(RepoNotFound, match="not found") as info:
        client.get_repo("no-such-repo")
    assert type(info.value) is RepoNotFound
    with pytest.raises(AlreadyExists):
        client.create_repo(repo)
    with pytest.raises(InvalidInput, match="invalid repo name"):
        client.create_repo("bad name")
    with pytest.raises(BranchNotFound):
        client.list_commits(repo, "nope")
    with pytest.raises(BranchNotFound):
        client.delete_branch(repo, "nope")
    with pytest.raises(CorruptObject):
        d = chunking.hash_chunk(b"other")
        client.upload_pack(MAGIC + HEADER.pack(bytes.fromhex(d), 0, 4, 4) + b"data")
    with pytest.raises(InvalidInput, match="not a kaon pack"):
        client.upload_pack(b"garbage")


def test_missing_chunks_carry_their_details(client: Client, repo: str) -> None:
    never = chunking.hash_chunk(b"never uploaded")
    with pytest.raises(MissingChunks) as info:
        client.commit(repo, "master", [{"path": "/x", "size": 14, "chunks": [[never, 14]]}])
    assert info.value.details == {"missing": [never]}
    assert client.list_branches(repo) == []


def test_wrong_token(live_server) -> None:  # type: ignore[no-untyped-def]
    with Client(live_server.url, "wrong") as bad, pytest.raises(PermissionDenied):
        bad.list_repos()
    with Client(live_server.url) as none:
        with pytest.raises(PermissionDenied):
            none.list_repos()
        assert none.health()["status"] == "ok"


def test_unreachable_server() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", "t") as c, pytest.raises(BackendUnavailable) as info:
        c.health()
    assert "cannot reach the kaon server" in info.value.message


def test_a_server_that_stops_mid_answer_is_unreachable() -> None:
    """A body cut short (a server killed mid-answer) is BackendUnavailable, not a crash."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer_half() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 5000\r\n\r\n{"status": '
                )

        with ThreadPoolExecutor(1) as server:
            done = server.submit(answer_half)
            client = Client(f"http://127.0.0.1:{port}", "t")
            with client, pytest.raises(BackendUnavailable, match="IncompleteRead"):
                client.health()
            done.result()


def test_invalid_endpoint() -> None:
    with pytest.raises(KaonError, match="invalid endpoint"):
        Client("ftp://example.com", "t")


def test_branches_and_commits(client: Client, repo: str) -> None:
    c1 = put(client, repo, {"/a.txt": b"one", "/d/b": b"bee"}, message="first")
    c2 = put(client, repo, {"/a.txt": b"two!"}, message="second")
    assert isinstance(c1, CommitInfo)
    assert (c2.parent, c2.message, c2.size, c2.count) == (c1.id, "second", 7, 2)
    assert c2.duration >= 0
    assert [c.id for c in client.list_commits(repo)] == [c2.id, c1.id]
    assert [c.id for c in client.list_commits(repo, limit=1)] == [c2.id]
    assert client.inspect_commit(repo, "master^").id == c1.id
    assert client.inspect_commit(repo, c1.id[:10]).id == c1.id
    with pytest.raises(CommitNotFound):
        client.inspect_commit(repo, "master^2")
    dev = client.create_branch(repo, "dev", "master^")
    assert dev == BranchInfo(repo, "dev", c1.id)
    assert [b.name for b in client.list_branches(repo)] == ["dev", "master"]
    client.delete_branch(repo, "dev")
    assert [b.name for b in client.list_branches(repo)] == ["master"]
    assert client.get_repo(repo).size == 7


def test_files_and_diff(client: Client, repo: str) -> None:
    c1 = put(client, repo, {"/a.txt": b"one", "/d/b": b"bee"})
    c2 = put(client, repo, {"/a.txt": b"two!"})
    assert client.list_files(repo) == [
        FileInfo("/a.txt", "file", 4),
        FileInfo("/d", "dir", 3),
    ]
    history = client.list_files(repo, path="/a.txt", history=-1)
    assert [(f.commit, f.size) for f in history] == [(c2.id, 4), (c1.id, 3)]
    assert client.stat(repo, "master", "/d/b") == FileInfo("/d/b", "file", 3)
    with pytest.raises(PathNotFound):
        client.stat(repo, "master", "/nope")
    (change,) = client.diff(repo, "master")
    assert (change.path, change.kind, change.old_size, change.new_size) == (
        "/a.txt",
        "modified",
        3,
        4,
    )
    assert client.diff(repo, "master", "master") == []
    gone = client.delete_file(repo, "master", "/d", message="rm")
    assert gone.message == "rm"
    assert [f.path for f in client.list_files(repo)] == ["/a.txt"]


def test_gc(client: Client) -> None:
    report = client.gc()
    assert report.bytes_freed >= 0


def test_close_closes_the_connections_of_every_thread(live_server) -> None:  # type: ignore[no-untyped-def]
    """The uploader calls the client from worker threads: close() must close theirs too."""
    client = Client(live_server.url, live_server.token)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: client.list_repos(), range(12)))
    conns = list(client.transport._conns)
    assert conns and all(c.sock is not None for c in conns)
    client.close()
    assert all(c.sock is None for c in conns)
    assert client.health()["status"] == "ok"  # usable again: a fresh connection
    client.close()
