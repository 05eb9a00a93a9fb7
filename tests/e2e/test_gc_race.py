"""Uploads while gc runs in a loop: no put fails, and no byte is sent twice because of gc.

gc reclaims chunks no commit references; an upload's chunks are referenced only once its
commit is made. In-flight uploads hold a lease in the metadata database that gc respects
(kaon.services.leases): these tests run gc back to back (through the SDK, one request after
the other) during real puts and check exit codes, the bytes the client reports as sent and
the data read back.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kaon.client.localfiles import plan
from kaon.client.upload import Uploader

from .helpers import Kaon, MiB, random_file, same_bytes, same_tree

pytestmark = pytest.mark.e2e

SMALL_FILES = 3000
BIG = 40 * MiB
THREADS = 8
PUTS = 25


@contextmanager
def gc_looping(kaon: Kaon) -> Iterator[list[int]]:
    """gc run back to back in a thread until the block ends; yields [runs so far]."""
    runs = [0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        with kaon.client() as client:
            while not stop.is_set():
                try:
                    client.gc()
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)
                    return
                runs[0] += 1

    thread = threading.Thread(target=loop, name="gc-loop", daemon=True)
    thread.start()
    try:
        yield runs
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not errors, errors


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """One platform for both tests: each writes its own repos, of fresh random bytes."""
    k = Kaon(tmp_path_factory.mktemp("kaon-gc-race"))
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


def _small_folder(root: Path) -> int:
    total = 0
    for i in range(SMALL_FILES):
        data = os.urandom(1024 + i % 2048)
        path = root / f"d{i % 10}" / f"f{i:05}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    return total


def test_puts_while_gc_loops_succeed_and_send_each_byte_once(
    platform: Kaon, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder_bytes = _small_folder(folder)
    big = random_file(tmp_path / "big.bin", BIG)
    platform.ok("repo", "create", "race")
    platform.ok("put", "file", "race@master:/seed.txt", "-f", str(big))  # a first commit
    platform.ok("repo", "create", "race2")

    with gc_looping(platform) as runs:
        # the folder over HTTP (packs), the big file through the drop folder (the server
        # chunks it itself): both ways chunks reach the store
        many = platform.popen(
            "put", "file", "race2@master:/many", "-f", str(folder), "-r", "--json",
            env={"KAON_PACK_DROP": "0"},
        )  # fmt: skip
        other = random_file(tmp_path / "other.bin", BIG + 12345)
        one = platform.popen("put", "file", "race@master:/big.bin", "-f", str(other), "--json")
        many_out, many_err = many.communicate(timeout=600)
        one_out, one_err = one.communicate(timeout=600)
        during = runs[0]
    assert many.returncode == 0, many_err
    assert one.returncode == 0, one_err
    assert during >= 2, "gc did not run during the puts: the test proves nothing"
    # new_bytes: the raw bytes of the chunks the put sent (or had the server store)
    assert json.loads(many_out)["stats"]["new_bytes"] == folder_bytes
    assert json.loads(one_out)["stats"]["new_bytes"] == BIG + 12345

    got = tmp_path / "got"
    platform.ok("get", "file", "race2@master:/many", "-r", "-o", str(got))
    same_tree(folder, got)
    platform.ok("get", "file", "race@master:/big.bin", "-o", str(tmp_path / "big.out"))
    assert same_bytes(other, tmp_path / "big.out")


def test_sdk_puts_from_threads_while_gc_loops(platform: Kaon, tmp_path: Path) -> None:
    platform.ok("repo", "create", "threads")
    files = []
    for t in range(THREADS):
        for i in range(PUTS):
            files.append(random_file(tmp_path / f"t{t}" / f"p{i}.bin", 64 * 1024 + t * PUTS + i))
    failures: list[str] = []
    resent: list[int] = []

    def writer(t: int) -> None:
        with platform.client() as client:
            client.create_branch("threads", f"t{t}")
            for i in range(PUTS):
                path = tmp_path / f"t{t}" / f"p{i}.bin"
                try:
                    _commit, stats = Uploader(client, None, drop=False).put(
                        "threads", f"t{t}", plan(path, f"/p{i}.bin", False)
                    )
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    failures.append(f"t{t} p{i}: {type(exc).__name__}: {exc}")
                    continue
                if stats.new_bytes != path.stat().st_size:
                    resent.append(stats.new_bytes - path.stat().st_size)

    with gc_looping(platform) as runs:
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
        during = runs[0]
    assert during >= 2, "gc did not run during the puts: the test proves nothing"
    assert failures == [], f"{len(failures)} of {THREADS * PUTS} puts failed: {failures[:3]}"
    assert resent == []
    with platform.client() as client:
        for t in range(THREADS):
            listing = client.list_files("threads", f"t{t}")
            assert len(listing) == PUTS
    out = tmp_path / "back.bin"
    platform.ok("get", "file", "threads@t3:/p7.bin", "-o", str(out))
    assert same_bytes(tmp_path / "t3" / "p7.bin", out)
