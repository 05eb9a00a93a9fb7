"""Schema migrations: run Alembic programmatically from the package (no alembic.ini needed)."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from kaon.core.errors import BackendUnavailable
from kaon.db.engine import WRITE_OPTION, backend_errors, make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_PG_LOCK_KEY = 0x6B616F6E  # "kaon": serializes concurrent upgrades on PostgreSQL


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (for `command.*` calls)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this kaon ships."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(s.revision for s in script.walk_revisions())


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no Alembic migrations found in {MIGRATIONS}")
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (idempotent)."""
    engine = make_engine(url)
    try:
        with backend_errors(url):
            upgrade_engine(engine)
    finally:
        engine.dispose()


_UPGRADING = threading.Lock()  # threads of one process migrate one at a time (alembic's
# script loading is not thread-safe); other processes wait on the database's own lock


def upgrade_engine(engine: Engine) -> None:
    """Upgrade through an existing engine; a cheap read when already at head."""
    head = head_revision()
    with engine.connect() as conn:
        current = current_revision(conn)
        if current == head:
            return
        _refuse_newer(engine, current, head)
    with _UPGRADING, engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        _refuse_newer(engine, current_revision(conn), head)  # another kaon may have migrated
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _refuse_newer(engine: Engine, current: str | None, head: str) -> None:
    """A database migrated by a newer kaon is left as it is: this kaon does not know its
    schema (and migrating down would lose what the newer one stored)."""
    if current is None or current in known_revisions():
        return
    where = engine.url.render_as_string(hide_password=True)
    raise BackendUnavailable(
        f"metadata database {where}: database schema {current} is newer than this kaon "
        f"(head {head}): upgrade kaon (nothing was migrated)",
        url=where,
        revision=current,
        head=head,
    )
