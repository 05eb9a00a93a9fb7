"""SqlNotebookStore: the NotebookStore port on SQLAlchemy Core (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, delete, exc, insert, select, update

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.notebooks import Notebook
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded


class SqlNotebookStore(SqlStore):
    @guarded
    def add_notebook(self, notebook: Notebook) -> None:
        row = {
            "name": notebook.name,
            "workspace": notebook.workspace,
            "state": notebook.state.value,
            "created": notebook.created,
            "doc": json.dumps(notebook.to_doc()),
        }
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.notebooks), row)
        except exc.IntegrityError:
            if self.get_notebook(notebook.name) is None:
                raise WorkspaceNotFound(
                    f"workspace '{notebook.workspace}' does not exist"
                ) from None
            raise AlreadyExists(f"notebook {notebook.name!r} already exists") from None

    @guarded
    def save_notebook(self, notebook: Notebook) -> None:
        t = schema.notebooks
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == notebook.name)
                .values(state=notebook.state.value, doc=json.dumps(notebook.to_doc()))
            )

    @guarded
    def get_notebook(self, name: str) -> Notebook | None:
        t = schema.notebooks
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _notebook(row)

    @guarded
    def list_notebooks(self, workspace: WorkspaceName | None = None) -> list[Notebook]:
        t = schema.notebooks
        stmt = select(t).order_by(t.c.created.desc(), t.c.name)
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        with self._engine.connect() as conn:
            return [_notebook(r) for r in conn.execute(stmt)]

    @guarded
    def delete_notebook(self, name: str) -> None:
        t = schema.notebooks
        with self._writer.begin() as conn:
            conn.execute(delete(t).where(t.c.name == name))


def _notebook(row: Row[Any]) -> Notebook:
    m = row._mapping
    return Notebook.from_doc(
        m["name"], m["workspace"], m["state"], float(m["created"]), json.loads(m["doc"])
    )
