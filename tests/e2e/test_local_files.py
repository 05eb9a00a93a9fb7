"""The CLI and the files of the machine it runs on (issue 13, item 11): `put -r` and symbolic
links, files the client itself cannot read, local filesystem errors and a full disk exit with
the documented codes, usage errors are one line, and `kaon down` interrupts running jobs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import KAON, Kaon, MiB, check_error, random_file
from .test_train import bundle

pytestmark = pytest.mark.e2e

BAD_INPUT, STORAGE_FULL = 2, 7


def test_put_recursive_refuses_symlinks_leaving_the_folder(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("repo", "create", "links")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours\n")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    (folder / "inside.txt").symlink_to(folder / "a.txt")  # inside: fine, as in bundles
    (folder / "leak.txt").symlink_to(outside / "secret.txt")
    before = kaon.snapshot()
    err = kaon.fails(BAD_INPUT, "put", "file", "links@master:/", "-r", "-f", str(folder))
    assert str(folder / "leak.txt") in err and "--follow-symlinks" in err
    (folder / "leak.txt").unlink()
    (folder / "linked").symlink_to(outside)  # a folder: never skipped silently
    err = kaon.fails(BAD_INPUT, "put", "file", "links@master:/", "-r", "-f", str(folder))
    assert str(folder / "linked") in err and "--follow-symlinks" in err
    assert kaon.snapshot() == before
    kaon.ok("put", "file", "links@master:/", "-r", "-f", str(folder), "--follow-symlinks")
    kaon.ok("get", "file", "links@master:/", "-r", "-o", str(tmp_path / "back"))
    back = tmp_path / "back"
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == [
        "a.txt",
        "inside.txt",
        "linked/secret.txt",
    ]
    assert (back / "linked" / "secret.txt").read_text() == "not yours\n"


def _without_dac() -> list[str]:
    """A prefix running a command as root without the capabilities that bypass file modes."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to make a file the client cannot read")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}"]


def test_server_never_reads_a_big_file_the_client_cannot(kaon: Kaon, tmp_path: Path) -> None:
    prefix = _without_dac()
    kaon.ok("repo", "create", "unreadable")
    folder = tmp_path / "dir"
    (folder / "ok.txt").parent.mkdir()
    (folder / "ok.txt").write_text("fine\n")
    big = random_file(folder / "big.bin", 9 * MiB)  # server-chunked on this machine (>= 8 MiB)
    big.chmod(0)
    before = kaon.snapshot()
    p = subprocess.run(
        [*prefix, *KAON, "put", "file", "unreadable@master:/", "-r", "-f", str(folder)],
        env=kaon.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = check_error(p, BAD_INPUT, "permission denied")
    assert str(big) in err
    assert kaon.snapshot() == before


def test_local_filesystem_errors_on_get(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("repo", "create", "getfs")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.txt").write_text("x\n")
    kaon.ok("put", "file", "getfs@master:/", "-r", "-f", str(tmp_path / "src"))
    plain = tmp_path / "plain.txt"
    plain.write_text("in the way\n")
    err = kaon.fails(
        BAD_INPUT, "get", "file", "getfs@master:/f.txt", "-o", str(plain / "sub"), match=str(plain)
    )
    assert "unexpected" not in err
    err = kaon.fails(BAD_INPUT, "get", "file", "getfs@master:/", "-r", "-o", str(plain))
    assert str(plain) in err and "unexpected" not in err


def test_usage_errors_are_one_line_with_a_hint(kaon: Kaon) -> None:
    for args, hint in (
        (("put", "file", "r@master:/x"), "kaon put file --help"),
        (("list", "repo", "--nope"), "kaon list repo --help"),
        (("nosuchcommand",), "kaon --help"),
    ):
        err = kaon.fails(BAD_INPUT, *args)
        assert hint in err, err


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs (root only): a disk that fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=False)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_exits_storage_full(kaon: Kaon, tmp_path: Path, tiny_disk: Path) -> None:
    kaon.ok("repo", "create", "fulldisk")
    big = random_file(tmp_path / "big.bin", 30 * MiB)
    kaon.ok("put", "file", "fulldisk@master:/big.bin", "-f", str(big))
    kaon.fails(
        STORAGE_FULL, "get", "file", "fulldisk@master:/big.bin", "-o", str(tiny_disk / "b.bin")
    )
    home = Kaon(tiny_disk / "home")  # the client's own cache on the full disk
    home.env.update(KAON_HOME=str(tiny_disk / "home"))
    try:
        home.up()
        home.ok("repo", "create", "r")
        filler = tiny_disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as f:
            while True:
                f.write(b"\0" * MiB)
        small = tmp_path / "small.txt"
        small.write_text("x" * 1000)
        home.fails(STORAGE_FULL, "put", "file", "r@master:/s.txt", "-f", str(small))
        filler.unlink()
        home.ok("put", "file", "r@master:/s.txt", "-f", str(small))
    finally:
        home.shutdown()


def test_down_interrupts_running_jobs(tmp_path: Path) -> None:
    k = Kaon(tmp_path / "home")
    try:
        k.up()
        k.ok("workspace", "create", "-n", "stop")
        env = {"KAON_WORKSPACE": "stop"}
        src = bundle(tmp_path / "c", "#!/usr/bin/env python3\nimport time\ntime.sleep(600)\n")
        job = json.loads(k.ok("train", "deploy", "-s", str(src), "--json", env=env))
        deadline = time.monotonic() + 120
        while json.loads(k.ok("train", "info", "-j", job["id"], "--json", env=env))["state"] != (
            "JOB_RUNNING"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        k.ok("down")
        k.up()
        doc = json.loads(k.ok("train", "info", "-j", job["id"], "--json", env=env))
        assert doc["state"] == "JOB_FAILURE", doc
        assert doc["reason"].startswith("interrupted: the platform stopped"), doc
    finally:
        k.shutdown()


def test_an_address_too_long_for_http_is_bad_input(kaon: Kaon) -> None:
    kaon.ok("repo", "create", "longaddr")
    err = kaon.fails(BAD_INPUT, "list", "file", "longaddr@master:/" + "a" * 100_000)
    assert "HTTP 400" in err and "too long" in err
