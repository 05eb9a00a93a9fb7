"""SqlCredentialStore: S3 access keys in the metadata database.

SigV4 needs the secret itself to verify signatures, so it is stored sealed (encrypted and
authenticated, kaon.core.sealing) with a key kept outside the database: `key` (the platform
passes $KAON_HOME/secret.key, 0600, which user code never sees). Rows an older kaon wrote in
plain text are sealed when the store opens. On SQLite the database file is also made readable
by its owner only (0600).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import RowMapping, delete, exc, insert, select, update

from kaon.core.credentials import ALL, WORKSPACE, S3Credential
from kaon.core.errors import AlreadyExists, CorruptObject, InvalidInput
from kaon.core.sealing import KEY_BYTES, is_sealed, open_sealed, seal
from kaon.db import schema
from kaon.db.engine import parse_url
from kaon.db.sqlstore import SqlStore

if TYPE_CHECKING:
    from kaon.db.database import Database

_t = schema.s3_credentials


def sealing_key(path: Path) -> bytes:
    """The key in `path`, created (0600, random) on first use; two servers starting at once
    agree on one (written aside, then linked into place)."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise CorruptObject(
            f"{path} holds {len(key)} bytes, not a {KEY_BYTES}-byte key: restore it"
        )
    return key


class SqlCredentialStore(SqlStore):
    def __init__(self, db: Database, key: bytes) -> None:
        super().__init__(db)
        self._key = key
        parsed = parse_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{parsed.database}{suffix}").chmod(0o600)
        self._seal_plain_rows()

    def _seal_plain_rows(self) -> None:
        """Seal what an older kaon stored in plain text (idempotent, one transaction)."""
        with self._db.guard(), self._writer.begin() as conn:
            rows = conn.execute(select(_t.c.access_key, _t.c.secret)).all()
            for access_key, secret in rows:
                if not is_sealed(secret):
                    sealed = seal(self._key, secret)
                    stmt = update(_t).where(_t.c.access_key == access_key).values(secret=sealed)
                    conn.execute(stmt)

    def add_credential(self, credential: S3Credential) -> None:
        row = {
            "access_key": credential.access_key,
            "secret": seal(self._key, credential.secret),
            "owner": credential.owner,
            "created": credential.created,
            "job": credential.job,
            "scope": credential.scope,
            "user": credential.user,
        }
        try:
            with self._db.guard(), self._writer.begin() as conn:
                conn.execute(insert(_t), row)
        except exc.IntegrityError as err:
            key = credential.access_key
            raise AlreadyExists(f"S3 key {key!r} already exists", access_key=key) from err

    def get_credential(self, access_key: str) -> S3Credential | None:
        stmt = select(_t).where(_t.c.access_key == access_key)
        with self._db.guard(), self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return self._credential(row._mapping) if row is not None else None

    def list_credentials(self) -> list[S3Credential]:
        stmt = select(_t).order_by(_t.c.created)
        with self._db.guard(), self._engine.connect() as conn:
            return [self._credential(r._mapping) for r in conn.execute(stmt)]

    def delete_credential(self, access_key: str) -> bool:
        with self._db.guard(), self._writer.begin() as conn:
            return bool(conn.execute(delete(_t).where(_t.c.access_key == access_key)).rowcount)

    def delete_job_credentials(self, job: str) -> int:
        with self._db.guard(), self._writer.begin() as conn:
            return int(conn.execute(delete(_t).where(_t.c.job == job)).rowcount)

    def _credential(self, m: RowMapping) -> S3Credential:
        secret = open_sealed(self._key, m["secret"])
        workspace = _workspace(m["scope"])
        return S3Credential(
            m["access_key"], secret, m["owner"], float(m["created"]), m["job"], workspace, m["user"]
        )


def _workspace(scope: str) -> str | None:
    """The workspace a key's stored scope narrows it to ('*': none, 'workspace:<name>')."""
    if scope == ALL:
        return None
    if scope.startswith(WORKSPACE) and len(scope) > len(WORKSPACE):
        return scope[len(WORKSPACE) :]
    raise InvalidInput(f"unknown S3 key scope {scope!r}: '*' or 'workspace:<name>'")
