"""Uploader and plan against a real server: dedup, stat cache, partial changes."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client, batch, stager
from kaon.client.download import get_dir, get_file
from kaon.client.statcache import StatCache
from kaon.client.upload import LOCAL_MIN, Uploader, plan
from kaon.core import chunking
from kaon.core.errors import InvalidInput
from kaon.services import staging as staging_module


def tree_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = random.Random(uuid.uuid4().int)  # new content each time: the server is shared
    root = tmp_path / "src"
    files = {
        "readme.md": b"# data\n",
        "empty.txt": b"",
        "train/x.bin": rng.randbytes(600_000),  # above MIN_SIZE: cut by CDC
        "train/y.csv": b"".join(b"%d,%d\n" % (i, i * i) for i in range(20000)),
        "test/deep/z.bin": rng.randbytes(1000),
        "test/deep/dup.bin": b"same content" * 10,
        "test/dup.bin": b"same content" * 10,
        "names/with space & ü.txt": b"unicode",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture(autouse=True, params=["drop", "http"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every upload test runs both ways packs reach the (same-machine) server."""
    monkeypatch.setenv("KAON_PACK_DROP", "1" if request.param == "drop" else "0")
    return str(request.param)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[StatCache]:
    c = StatCache(tmp_path / "stat.db")
    try:
        yield c
    finally:
        c.close()


def test_plan(folder: Path) -> None:
    files = plan(folder, "/data", recursive=True)
    # os.walk order: a folder's files (sorted), then its subfolders (sorted)
    assert [f.remote for f in files] == [
        "/data/empty.txt",
        "/data/readme.md",
        "/data/names/with space & ü.txt",
        "/data/test/dup.bin",
        "/data/test/deep/dup.bin",
        "/data/test/deep/z.bin",
        "/data/train/x.bin",
        "/data/train/y.csv",
    ]
    assert files[0].key.size == 0
    assert files[-2].key.size == 600_000 and files[-2].local == str(
        folder.absolute() / "train" / "x.bin"
    )
    (one,) = plan(folder / "readme.md", "/docs/readme.md", recursive=False)
    assert (one.remote, one.key.size) == ("/docs/readme.md", 7)
    assert plan(folder, "/", recursive=True)[0].remote == "/empty.txt"


def test_plan_errors(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="add -r"):
        plan(folder, "/x", recursive=False)
    with pytest.raises(InvalidInput, match="no such file"):
        plan(tmp_path / "missing", "/x", recursive=False)


def test_put_then_get_identical(  # type: ignore[no-untyped-def]
    client: Client, repo: str, folder: Path, tmp_path: Path, transport: str, live_server
) -> None:
    files = plan(folder, "/data", recursive=True)
    seen: list[int] = []
    commit, stats = Uploader(client, None, seen.append).put(repo, "master", files, "import")
    assert stats.sent_via == transport
    assert sorted(p.name for p in (live_server.home / "incoming").iterdir()) == [".token"]
    assert commit.message == "import"
    assert (commit.count, stats.files) == (8, 8)
    expected = tree_of(folder)
    total = sum(len(v) for v in expected.values())
    assert commit.size == stats.bytes == total
    assert sum(seen) == total
    assert stats.new_chunks < stats.chunks  # the duplicate file is sent once
    assert stats.new_bytes <= total and stats.sent_bytes > 0
    assert stats.cached_files == 0

    out = tmp_path / "out"
    ticks: list[int] = []
    n_files, n_bytes = get_dir(client, repo, "master", "/data", out, ticks.append)
    assert (n_files, n_bytes) == (8, total)
    assert sum(ticks) == total
    assert tree_of(out) == expected
    assert not [p for p in out.rglob(".*")]  # no temp files left behind

    one = tmp_path / "one.bin"
    assert get_file(client, repo, "master", "/data/train/x.bin", one) == 600_000
    assert one.read_bytes() == expected["train/x.bin"]


def test_reput_of_an_unchanged_folder_sends_nothing(  # type: ignore[no-untyped-def]
    client: Client, repo: str, folder: Path, cache: StatCache
) -> None:
    files = plan(folder, "/", recursive=True)
    first, stats = Uploader(client, cache).put(repo, "master", files)
    assert stats.new_bytes > 0 and stats.cached_files == 0
    again = plan(folder, "/", recursive=True)
    second, stats = Uploader(client, cache).put(repo, "master", again)
    assert stats.new_bytes == 0
    assert stats.new_chunks == 0
    assert stats.sent_bytes == 0
    assert stats.cached_files == len(files)
    assert second.parent == first.id
    assert second.tree == first.tree  # same content, same tree
    # without the cache the files are read again, but the server still has every chunk
    _, stats = Uploader(client, None).put(repo, "master", plan(folder, "/", recursive=True))
    assert (stats.new_bytes, stats.cached_files) == (0, 0)


