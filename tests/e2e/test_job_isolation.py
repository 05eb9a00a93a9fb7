"""User code sees none of the platform's files: not the token, the database, the packs or the
upload drop - by default and under --sandbox (issue 13, item 2)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .helpers import Kaon
from .test_train import bundle, data, wait_state, ws

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]

PROBE = """#!/usr/bin/env python3
import json, os, pathlib, sys
home = pathlib.Path({home!r})
seen = {{}}
for rel in ("token", "kaon.db", "objects", "incoming/.token", "incoming", "secret.key", ""):
    path = home / rel
    try:
        if path.is_dir():
            seen[rel] = sorted(os.listdir(path))
        else:
            path.read_bytes()
            seen[rel] = "READ"
    except OSError as exc:
        seen[rel] = type(exc).__name__
print("SEEN " + json.dumps(seen, sort_keys=True))
# the job's own folders stay usable
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
rows = sum(1 for p in data.rglob("*.csv") for _ in open(p))
(out := pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(out / "model.json").write_text(json.dumps({{"rows": rows}}))
"""


@pytest.mark.parametrize("extra", [[], ["--sandbox"]], ids=["default", "sandbox"])
def test_user_code_cannot_read_the_platform_files(
    kaon: Kaon, tmp_path: Path, extra: list[str]
) -> None:
    assert (kaon.home / "token").exists() and (kaon.home / "kaon.db").exists()
    env = ws(kaon, f"iso{len(extra)}")
    src = bundle(tmp_path / "code", PROBE.format(home=str(kaon.home)))
    dat = data(tmp_path / "data")
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(src), "-d", str(dat), *extra, "--json", env=env)
    )
    assert wait_state(kaon, env, job["id"])["state"] == "JOB_SUCCESS"
    logs = kaon.ok("train", "logs", "-j", job["id"], env=env)
    line = next(ln for ln in logs.splitlines() if "SEEN " in ln)
    seen = json.loads(line.split("SEEN ", 1)[1])
    for rel in ("token", "kaon.db", "objects", "incoming/.token", "incoming", "secret.key"):
        assert seen[rel] in ("FileNotFoundError", "PermissionError"), (rel, seen)
    # only the folders on the way to the job's own (work, env, runtime) exist in the home
    assert set(seen[""]) <= {"jobs", "envs", "runtime", "work"}, seen


# a serve module that reports what of the platform's home it can see
SERVE_PROBE = """
import os, pathlib, subprocess
HOME = pathlib.Path({home!r})

def look():
    seen = {{}}
    for rel in ("token", "kaon.db", "objects", "incoming/.token", "secret.key", ""):
        path = HOME / rel
        try:
            if path.is_dir():
                seen[rel] = sorted(os.listdir(path))
            else:
                path.read_bytes()
                seen[rel] = "READ"
        except OSError as exc:
            seen[rel] = type(exc).__name__
    return seen

def load_ctx(model_dir):
    # a daemon that leaves the replica's session: it must die with the endpoint
    subprocess.Popen(["setsid", "sleep", "300"])
    return look()

def predict(payload, ctx):
    return {{"load": ctx, "predict": look(), "endpoint": os.environ.get("KAON_ENDPOINT")}}
"""


def endpoint_processes(name: str) -> list[psutil.Process]:
    """Live processes whose environment names endpoint `name`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if (
                proc.status() != psutil.STATUS_ZOMBIE
                and proc.environ().get("KAON_ENDPOINT") == name
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_serve_code_cannot_read_the_platform_files(kaon: Kaon, tmp_path: Path) -> None:
    env = ws(kaon, "isoserve")
    serve = tmp_path / "serve" / "probe"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE_PROBE.format(home=str(kaon.home)))
    (serve / "requirements.txt").write_text("")
    doc = json.loads(
        kaon.ok("serve", "deploy", "-s", str(tmp_path / "serve"), "--wait", "--json", env=env)
    )
    name = doc["name"]
    url = f"{kaon.server()['url']}/{name}/invocations"  # type: ignore[index]
    request = urllib.request.Request(url, b"{}", {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # the gateway still proxies
        seen = json.loads(answer.read())
    assert seen["endpoint"] == name
    for when in ("load", "predict"):
        for rel in ("token", "kaon.db", "objects", "incoming/.token", "secret.key"):
            assert seen[when][rel] in ("FileNotFoundError", "PermissionError"), (when, rel, seen)
        assert set(seen[when][""]) <= {"endpoints", "envs", "serving"}, seen
    assert len(endpoint_processes(name)) >= 2  # the replica and its daemon (and their wrappers)
    kaon.ok("serve", "kill", "-e", name, "-y", env=env)
    assert endpoint_processes(name) == []  # the whole tree is gone once the kill returns


OUTSIDE_PROBE = """#!/usr/bin/env python3
import json, os, pathlib, sys
seen = {{}}
for path in {paths!r}:
    p = pathlib.Path(path)
    try:
        seen[path] = sorted(os.listdir(p)) if p.is_dir() else p.read_bytes() and "READ"
    except OSError as exc:
        seen[path] = type(exc).__name__
print("SEEN " + json.dumps(seen, sort_keys=True))
(out := pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(out / "m.txt").write_text("ok")
"""


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside both the home and /tmp (private in every sandbox anyway)."""
    base = Path("/var/tmp")
    if not os.access(base, os.W_OK):
        pytest.skip("/var/tmp is not writable here")
    folder = Path(tempfile.mkdtemp(prefix="kaon-outside-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_store_and_database_outside_the_home_are_hidden_too(
    tmp_path: Path, outside: Path
) -> None:
    store, db = outside / "store", outside / "db" / "kaon.db"
    db.parent.mkdir()
    platform = Kaon(tmp_path / "home")
    platform.env["KAON_STORE_URL"] = f"file://{store}"
    platform.env["KAON_METADATA_URL"] = f"sqlite:///{db}"
    try:
        platform.up()
        env = ws(platform, "elsewhere")
        probe = OUTSIDE_PROBE.format(paths=[str(store), str(db), str(db.parent)])
        src = bundle(tmp_path / "code", probe)
        job = json.loads(
            platform.ok(
                "train",
                "deploy",
                "-s",
                str(src),
                "-d",
                str(data(tmp_path / "d")),
                "--json",
                env=env,
            )
        )
        assert wait_state(platform, env, job["id"])["state"] == "JOB_SUCCESS"
        assert any(store.rglob("*")) and db.exists()  # the platform did use them
        logs = platform.ok("train", "logs", "-j", job["id"], env=env)
    finally:
        platform.shutdown()
    line = next(ln for ln in logs.splitlines() if "SEEN " in ln)
    seen = json.loads(line.split("SEEN ", 1)[1])
    assert seen[str(store)] in ([], "FileNotFoundError", "PermissionError"), seen
    assert seen[str(db)] in ("FileNotFoundError", "PermissionError"), seen
    assert seen[str(db.parent)] in ([], "FileNotFoundError", "PermissionError"), seen


# an in-tree PEP 517 backend: building the package runs it, as any sdist's setup.py runs
BACKEND = """
import os, pathlib
def _look():
    seen = {{}}
    for path in {paths!r}:
        try:
            pathlib.Path(path).read_bytes()
            seen[path] = "READ"
        except OSError as exc:
            seen[path] = type(exc).__name__
    return seen
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    raise RuntimeError("SEEN " + repr(_look()))
def build_wheel(directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("SEEN " + repr(_look()))
"""
PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "probe"
version = "1.0"
"""


def test_building_the_environment_cannot_read_the_platform_files(
    kaon: Kaon, tmp_path: Path, outside: Path
) -> None:
    package = outside / "probe"  # not under /tmp: private in a sandbox, it would not be found
    package.mkdir()
    paths = [str(kaon.home / "token"), str(kaon.home / "secret.key")]
    (package / "backend.py").write_text(BACKEND.format(paths=paths))
    (package / "pyproject.toml").write_text(PYPROJECT)
    env = ws(kaon, "isobuild")
    src = bundle(tmp_path / "code", "#!/bin/sh\nexit 0\n")
    (src / "mnist" / "model" / "requirements.txt").write_text(f"probe @ file://{package}\n")
    job = json.loads(
        kaon.ok(
            "train", "deploy", "-s", str(src), "-d", str(data(tmp_path / "d")), "--json", env=env
        )
    )
    assert wait_state(kaon, env, job["id"])["state"] == "JOB_FAILURE"
    logs = kaon.ok("train", "build-logs", "-j", job["id"], env=env)
    assert "RuntimeError: SEEN " in logs, logs  # the backend ran
    assert "READ" not in logs
    seen = logs.split("RuntimeError: SEEN ", 1)[1].splitlines()[0]
    assert seen.count("FileNotFoundError") == len(paths), seen
