"""Fixtures shared by every test package.

* `live_server`: a real `python -m kaon.api --port 0` subprocess (session scope) with its own
  KAON_HOME; yields LiveServer(url, token, home). `own_server`: the same, one per test module.
* `make_pack`: builds pack bytes (kaon.core.pack format) from chunk contents.
* `platform` / `seed`: a Platform built (kaon.wiring.wire) and started over SQLite and a local
  object store in a temp dir, and a helper that uploads chunks and commits files through the
  services; `backends`: what that platform was wired to; `platform_factory`: more of them.
* `s3_server` / `s3_store_url`: a real S3-compatible server (moto) and a fresh bucket per test
  (tests/s3fixtures.py).
* `pg_server` / `pg_url` / `pg_database_url`: a throw-away PostgreSQL (tests/pgfixtures.py).
* `ray_cluster`: a private one-node Ray cluster (tests/rayfixtures.py), one per test process
  (pytest-xdist worker): a process holds one Ray connection (kaon.exec.ray.connect), so every
  test package that uses Ray shares this one.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from envdirs import session_env_dir, shared_env_dir  # noqa: F401 - KAON_ENV_DIR per session
from kaon.config import SERVER_FILE, TOKEN_FILE, ServerSettings
from kaon.core import chunking
from kaon.core.address import parse_ref
from kaon.core.commit import Commit
from kaon.core.ids import CommitId, RepoName
from kaon.core.pack import HEADER, MAGIC
from kaon.core.tree import ChunkRef
from kaon.db.database import Database
from kaon.ports.content import TreeRef
from kaon.services.commits import Put
from kaon.testing.contracts.executor import CODE_FILES, DATA_FILES
from kaon.wiring import Backends, Platform, wire
from pgfixtures import *  # noqa: F403  (pg_server, pg_url, pg_database_url for every package)
from rayfixtures import RayCluster, ray_cluster  # noqa: F401 - one Ray cluster per process
from s3fixtures import S3Server, s3_server, s3_store_url  # noqa: F401 - fixtures for every test

START_TIMEOUT = 120.0  # as the e2e CLI timeout (30 s was too short under load 17)


# -- the order of the files (the suite's wall time, never its results) -----------------------

# `make test` runs pytest-xdist with `--dist loadfile --no-loadscope-reorder`: a worker that is
# nearly done takes the next file in collection order. xdist's own order (most tests first) ran
# the slowest files, which hold one to four tests each, last: one worker still ran the MLflow
# job test (~2.5 min) long after the other had finished. So the slowest files (as
# measured, slowest first) go first, the rest of tests/e2e next, and the many short files last,
# where they even out the two workers' ends. A stale list costs only time, never a result.
SLOWEST_FIRST = (
    "tests/e2e/test_mlflow_models.py",
    "tests/e2e/test_notebooks.py",
    "tests/e2e/test_pipelines.py",
    "tests/e2e/test_templates_live.py",
    "tests/api/test_openapi.py",
    "tests/e2e/test_ray_train.py",
    "tests/e2e/test_job_lifetime.py",
    "tests/e2e/ui/test_jobs.py",
    "tests/e2e/test_releases.py",
    "tests/e2e/test_multihost.py",
    "tests/e2e/test_template_e2e.py",
    "tests/e2e/test_two_servers.py",
    "tests/e2e/test_crash.py",
    "tests/e2e/test_seldon_client.py",
)


def _file_rank(item: pytest.Item) -> tuple[int, int]:
    path = item.nodeid.split("::", 1)[0]
    if path in SLOWEST_FIRST:
        return 0, SLOWEST_FIRST.index(path)
    return (1, 0) if path.startswith("tests/e2e/") else (2, 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole files moved, in a stable sort: the tests of a file keep their order."""
    items.sort(key=_file_rank)


# -- a real server ---------------------------------------------------------------------------


class LiveServer(NamedTuple):
    url: str
    token: str
    home: Path


def _server_url(proc: subprocess.Popen[bytes], home: Path, log: Path) -> str:
    """Wait for $KAON_HOME/server.json naming `proc` and for /v1/health to answer."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kaon server exited with {proc.returncode}: {log.read_text()}")
        try:
            doc = json.loads((home / SERVER_FILE).read_text())
        except (OSError, ValueError):
            doc = {}
        url = doc.get("url")
        if doc.get("pid") == proc.pid and isinstance(url, str):
            try:
                with urllib.request.urlopen(url + "/v1/health", timeout=2) as response:
                    if response.status == 200:
                        return url
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.05)
    raise RuntimeError(f"kaon server did not start within {START_TIMEOUT} s: {log.read_text()}")


@contextmanager
def running_server(home: Path) -> Iterator[LiveServer]:
    """A real `python -m kaon.api --port 0` subprocess over `home`, stopped on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env["KAON_HOME"] = str(home)
    if (envs := shared_env_dir()) is not None:  # environments built once per session
        env["KAON_ENV_DIR"] = str(envs)
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kaon.api", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = _server_url(proc, home, log_path)
        token = (home / TOKEN_FILE).read_text().strip()
        yield LiveServer(url, token, home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("kaon-live")) as server:
        yield server


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of the test module's own, for tests (fuzzing) that leave state others must not see."""
    with running_server(tmp_path_factory.mktemp("kaon-own")) as server:
        yield server


# -- packs -----------------------------------------------------------------------------------

PackMaker = Callable[[Iterable[bytes]], tuple[bytes, list[ChunkRef]]]


