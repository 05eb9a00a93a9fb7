"""Schema migrations: run Alembic programmatically from the package (no alembic.ini needed).

Alembic's runtime (+ mako, ~60-80 ms of imports) is loaded only when an upgrade runs: the
revision a database is at is read with SQLAlchemy, and the revisions this kaon ships are read
from the migration files' `revision = ` / `down_revision = ` lines
(`tests/db/test_migrate.py` checks both against Alembic's own answers).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from kaon.core.errors import BackendUnavailable
from kaon.db.engine import WRITE_OPTION, backend_errors, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

_REVISION_LINE = re.compile(
    r'^(?P<key>revision|down_revision)\s*(?::[^=]*)?=\s*(?:"(?P<id>[^"]*)"|None)\s*$', re.M
)

_PG_LOCK_KEY = 0x6B616F6E  # "kaon": serializes concurrent upgrades on PostgreSQL


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (for `command.*` calls)."""
    from alembic.config import Config  # only when migrating (module doc)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def _revision_graph() -> dict[str, str | None]:
    """revision -> down_revision of every migration file this kaon ships."""
    graph: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = {m["key"]: m["id"] for m in _REVISION_LINE.finditer(path.read_text("utf-8"))}
        if "revision" not in found or found["revision"] is None:
            raise RuntimeError(f'{path}: no `revision = "..."` line')
        graph[found["revision"]] = found.get("down_revision")
    return graph


def known_revisions() -> frozenset[str]:
    """Every revision this kaon ships."""
    return frozenset(_revision_graph())


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration's revision id (the one no other migration revises)."""
    graph = _revision_graph()
    heads = set(graph) - {down for down in graph.values() if down is not None}
    if len(heads) != 1:  # pragma: no cover - the package ships one linear history
        raise RuntimeError(f"{MIGRATIONS}: expected one head revision, found {sorted(heads)}")
    return heads.pop()


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: never migrated), as Alembic reads it."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds more than one revision: {sorted(rows)}")
    return rows[0] if rows else None


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
        from alembic import command  # only when migrating (module doc)

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
