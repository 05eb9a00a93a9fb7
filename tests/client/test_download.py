"""Downloads: archives are extracted member by member, never outside the target folder;
files appear under their names only complete, with their content and modes."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kaon.client import Client
from kaon.client.download import _local_plan, get_dir, get_file
from kaon.client.upload import Uploader, plan
from kaon.core.errors import (
    BackendUnavailable,
    CommitNotFound,
    CorruptObject,
    InvalidInput,
    PathNotFound,
    RepoNotFound,
)


def make_tar(
    members: dict[str, bytes], modes: dict[str, int] | None = None, fmt: int = tarfile.PAX_FORMAT
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def files_below(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class _TarServer(ThreadingHTTPServer):
    body = b""
    length: int | None = None  # a Content-Length other than the body's (a cut answer)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        length = self.server.length  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tar_server() -> Iterator[_TarServer]:
    """An HTTP server answering every GET with `server.body` (a crafted, hostile archive)."""
    server = _TarServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(server: _TarServer, members: dict[str, bytes], dest: Path) -> tuple[int, int]:
    server.body = make_tar(members)
    server.length = None
    with Client(f"http://127.0.0.1:{server.server_address[1]}", "t") as c:
        return get_dir(c, "r", "master", "/", dest)


def test_crafted_archive_is_extracted(tar_server: _TarServer, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert fetch(tar_server, {"a.txt": b"a", "d/e/f.bin": b"ff"}, dest) == (2, 3)
    assert (dest / "d" / "e" / "f.bin").read_bytes() == b"ff"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "d/../../../evil.txt", ".."])
def test_path_escaping_member_is_refused(tar_server: _TarServer, tmp_path: Path, name: str) -> None:
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(InvalidInput):
        fetch(tar_server, {name: b"pwned"}, dest)
    assert not list(tmp_path.rglob("evil.txt"))


@pytest.mark.parametrize("name", [".", "./", "/"])
def test_member_naming_the_folder_itself_is_refused(  # type: ignore[no-untyped-def]
    tar_server: _TarServer, tmp_path: Path, name: str
) -> None:
    with pytest.raises(InvalidInput):
        fetch(tar_server, {name: b"x"}, tmp_path / "dest")


def test_absolute_member_stays_inside(tar_server: _TarServer, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    fetch(tar_server, {"/etc/evil.conf": b"contained"}, dest)
    assert (dest / "etc" / "evil.conf").read_bytes() == b"contained"
    assert list(tmp_path.rglob("evil.conf")) == [dest / "etc" / "evil.conf"]


def test_non_file_members_are_skipped(tar_server: _TarServer, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
    tar_server.body = buf.getvalue()
    dest = tmp_path / "dest"
    with Client(f"http://127.0.0.1:{tar_server.server_address[1]}", "t") as c:
        assert get_dir(c, "r", "master", "/", dest) == (0, 0)
    assert not (dest / "link").exists() and not (dest / "link").is_symlink()


def test_errors_from_a_real_server(client: Client, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"content")
    Uploader(client, None).put(repo, "master", plan(src, "/f.txt", False))
    out = tmp_path / "out"
    with pytest.raises(PathNotFound):
        get_file(client, repo, "master", "/nope", out / "x")
    with pytest.raises(InvalidInput, match="is a directory"):
        get_file(client, repo, "master", "/", out / "x")
    with pytest.raises(RepoNotFound):
        get_dir(client, repo + "-nope", "master", "/", out)
    with pytest.raises(CommitNotFound):
        get_dir(client, repo, "master^", "/", out)
    assert not out.exists() or not list(out.iterdir())
    assert get_file(client, repo, "master", "/f.txt", out / "f.txt") == 7
    assert [p.name for p in out.iterdir()] == ["f.txt"]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_every_tar_flavour_is_read(tar_server: _TarServer, tmp_path: Path, fmt: int) -> None:
    members = {
        "x" * 150 + "/long-folder.bin": os.urandom(3000),  # ustar: prefix + name
        "empty": b"",
        "a/b/c/d/e.bin": os.urandom(2 * 1024 * 1024 + 17),  # across the 1 MiB buffer
        "exact": b"z" * 512,
    }
    if fmt != tarfile.USTAR_FORMAT:
        members["é/ü.txt"] = b"unicode"  # PAX path record / GNU name
        members["n" * 120] = b"long name"  # PAX path record / GNU long name
    tar_server.body, tar_server.length = make_tar(members, fmt=fmt), None
    dest = tmp_path / "dest"
    with Client(f"http://127.0.0.1:{tar_server.server_address[1]}", "t") as c:
        assert get_dir(c, "r", "master", "/", dest) == (
            len(members),
            sum(len(v) for v in members.values()),
        )
    assert files_below(dest) == members


def test_executable_bit_is_kept_and_the_umask_applies(
    tar_server: _TarServer, tmp_path: Path
) -> None:
    members = {"run.sh": b"#!/bin/sh\n", "data.txt": b"d", "private": b"p"}
    tar_server.body = make_tar(members, {"run.sh": 0o755, "data.txt": 0o644, "private": 0o700})
    tar_server.length = None
    old = os.umask(0o027)
    try:
        with Client(f"http://127.0.0.1:{tar_server.server_address[1]}", "t") as c:
            get_dir(c, "r", "master", "/", tmp_path / "dest")
    finally:
        os.umask(old)
    modes = {n: stat.S_IMODE((tmp_path / "dest" / n).stat().st_mode) for n in members}
    assert modes == {"run.sh": 0o750, "data.txt": 0o640, "private": 0o750}


def test_a_cut_answer_leaves_no_file_under_its_name(tar_server: _TarServer, tmp_path: Path) -> None:
    whole = make_tar({"a.txt": b"a" * 1000, "b.bin": os.urandom(3 * 1024 * 1024)})
    tar_server.body, tar_server.length = whole[: len(whole) // 2], len(whole)
    dest = tmp_path / "dest"
    with (
        Client(f"http://127.0.0.1:{tar_server.server_address[1]}", "t") as c,
        pytest.raises(BackendUnavailable),
    ):
        get_dir(c, "r", "master", "/", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt"]  # b.bin's temp file removed too
    assert (dest / "a.txt").read_bytes() == b"a" * 1000


def test_a_corrupt_header_is_refused(tar_server: _TarServer, tmp_path: Path) -> None:
    body = bytearray(make_tar({"a.txt": b"a"}))
    body[0] = ord("b")  # the name changes, the checksum does not
    tar_server.body, tar_server.length = bytes(body), None
    with (
        Client(f"http://127.0.0.1:{tar_server.server_address[1]}", "t") as c,
        pytest.raises(CorruptObject, match="checksum"),
    ):
        get_dir(c, "r", "master", "/", tmp_path / "dest")
    assert not list((tmp_path / "dest").iterdir())


def test_round_trip_through_a_real_server(client: Client, repo: str, tmp_path: Path) -> None:
    """Nested folders, empty files, multi-chunk and compressible files, files spread over
    two packs (two puts): the folder and each file come back byte for byte, 0666 - umask,
    with no temp file left."""
    src = tmp_path / "src"
    originals = {
        "top.txt": b"top",
        "a/empty": b"",
        "a/b/c/deep.bin": os.urandom(9 * 1024 * 1024),  # several chunks
        "a/text.txt": b"compressible line\n" * 20_000,  # stored zstd
        **{f"many/f{i:03d}.bin": os.urandom(100 + i) for i in range(300)},
    }
    for name, data in originals.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    Uploader(client, None).put(repo, "master", plan(src, "/", True))
    more = {f"more/g{i:03d}.bin": os.urandom(700) for i in range(50)}
    for name, data in more.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    Uploader(client, None).put(repo, "master", plan(src / "more", "/more", True))
    originals |= more

    out = tmp_path / "out"
    umask = os.umask(0o022)
    try:
        assert get_dir(client, repo, "master", "/", out) == (
            len(originals),
            sum(map(len, originals.values())),
        )
        assert get_file(client, repo, "master", "/a/b/c/deep.bin", tmp_path / "one.bin") == (
            9 * 1024 * 1024
        )
        assert get_file(client, repo, "master", "/a/empty", tmp_path / "sub" / "empty") == 0
    finally:
        os.umask(umask)
    assert files_below(out) == originals
    assert (tmp_path / "one.bin").read_bytes() == originals["a/b/c/deep.bin"]
    assert (tmp_path / "sub" / "empty").read_bytes() == b""
    for p in [*out.rglob("*"), tmp_path / "one.bin"]:
        assert ".kaon-" not in p.name
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) == 0o644
    sub = tmp_path / "sub-a"
    assert get_dir(client, repo, "master", "/a/b", sub) == (1, 9 * 1024 * 1024)
    assert files_below(sub) == {"c/deep.bin": originals["a/b/c/deep.bin"]}


@pytest.mark.parametrize("drop", ["1", "0"])
def test_file_from_the_packs_of_a_server_on_this_machine_or_over_http(
    client: Client, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drop: str
) -> None:
    """The server runs here: get_file copies from its pack files (raw and zstd chunks, several
    packs); with KAON_PACK_DROP=0 over HTTP. The same bytes either way."""
    monkeypatch.setenv("KAON_PACK_DROP", drop)
    src = tmp_path / "src"
    src.mkdir()
    files = {
        "raw.bin": os.urandom(6 * 1024 * 1024 + 5),
        "text.txt": b"compressible line\n" * 50_000,
        "empty": b"",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)
        Uploader(client, None).put(repo, "master", plan(src / name, f"/{name}", False))
    local = _local_plan(client, repo, "master", "/raw.bin")
    if drop == "1":
        assert local is not None and local["size"] == len(files["raw.bin"])
        assert {c[4] for c in _local_plan(client, repo, "master", "/text.txt")["chunks"]} == {1}
    else:
        assert local is None
    for name, data in files.items():
        assert get_file(client, repo, "master", f"/{name}", tmp_path / "out" / name) == len(data)
        assert (tmp_path / "out" / name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(files)
    with pytest.raises(PathNotFound):  # errors still come from the server, either way
        get_file(client, repo, "master", "/nope", tmp_path / "out" / "nope")
