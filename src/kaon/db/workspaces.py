"""SqlWorkspaceStore: the WorkspaceStore port on SQLAlchemy Core (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, delete, exc, insert, select, update

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded
from kaon.ports.workspaces import Workspace


def _workspace(row: Row[Any]) -> Workspace:
    m = row._mapping
    return Workspace(
        name=WorkspaceName(m["name"]),
        created=float(m["created"]),
        author=str(m["author"]),
        current=json.loads(m["current"]),
    )


class SqlWorkspaceStore(SqlStore):
    @guarded
    def create_workspace(self, workspace: Workspace) -> None:
        row = {
            "name": workspace.name,
            "created": workspace.created,
            "author": workspace.author,
            "current": json.dumps(workspace.current),
        }
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.workspaces), row)
        except exc.IntegrityError:
            raise AlreadyExists(
                f"workspace '{workspace.name}' already exists: use `kaon workspace set -n "
                f"{workspace.name}`"
            ) from None

    @guarded
    def get_workspace(self, name: WorkspaceName) -> Workspace | None:
        t = schema.workspaces
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _workspace(row)

    @guarded
    def list_workspaces(self) -> list[Workspace]:
        t = schema.workspaces
        with self._engine.connect() as conn:
            return [_workspace(r) for r in conn.execute(select(t).order_by(t.c.name))]

    @guarded
    def set_current(self, name: WorkspaceName, current: dict[str, Any]) -> None:
        t = schema.workspaces
        with self._writer.begin() as conn:
            done = conn.execute(
                update(t).where(t.c.name == name).values(current=json.dumps(current))
            )
        if done.rowcount == 0:
            raise WorkspaceNotFound(f"workspace '{name}' does not exist")

    @guarded
    def delete_workspace(self, name: WorkspaceName) -> None:
        with self._writer.begin() as conn:
            jobs = select(schema.jobs.c.id).where(schema.jobs.c.workspace == name)
            conn.execute(delete(schema.trials).where(schema.trials.c.job.in_(jobs)))
            conn.execute(delete(schema.endpoints).where(schema.endpoints.c.workspace == name))
            conn.execute(delete(schema.jobs).where(schema.jobs.c.workspace == name))
            # explicit, not only ON DELETE CASCADE: SQLite enforces it only with foreign_keys on
            roles = schema.workspace_roles
            conn.execute(delete(roles).where(roles.c.workspace == name))
            conn.execute(delete(schema.workspaces).where(schema.workspaces.c.name == name))
