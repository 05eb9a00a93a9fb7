"""What the platform exposes, through the real CLI and server (issue 13, items 7, 8, 10):
feedback has a size, a per-request and a per-endpoint rate limit; a server listening beyond
loopback says that predictions answer without a token; a data manifest reads no local file
unless told to; $KAON_HOME and everything in it is private to the platform's user."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon, check_error
from .test_serve import bundles, post
from .test_train import bundle, data, wait_state

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """A platform of its own with small feedback limits: 2 KiB a record, 3 an hour."""
    k = Kaon(tmp_path_factory.mktemp("kaon-limited-home"))
    k.env.update(KAON_FEEDBACK_MAX_BYTES="2048", KAON_FEEDBACK_RATE="3/h")
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


@pytest.fixture(scope="module")
def endpoint(limited: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("exposed")
    train, data_dir, serve = bundles(root)
    env = {"KAON_WORKSPACE": "exposed"}
    limited.ok("workspace", "create", "-n", "exposed")
    job = json.loads(
        limited.ok(
            "train", "deploy", "-s", str(train), "-d", str(data_dir), "--wait", "--json", env=env
        )
    )
    model = job["trials"][0]["model_id"]
    out = limited.ok("serve", "deploy", "-s", str(serve), "-m", model, "--wait", "--json", env=env)
    base = limited.server()["url"]  # type: ignore[index]
    return {"env": env, "url": f"{base}/{json.loads(out)['name']}"}


def predict(url: str) -> str:
    status, headers, _ = post(f"{url}/invocations", json.dumps({"x": [1]}).encode())
    assert status == 200
    return str(headers["x-request-id"])


def test_feedback_is_bounded_in_size_per_request_and_per_endpoint(
    limited: Kaon, endpoint: dict[str, Any]
) -> None:
    url = endpoint["url"]
    rid = predict(url)
    big = json.dumps({"request_id": rid, "truth": "x" * 4096}).encode()
    status, _, doc = post(f"{url}/feedback", big)
    assert status == 413 and "2048" in doc["error"] and "KAON_FEEDBACK_MAX_BYTES" in doc["error"]
    one = json.dumps({"request_id": rid, "truth": [3]}).encode()
    assert post(f"{url}/feedback", one)[0] == 201
    status, _, doc = post(f"{url}/feedback", one)  # one record per request id
    assert status == 409 and rid in doc["error"]
    other = json.dumps({"request_id": predict(url), "truth": [3]}).encode()
    status, headers, doc = post(f"{url}/feedback", other)  # the 4th this hour: 3/h
    assert status == 429 and "KAON_FEEDBACK_RATE" in doc["error"]
    assert int(headers["retry-after"]) > 0
    repo = "exposed-feedback@" + url.rsplit("/", 1)[1]
    files = json.loads(limited.ok("list", "file", repo, "--json"))
    assert [f["path"] for f in files] == [f"/{rid}.json"]
    commits = json.loads(limited.ok("list", "commit", repo, "--json"))
    assert len(commits) == 1  # the refused ones left nothing


def test_non_loopback_without_auth_warns(tmp_path: Path) -> None:
    k = Kaon(tmp_path / "open-home")
    k.env.update(KAON_HOST="0.0.0.0")
    try:
        p = k.run("up")
        k.track()
        assert p.returncode == 0, p.stderr
        assert "Warning:" in p.stderr and "0.0.0.0" in p.stderr
        assert "without a token" in p.stderr
        assert "serve deploy --auth" in p.stderr  # how to protect an endpoint's predictions
        log = (k.home / "logs" / "server.log").read_text()
        assert "WARNING" in log and "without a token" in log
    finally:
        k.shutdown()
    quiet = Kaon(tmp_path / "loopback-home")
    try:
        p = quiet.run("up")
        quiet.track()
        assert p.returncode == 0 and "Warning" not in p.stderr
    finally:
        quiet.shutdown()


def test_manifest_refuses_local_files_unless_allowed(limited: Kaon, tmp_path: Path) -> None:
    limited.ok("workspace", "create", "-n", "mf")
    env = {"KAON_WORKSPACE": "mf"}
    secret = tmp_path / "secret.txt"
    secret.write_text("1,2\n")
    mf = tmp_path / "data.mf"
    mf.write_text(json.dumps({"url": secret.as_uri(), "path": "training/s.csv"}) + "\n")
    before = limited.snapshot()
    src = str(bundle(tmp_path / "c"))
    err = check_error(limited.run("train", "deploy", "-s", src, "-m", str(mf), env=env), 2)
    assert "line 1" in err and "file://" in err and "--allow-local-urls" in err
    ftp = tmp_path / "ftp.mf"
    ftp.write_text(json.dumps({"url": "ftp://example.com/x", "path": "x.csv"}) + "\n")
    err = check_error(limited.run("train", "deploy", "-s", src, "-m", str(ftp), env=env), 2)
    assert "http://" in err
    assert limited.snapshot() == before  # nothing was uploaded
    job = json.loads(
        limited.ok(
            "train", "deploy", "-s", src, "-m", str(mf), "--allow-local-urls", "--json", env=env
        )
    )
    assert wait_state(limited, env, job["id"])["state"] == "JOB_SUCCESS"


def _exposed(root: Path) -> list[str]:
    """Everything under `root` that another user could read, write or enter."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or stat.S_ISSOCK(mode):
                continue
            if mode & 0o077:
                out.append(f"{oct(mode & 0o777)} {path.relative_to(root)}")
    return out


def test_home_is_private(limited: Kaon, tmp_path: Path) -> None:
    limited.ok("repo", "create", "private")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.txt").write_text("secret\n")
    (tmp_path / "dir" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    limited.ok("put", "file", "private@master:/", "-r", "-f", str(tmp_path / "dir"))
    limited.ok("workspace", "create", "-n", "modes")
    env = {"KAON_WORKSPACE": "modes"}
    src, dat = str(bundle(tmp_path / "c")), str(data(tmp_path / "d"))
    for extra in ([], ["--sandbox"]) if shutil.which("bwrap") else ([],):
        job = json.loads(
            limited.ok("train", "deploy", "-s", src, "-d", dat, *extra, "--json", env=env)
        )
        assert wait_state(limited, env, job["id"])["state"] == "JOB_SUCCESS", extra
    assert stat.S_IMODE(limited.home.stat().st_mode) == 0o700
    assert _exposed(limited.home) == []


def test_an_existing_open_home_is_closed_at_start(tmp_path: Path) -> None:
    k = Kaon(tmp_path / "old-home")
    k.home.chmod(0o755)
    try:
        k.up()
        assert stat.S_IMODE(k.home.stat().st_mode) == 0o700
    finally:
        k.shutdown()
