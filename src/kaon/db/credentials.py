"""SqlCredentialStore: S3 access keys in the metadata database.

The secret is stored as is (SigV4 needs it to verify signatures); on SQLite the database file
is made readable by its owner only (0600), like $KAON_HOME/token. On PostgreSQL, protect the
database as you protect any secret store.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlalchemy import RowMapping, delete, insert, select

from kaon.core.access import Scope
from kaon.core.credentials import S3Credential
from kaon.db import schema
from kaon.db.engine import (
    DEFAULT_BUSY_TIMEOUT,
    WRITE_OPTION,
    backend_errors,
    make_engine,
    parse_url,
)
from kaon.db.migrate import upgrade_engine

_t = schema.s3_credentials


class SqlCredentialStore:
    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self._busy_timeout = busy_timeout
        self._engine = make_engine(url, busy_timeout=busy_timeout)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        try:
            with backend_errors(url, busy_timeout):
                upgrade_engine(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        parsed = parse_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{parsed.database}{suffix}").chmod(0o600)

    def close(self) -> None:
        self._engine.dispose()

    def add_credential(self, credential: S3Credential) -> None:
        row = {
            "access_key": credential.access_key,
            "secret": credential.secret,
            "owner": credential.owner,
            "created": credential.created,
            "job": credential.job,
            "scope": str(credential.scope),
        }
        with backend_errors(self.url, self._busy_timeout), self._writer.begin() as conn:
            conn.execute(insert(_t), row)

    def get_credential(self, access_key: str) -> S3Credential | None:
        stmt = select(_t).where(_t.c.access_key == access_key)
        with backend_errors(self.url, self._busy_timeout), self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _credential(row._mapping) if row is not None else None

    def list_credentials(self) -> list[S3Credential]:
        stmt = select(_t).order_by(_t.c.created)
        with backend_errors(self.url, self._busy_timeout), self._engine.connect() as conn:
            return [_credential(r._mapping) for r in conn.execute(stmt)]

    def delete_credential(self, access_key: str) -> bool:
        with backend_errors(self.url, self._busy_timeout), self._writer.begin() as conn:
            return bool(conn.execute(delete(_t).where(_t.c.access_key == access_key)).rowcount)

    def delete_job_credentials(self, job: str) -> int:
        with backend_errors(self.url, self._busy_timeout), self._writer.begin() as conn:
            return int(conn.execute(delete(_t).where(_t.c.job == job)).rowcount)


def _credential(m: RowMapping) -> S3Credential:
    scope = Scope.parse(m["scope"])
    return S3Credential(
        m["access_key"], m["secret"], m["owner"], float(m["created"]), m["job"], scope
    )
