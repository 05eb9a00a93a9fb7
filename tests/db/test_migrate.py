"""kaon.db.migrate reads revisions without Alembic's runtime: the same answers as Alembic's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from kaon.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    upgrade,
)


def test_head_and_known_revisions_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == script.get_current_head()
    assert known_revisions() == {s.revision for s in script.walk_revisions()}


def test_current_revision_is_alembics(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kaon.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:  # never migrated: no version table
            assert current_revision(conn) is None
            assert MigrationContext.configure(conn).get_current_revision() is None
        upgrade(url)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert current_revision(conn) == MigrationContext.configure(conn).get_current_revision()
        with engine.begin() as conn:  # two heads: refused, as Alembic refuses
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
        with engine.connect() as conn, pytest.raises(RuntimeError, match="more than one"):
            current_revision(conn)
    finally:
        engine.dispose()


def test_an_existing_database_is_checked_without_alembic(tmp_path: Path) -> None:
    """Only an upgrade imports Alembic: a database already at head does not."""
    url = f"sqlite:///{tmp_path / 'kaon.db'}"
    upgrade(url)
    code = (
        "import sys\n"
        "from kaon.db.migrate import upgrade\n"
        f"upgrade({url!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
