"""MemoryNotebookStore: the NotebookStore port over the shared in-memory tables."""

from __future__ import annotations

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.notebooks import Notebook
from kaon.memory.tables import Tables, detached


class MemoryNotebookStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_notebook(self, notebook: Notebook) -> None:
        with self._t.lock:
            if notebook.workspace not in self._t.workspaces:
                raise WorkspaceNotFound(f"workspace '{notebook.workspace}' does not exist")
            if notebook.name in self._t.notebooks:
                raise AlreadyExists(f"notebook {notebook.name!r} already exists")
            self._t.notebooks[notebook.name] = detached(notebook)

    def save_notebook(self, notebook: Notebook) -> None:
        with self._t.lock:
            if notebook.name in self._t.notebooks:
                self._t.notebooks[notebook.name] = detached(notebook)

    def get_notebook(self, name: str) -> Notebook | None:
        with self._t.lock:
            return detached(self._t.notebooks.get(name))

    def list_notebooks(self, workspace: WorkspaceName | None = None) -> list[Notebook]:
        with self._t.lock:
            found = [
                n
                for n in self._t.notebooks.values()
                if workspace is None or n.workspace == workspace
            ]
            return detached(sorted(found, key=lambda n: (-n.created, n.name)))

    def delete_notebook(self, name: str) -> None:
        with self._t.lock:
            self._t.notebooks.pop(name, None)