def pack_of(chunks: Iterable[bytes]) -> tuple[bytes, list[ChunkRef]]:
    """A pack holding `chunks` (each compressed when worth it) and their refs, in order."""
    body = bytearray(MAGIC)
    refs: list[ChunkRef] = []
    for data in chunks:
        d = chunking.hash_chunk(data)
        codec, stored = chunking.compress(data)
        body += HEADER.pack(bytes.fromhex(d), codec, len(data), len(stored))
        body += stored
        refs.append(ChunkRef(d, len(data)))
    return bytes(body), refs


@pytest.fixture
def make_pack() -> PackMaker:
    return pack_of


# -- a platform over real backends ---------------------------------------------------------


def settings_for(home: Path, store: str = "file") -> ServerSettings:
    store_url = f"file://{home}/objects" if store == "file" else "memory://"
    return ServerSettings(
        home=home,
        metadata_url=f"sqlite:///{home}/kaon.db",
        store_url=store_url,
        host="127.0.0.1",
        port=0,
    )


def ticking_clock(start: float = 1_700_000_000.0) -> Callable[[], float]:
    """A clock that advances one second per call (deterministic, thread-safe under the GIL)."""
    counter = itertools.count()
    return lambda: start + next(counter)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty metadata database migrated to head, copied by `platform_factory` (migrating
    costs ~80 ms per database; a copy ~3 ms). tests/test_app.py builds from scratch."""
    path = tmp_path_factory.mktemp("template") / "kaon.db"
    Database(f"sqlite:///{path}").close()
    return path


def _fresh_home(home: Path, template: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "kaon.db").exists():
        shutil.copyfile(template, home / "kaon.db")
    return home


@pytest.fixture
def platform(platform_factory: PlatformFactory) -> Platform:
    return platform_factory()


@pytest.fixture
def backends(platform: Platform, platform_factory: PlatformFactory) -> Backends:
    """The backends `platform` was wired to (to see what its services stored)."""
    return platform_factory.backends(platform)


class Seeder:
    """Writes files through the real services: chunks as a pack via ChunkStore.store_pack,
    then one commit via CommitService. Files are cut into `piece`-byte chunks (the server does
    not care how a client cut them), so multi-chunk files stay small."""

    def __init__(self, platform: Platform, piece: int = 1000) -> None:
        self.platform = platform
        self.piece = piece

    def chunks_of(self, data: bytes) -> list[bytes]:
        return [data[i : i + self.piece] for i in range(0, len(data), self.piece)]

    def upload(self, contents: Iterable[bytes]) -> list[list[ChunkRef]]:
        """Upload the chunks the store lacks; the chunk refs of every content, in order."""
        refs: list[list[ChunkRef]] = []
        new: dict[str, bytes] = {}
        for data in contents:
            pieces = self.chunks_of(data)
            refs.append([ChunkRef(chunking.hash_chunk(c), len(c)) for c in pieces])
            for c, ref in zip(pieces, refs[-1], strict=True):
                new.setdefault(ref.digest, c)
        missing = set(self.platform.chunks.missing(list(new)))
        if missing:
            body, _ = pack_of(c for d, c in new.items() if d in missing)
            self.platform.chunks.store_pack(body)
        return refs

    def commit(
        self,
        repo: str,
        files: Mapping[str, bytes],
        deletes: Iterable[str] = (),
        *,
        branch: str = "master",
        message: str = "",
    ) -> Commit:
        refs = self.upload(files.values())
        puts = [
            Put(path, len(data), tuple(r))
            for (path, data), r in zip(files.items(), refs, strict=True)
        ]
        return self.platform.commits.commit(repo, branch, puts, deletes, message=message)

    def read(self, repo: str, ref: str, path: str) -> bytes:
        _, node = self.platform.files.file(repo, parse_ref(ref), path)
        return b"".join(self.platform.files.content(node))


@pytest.fixture
def seed(platform: Platform) -> Seeder:
    return Seeder(platform)


class PlatformFactory:
    """factory(home=None, store="file", clock=None): a platform built (kaon.wiring.wire) and
    started, as the server does; `backends(p)` what it was wired to. All closed by `close`."""

    def __init__(self, tmp_path: Path, migrated_db: Path) -> None:
        self._tmp_path = tmp_path
        self._migrated_db = migrated_db
        self._built: list[tuple[Platform, Backends]] = []

    def __call__(
        self,
        home: Path | None = None,
        store: str = "file",
        clock: Callable[[], float] | None = None,
    ) -> Platform:
        where = _fresh_home(home or self._tmp_path / "home", self._migrated_db)
        p, backends = wire(settings_for(where, store), clock=clock or ticking_clock())
        self._built.append((p, backends))
        p.start()
        return p

    def backends(self, platform: Platform) -> Backends:
        return next(b for p, b in self._built if p is platform)

    def close(self) -> None:
        for p, _ in self._built:
            p.close()


@pytest.fixture
def platform_factory(tmp_path: Path, migrated_db: Path) -> Iterator[PlatformFactory]:
    """build(...) more platforms, started: factory(home=None, store="file", clock=None); all
    closed at teardown. Two platforms on one home act as two servers sharing one database."""
    factory = PlatformFactory(tmp_path, migrated_db)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def trees(platform: Platform, seed: Seeder) -> tuple[TreeRef, TreeRef]:
    """The code and data trees the execution ports' contract suites run (TreeRefs of two
    commits of `platform`: kaon.testing.contracts.executor's CODE_FILES and DATA_FILES)."""
    platform.repos.create_repo("code")
    platform.repos.create_repo("data")
    code = seed.commit("code", CODE_FILES)
    data = seed.commit("data", DATA_FILES)
    return (
        TreeRef(RepoName("code"), CommitId(str(code.id))),
        TreeRef(RepoName("data"), CommitId(str(data.id))),
    )


@pytest.fixture
def seeder_for() -> Callable[[Platform], Seeder]:
    """A Seeder for another platform (from platform_factory)."""
    return Seeder