def test_a_small_edit_sends_only_a_few_chunks(  # type: ignore[no-untyped-def]
    client: Client, repo: str, tmp_path: Path, cache: StatCache
) -> None:
    size = 4 * chunking.MAX_SIZE  # the 1-2 chunks an edit touches are at most half of it
    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(uuid.uuid4().int).randbytes(size))  # new: a shared server
    _, first = Uploader(client, cache).put(repo, "master", plan(big, "/big.bin", False))
    assert first.chunks >= 3
    assert first.new_bytes == size
    with big.open("r+b") as f:  # 16 bytes changed in place, same size and inode
        f.seek(size // 2)
        f.write(b"0123456789abcdef")
    st = big.stat()
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # whatever the fs clock
    commit, stats = Uploader(client, cache).put(repo, "master", plan(big, "/big.bin", False))
    assert stats.cached_files == 0
    assert 1 <= stats.new_chunks <= 2
    assert stats.new_bytes <= 2 * chunking.MAX_SIZE  # <= size // 2
    out = tmp_path / "back.bin"
    get_file(client, repo, "master", "/big.bin", out)
    assert out.read_bytes() == big.read_bytes()
    assert commit.size == size


def test_uploader_reuploads_chunks_reclaimed_by_gc(  # type: ignore[no-untyped-def]
    client: Client, repo: str, folder: Path, cache: StatCache
) -> None:
    """A cached file whose chunks the server lost (repo deleted, gc) is read and sent again."""
    other = repo + "-gc"
    client.create_repo(other)
    Uploader(client, cache).put(other, "master", plan(folder, "/", recursive=True))
    client.delete_repo(other)
    client.gc()
    commit, stats = Uploader(client, cache).put(repo, "master", plan(folder, "/", recursive=True))
    assert stats.cached_files == 8
    assert stats.new_bytes > 0
    out = folder.parent / "restored"
    get_dir(client, repo, "master", "/", out)
    assert tree_of(out) == tree_of(folder)
    assert commit.count == 8


def test_file_changed_during_upload_is_refused(client: Client, repo: str, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"before")
    files = plan(f, "/f.txt", False)
    f.write_bytes(b"after, longer")
    with pytest.raises(InvalidInput, match="changed during the upload"):
        Uploader(client, None).put(repo, "master", files)
    assert client.list_branches(repo) == []


def test_reputs_send_only_what_changed_since_their_own_last_commit(  # type: ignore[no-untyped-def]
    client: Client, repo: str, folder: Path, cache: StatCache, tmp_path: Path
) -> None:
    branch = "incr-" + uuid.uuid4().hex[:8]
    first, _ = Uploader(client, cache).put(repo, branch, plan(folder, "/", recursive=True))
    target = f"{client.endpoint}|{repo}|{branch}"
    assert cache.base(target)[0] == first.id
    (folder / "readme.md").write_bytes(f"# data, edited {uuid.uuid4()}\n".encode())
    total = sum(len(v) for v in tree_of(folder).values())
    seen: list[int] = []
    second, stats = Uploader(client, cache, seen.append).put(repo, branch, plan(folder, "/", True))
    assert second.parent == first.id and stats.new_chunks == 1
    assert cache.base(target)[0] == second.id
    assert sum(seen) == total  # the unchanged files count as done
    # someone else changes the branch: the next put falls back to sending every file
    client.delete_file(repo, branch, "/test/dup.bin")
    seen.clear()
    third, _ = Uploader(client, cache, seen.append).put(repo, branch, plan(folder, "/", True))
    assert sum(seen) == total  # counted once, though looked up twice
    out = tmp_path / "back"
    get_dir(client, repo, branch, "/", out)
    assert tree_of(out) == tree_of(folder)  # the deleted file is back
    # and a put of part of the folder does not make the next one forget the rest
    client.delete_file(repo, branch, "/names/with space & ü.txt")
    Uploader(client, cache).put(repo, branch, plan(folder / "train", "/train", recursive=True))
    Uploader(client, cache).put(repo, branch, plan(folder, "/", recursive=True))
    out2 = tmp_path / "back2"
    get_dir(client, repo, branch, "/", out2)
    assert tree_of(out2) == tree_of(folder)
    assert third.count == first.count


def test_a_drop_folder_this_client_does_not_see_means_http(  # type: ignore[no-untyped-def]
    client: Client, repo: str, folder: Path, live_server, transport: str
) -> None:
    """A server on another machine: its folder's token is not what this client reads there."""
    if transport == "http":
        pytest.skip("about the drop")
    big = folder / "big.bin"  # one the server would chunk itself, were it local
    big.write_bytes(random.Random(uuid.uuid4().int).randbytes(LOCAL_MIN + 12345))
    token = live_server.home / "incoming" / ".token"
    real = token.read_text()
    token.write_text("0" * 32)  # as if this path held another server's folder
    try:
        commit, stats = Uploader(client, None).put(repo, "master", plan(folder, "/", True))
    finally:
        token.write_text(real)
    assert stats.sent_via == "http" and stats.new_bytes > LOCAL_MIN
    assert commit.count == 9
    out = folder.parent / "back.bin"
    get_file(client, repo, "master", "/big.bin", out)
    assert out.read_bytes() == big.read_bytes()


def test_big_files_are_chunked_by_a_local_server_as_the_client_would(  # type: ignore[no-untyped-def]
    client: Client, repo: str, tmp_path: Path, transport: str
) -> None:
    """The same chunks whichever side cuts: a file put both ways deduplicates entirely."""
    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(uuid.uuid4().int).randbytes(LOCAL_MIN + 3_000_000))
    _, stats = Uploader(client, None).put(repo, "master", plan(big, "/a.bin", False))
    assert stats.new_bytes == big.stat().st_size and stats.sent_via == transport
    other = Uploader(client, None, drop=transport == "http")  # the other way
    _, again = other.put(repo, "master", plan(big, "/b.bin", False))
    assert again.new_bytes == 0 and again.chunks == stats.chunks
    out = tmp_path / "back.bin"
    get_file(client, repo, "master", "/b.bin", out)
    assert out.read_bytes() == big.read_bytes()


