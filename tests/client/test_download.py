"""Downloads: archives are extracted member by member, never outside the target folder."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kaon.client import Client
from kaon.client.download import _IterReader, get_dir, get_file
from kaon.client.upload import Uploader, plan
from kaon.core.errors import CommitNotFound, InvalidInput, PathNotFound, RepoNotFound


def make_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _TarServer(ThreadingHTTPServer):
    body = b""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(body)))
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
    with Client(f"http://127.0.0.1:{server.server_address[1]}", "t") as c:
        return get_dir(c, "r", "master", "/", dest)


def test_iter_reader_reassembles_pieces() -> None:
    data = make_tar({"a/b.txt": b"x" * 3000, "c": b"y"})
    pieces = iter([data[i : i + 7] for i in range(0, len(data), 7)] + [b""])
    reader = io.BufferedReader(_IterReader(pieces), 64)
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert got == {"a/b.txt": b"x" * 3000, "c": b"y"}


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
