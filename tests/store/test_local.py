"""LocalObjectStore specifics: temp files, crashes, disk full, layout on disk."""

from __future__ import annotations

import errno
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.errors import BackendUnavailable, Conflict, StorageFull
from kaon.store import TEMP_PREFIX
from kaon.store.local import LocalObjectStore, translate_os_error
from kaon.store.localio import DIRECT_MIN, IN_FLIGHT

MIB = 1 << 20


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _temp_files(root: Path) -> list[Path]:
    return [p for p in _all_files(root) if p.name.startswith(TEMP_PREFIX)]


def test_layout_on_disk(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "new" / "root")  # created on demand
    store.put("packs/ab/abcd", b"content")
    assert (tmp_path / "new/root/packs/ab/abcd").read_bytes() == b"content"
    assert _temp_files(tmp_path) == []


def test_delete_prunes_empty_directories_but_not_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalObjectStore(root)
    store.put("packs/ab/abcd", b"1")
    store.put("packs/cd/cdef", b"2")
    store.delete("packs/ab/abcd")
    assert not (root / "packs/ab").exists()
    assert (root / "packs/cd").is_dir()
    store.delete("packs/cd/cdef")
    assert root.is_dir()
    assert list(root.iterdir()) == []


PIECES = 40  # MiB, more than the writer's buffers


def test_put_streams_without_joining(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalObjectStore(root)
    seen_on_disk: list[int] = []

    def gen() -> Iterator[bytes]:
        for _ in range(PIECES):
            yield b"x" * MIB
            temps = _temp_files(root)
            assert len(temps) == 1
            seen_on_disk.append(temps[0].stat().st_size)

    store.put("s/obj", gen())
    # written a buffer at a time as pieces come, a few buffers in flight: memory stays bounded
    assert seen_on_disk == sorted(seen_on_disk)
    assert all(size % DIRECT_MIN == 0 for size in seen_on_disk)
    assert seen_on_disk[-1] >= PIECES * MIB - (IN_FLIGHT + 1) * DIRECT_MIN > 0
    assert store.get_range("s/obj", PIECES * MIB - 3, 10) == b"xxx"
    assert store.get("s/obj") == b"x" * PIECES * MIB


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc_type", [Boom, KeyboardInterrupt])
def test_interrupted_put_leaves_nothing(tmp_path: Path, exc_type: type[BaseException]) -> None:
    root = tmp_path / "root"
    store = LocalObjectStore(root)

    def half_way() -> Iterator[bytes]:
        yield b"a" * MIB
        yield b"b" * MIB
        raise exc_type

    with pytest.raises(exc_type):
        store.put("packs/ab/abcd", half_way())
    assert not store.has("packs/ab/abcd")
    assert list(store.list()) == []
    assert _all_files(root) == []


_CHILD = textwrap.dedent(
    """
    import sys, time
    from kaon.store.local import LocalObjectStore

    store = LocalObjectStore(sys.argv[1])

    def pieces():
        for _ in range(12):
            yield b"z" * (1 << 20)
        print("writing", flush=True)  # some are on disk, the put is not finished
        time.sleep(60)
        yield b"never"

    store.put("packs/ab/abcd", pieces())
    print("finished", flush=True)
    """
)


def test_crash_mid_write_leaves_only_a_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "writing\n", child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL

    store = LocalObjectStore(root)
    assert not store.has("packs/ab/abcd")
    assert list(store.list()) == []
    leftovers = _temp_files(root)
    assert len(leftovers) == 1
    assert leftovers[0].parent == root / "packs/ab"

    assert store.clean_temp(3600) == 0  # too recent: might be a live writer
    assert _temp_files(root) == [leftovers[0]]
    written = leftovers[0].stat().st_size
    assert written > 0
    assert store.clean_temp(0) == written
    assert _all_files(root) == []
    assert list(root.iterdir()) == []  # emptied directories pruned too


def test_clean_temp_keeps_objects_and_recent_temps(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = LocalObjectStore(root)
    store.put("packs/ab/abcd", b"keep me")
    old = root / "packs/ab" / f"{TEMP_PREFIX}old"
    old.write_bytes(b"12345")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    recent = root / "packs" / f"{TEMP_PREFIX}recent"
    recent.write_bytes(b"12")
    assert store.clean_temp(600) == 5
    assert not old.exists()
    assert recent.exists()
    assert store.get("packs/ab/abcd") == b"keep me"
    assert store.clean_temp(0) == 2
    assert [i.key for i in store.list()] == ["packs/ab/abcd"]


# -- error translation ---------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_storage_full_translation(code: int) -> None:
    cause = OSError(code, os.strerror(code))
    err = translate_os_error(cause, action="store", key="packs/ab/abcd", path="/srv/kaon/o")
    assert isinstance(err, StorageFull)
    assert "packs/ab/abcd" in err.message
    assert "/srv/kaon/o" in err.message
    assert "kaon gc" in err.message
    assert "free space" in err.message.lower()


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO, errno.EROFS])
def test_other_errors_translation(code: int) -> None:
    err = translate_os_error(OSError(code, "x"), action="read", key="k/1", path="/srv/k/1")
    assert isinstance(err, BackendUnavailable)
    assert "/srv/k/1" in err.message
    assert "k/1" in err.message


