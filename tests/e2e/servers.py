"""Several real `kaon server` processes sharing one database and one object store (issue 17).

`Servers(root, n, database_url=None, store_url=None)` starts N `kaon up` servers (real
subprocesses, each on a free port with a free S3 port), each in its own KAON_HOME under
`root`, all with KAON_DATABASE_URL (and the older KAON_METADATA_URL) and KAON_STORE_URL set to
the same URLs: by default a SQLite file and a `file://` store in `root` (one host), or what
the caller passes (PostgreSQL from tests/pgfixtures.py, S3 from tests/s3fixtures.py).

What a server reads from its home and the servers must share is copied into every home
before it starts:
  * `token`: the platform token, the first admin's (`UserService.bootstrap` replaces the
    admin's platform token with its home's: different files would lock the others out);
  * `secret.key`: the key S3 secrets are sealed with in the database
    (kaon.db.credentials.sealing_key): a key made on A must be read on B.
Everything else in a home is the server's own (logs, server.json, envs, the pack drop).

The first server starts alone (it migrates the database), the others then at once. Each
server is a `Kaon` (tests/e2e/helpers.py): its CLI (`servers[1].ok("list", "repo")`), its SDK
(`.client()`), its URLs (`.server()["url"]`, `["s3_url"]`), `kill_server()`. `close()` (or the
context manager) stops them all (`kaon down`, then SIGKILL by pid) and asserts none survived.

    with Servers(tmp_path, 2) as (a, b):
        a.ok("create", "repo", "images")
        assert "images" in b.ok("list", "repo")
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from kaon.config import TOKEN_FILE

from .helpers import LEASE_SECONDS, Kaon

SHARED_FILES = (TOKEN_FILE, "secret.key")  # what every home of one platform must hold alike
KEY_BYTES = 32  # kaon.db.credentials.KEY_BYTES


class Servers:
    """N servers of one platform (see the module doc); index or iterate for their `Kaon`s."""

    def __init__(
        self,
        root: Path,
        n: int = 2,
        database_url: str | None = None,
        store_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("Servers needs at least one server")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{root / 'kaon.db'}"
        self.store_url = store_url or f"file://{root / 'objects'}"
        self.env = {
            "KAON_DATABASE_URL": self.database_url,
            "KAON_METADATA_URL": self.database_url,
            "KAON_STORE_URL": self.store_url,
            "KAON_S3_PORT": "0",
            "KAON_UPLOAD_LEASE_SECONDS": str(LEASE_SECONDS),
            **(env or {}),
        }
        shared = root / "shared"
        shared.mkdir(exist_ok=True)
        (shared / TOKEN_FILE).write_text(secrets.token_urlsafe(32) + "\n")
        (shared / "secret.key").write_bytes(secrets.token_bytes(KEY_BYTES))
        self.servers = [self._home(shared, i) for i in range(n)]
        self._started = False

    def _home(self, shared: Path, i: int) -> Kaon:
        k = Kaon(self.root / f"server{i}")
        k.home.chmod(0o700)
        for name in SHARED_FILES:
            target = k.home / name
            shutil.copyfile(shared / name, target)
            target.chmod(0o600)
        k.env.update(self.env)
        return k

    # lifetime ---------------------------------------------------------------------------
    def start(self) -> Servers:
        """Start every server: the first alone (it migrates the database), then the rest."""
        self._started = True
        self.servers[0].up()
        if len(self.servers) > 1:
            with ThreadPoolExecutor(len(self.servers) - 1) as pool:
                list(pool.map(lambda k: k.up(), self.servers[1:]))
        return self

    def close(self) -> None:
        """Stop every server (each `kaon down`, then SIGKILL by pid), all at once (one
        stopping first would leave its work to the others); none survives."""
        if not self._started:
            return

        def stop(k: Kaon) -> BaseException | None:
            try:
                k.shutdown()
            except (AssertionError, OSError) as exc:  # stop the others before failing
                return exc
            return None

        with ThreadPoolExecutor(len(self.servers)) as pool:
            errors = [e for e in pool.map(stop, self.servers) if e is not None]
        if errors:
            raise errors[0]

    def __enter__(self) -> Servers:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # access ------------------------------------------------------------------------------
    def __getitem__(self, i: int) -> Kaon:
        return self.servers[i]

    def __iter__(self) -> Iterator[Kaon]:
        return iter(self.servers)

    def __len__(self) -> int:
        return len(self.servers)

    @property
    def token(self) -> str:
        """The platform token every server accepts."""
        return (self.root / "shared" / TOKEN_FILE).read_text().strip()

    def urls(self) -> list[str]:
        """The API URL of every server, in order."""
        return [_doc(k)["url"] for k in self.servers]

    def s3_urls(self) -> list[str]:
        """The S3 gateway URL of every server, in order."""
        return [_doc(k)["s3_url"] for k in self.servers]


def _doc(k: Kaon) -> dict[str, Any]:
    doc = k.server()
    assert doc is not None, f"no server runs in {k.home}"
    return doc
