"""SqlReleaseStore: the ReleaseStore port on SQLAlchemy Core (SQLite or PostgreSQL); the
primary key on the name is what makes two deploys racing for one name end with one winner."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, exc, insert, select, update

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.releases import Release
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded


class SqlReleaseStore(SqlStore):
    @guarded
    def add_release(self, release: Release) -> None:
        row = {
            "name": release.name,
            "workspace": release.workspace,
            "created": release.created,
            "doc": json.dumps(release.to_doc()),
        }
        ws = schema.workspaces
        try:
            with self._writer.begin() as conn:
                if conn.execute(select(ws.c.name).where(ws.c.name == release.workspace)).first():
                    conn.execute(insert(schema.releases), row)
                    return
        except exc.IntegrityError:
            raise AlreadyExists(f"endpoint {release.name!r} already exists") from None
        raise WorkspaceNotFound(f"workspace '{release.workspace}' does not exist")

    @guarded
    def save_release(self, release: Release) -> None:
        t = schema.releases
        with self._writer.begin() as conn:
            conn.execute(
                update(t).where(t.c.name == release.name).values(doc=json.dumps(release.to_doc()))
            )

    @guarded
    def get_release(self, name: str) -> Release | None:
        t = schema.releases
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _release(row)

    @guarded
    def list_releases(self, workspace: WorkspaceName | None = None) -> list[Release]:
        t = schema.releases
        stmt = select(t).order_by(t.c.name)
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        with self._engine.connect() as conn:
            return [_release(r) for r in conn.execute(stmt)]


def _release(row: Row[Any]) -> Release:
    m = row._mapping
    return Release.from_doc(m["name"], m["workspace"], float(m["created"]), json.loads(m["doc"]))