def test_disk_full_during_put_is_storage_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC raised by the write syscall mid-stream (the way a full disk reports it)."""
    root = tmp_path / "root"
    store = LocalObjectStore(root)
    real_write, real_pwrite = os.write, os.pwrite
    budget = [3 * MIB]

    def spend(n: int) -> None:
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        budget[0] -= n

    def write_until_full(fd: int, data: memoryview) -> int:
        spend(len(data))
        return real_write(fd, data)

    def pwrite_until_full(fd: int, data: memoryview, offset: int) -> int:
        spend(len(data))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "write", write_until_full)
    monkeypatch.setattr(os, "pwrite", pwrite_until_full)
    with pytest.raises(StorageFull) as info:
        store.put("packs/ab/abcd", (b"q" * MIB for _ in range(30)))
    monkeypatch.undo()
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert not store.has("packs/ab/abcd")
    assert _all_files(root) == []


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, when this process may mount one (root on Linux); skipped otherwise."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)


def test_real_full_disk_is_storage_full(tiny_tmpfs: Path) -> None:
    store = LocalObjectStore(tiny_tmpfs / "objects")
    store.put("small/one", b"s" * 1000)
    with pytest.raises(StorageFull, match="kaon gc"):
        store.put("packs/ab/abcd", (b"f" * 256 * 1024 for _ in range(8)))
    assert not store.has("packs/ab/abcd")
    assert _temp_files(tiny_tmpfs) == []
    assert store.get("small/one") == b"s" * 1000


def test_key_that_clashes_with_a_directory_is_conflict(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "root")
    store.put("a/b", b"1")
    with pytest.raises(Conflict):
        store.put("a", b"2")
    with pytest.raises(Conflict):
        store.put("a/b/c", b"3")
    assert store.get("a/b") == b"1"
    assert [i.key for i in store.list()] == ["a/b"]
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize(
    "size", [DIRECT_MIN - 1, DIRECT_MIN, DIRECT_MIN + 1, 3 * DIRECT_MIN + 12345]
)
def test_big_objects_written_direct_read_back_exactly(
    tmp_path: Path, size: int, request: pytest.FixtureRequest
) -> None:
    """Big objects bypass the page cache through an aligned buffer (kaon.store.localio): any
    size and any piece boundaries come back byte for byte, on disk and on tmpfs."""
    data = os.urandom(size)
    roots = [tmp_path / "root"]
    if os.access("/dev/shm", os.W_OK):  # a tmpfs, where O_DIRECT may be refused
        shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
        request.addfinalizer(lambda: shutil.rmtree(shm, ignore_errors=True))
        roots.append(shm)
    for root in roots:
        store = LocalObjectStore(root)
        store.put("a/whole", data)
        cuts = sorted({0, size, *(random.randrange(size) for _ in range(7))})
        store.put("a/pieces", (data[a:b] for a, b in itertools.pairwise(cuts)))
        for key in ("a/whole", "a/pieces"):
            assert store.get(key) == data
            assert (root / key).stat().st_size == size
        store.sync()