class _Recording(Client):
    """A real client that notes what it staged and how many rows each commit carried; with
    `evict`, another user opens stagings enough to push this put's out before it commits."""

    evict = False

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.staged: list[int] = []
        self.carried: list[tuple[int, bool]] = []

    def stage(self, repo: str, staging: str, puts: list[dict[str, Any]]) -> int:
        self.staged.append(len(puts))
        return super().stage(repo, staging, puts)

    def commit(self, repo: str, branch: str, puts: list[dict[str, Any]], *a: Any, **kw: Any):  # type: ignore[no-untyped-def]
        self.carried.append((len(puts), kw.get("staged") is not None))
        if self.evict and kw.get("staged"):
            self.evict = False
            for _ in range(staging_module.OPEN):
                self.open_staging(repo, branch)
        return super().commit(repo, branch, puts, *a, **kw)


@pytest.mark.parametrize("evicted", [False, True], ids=["staged", "staging-lost"])
def test_a_big_folder_s_rows_are_staged_while_it_uploads(  # type: ignore[no-untyped-def]
    live_server, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evicted: bool
) -> None:
    monkeypatch.setattr(stager, "STAGE_ROWS", 20)
    monkeypatch.setattr(batch, "BATCH_CHUNKS", 25)  # batches end often: rows staged between
    root = tmp_path / "many"
    rng = random.Random(uuid.uuid4().int)
    for i in range(120):
        (root / f"d{i // 50}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i // 50}" / f"f{i:03d}.bin").write_bytes(rng.randbytes(100 + i))
    client = _Recording(live_server.url, live_server.token)
    client.evict = evicted
    try:
        commit, stats = Uploader(client, None).put(repo, "master", plan(root, "/many", True))
        back = tmp_path / "back"
        get_dir(client, repo, "master", "/many", back)
    finally:
        client.close()
    assert tree_of(back) == tree_of(root)
    assert (commit.count, stats.files) == (120, 120)
    assert sum(client.staged) >= 100  # most rows went before the commit
    if evicted:  # the server lost the staging: the commit was made again with every row
        assert client.carried[-2:] == [(120 - sum(client.staged), True), (120, False)]
    else:
        assert client.carried == [(120 - sum(client.staged), True)]
