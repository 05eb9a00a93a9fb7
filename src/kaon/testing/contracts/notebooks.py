"""Contract of the NotebookStore port (kaon.ports.notebooks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.notebooks import Notebook, NotebookState
from kaon.ports.database import MetadataDatabase
from kaon.ports.notebooks import NotebookStore
from kaon.ports.workspaces import Workspace
from kaon.testing.samples import WS, bundle


def notebook(name: str, created: float, workspace: str = WS) -> Notebook:
    return Notebook(
        name,
        workspace,
        NotebookState.BUILDING,
        created,
        "me",
        bundle("source", "s1"),
        bundle("data", "d1"),
        "0a1b2c3d",
        "ab" * 32,
        cpu=1.0,
        memory=2 << 30,
    )


class NotebookStoreContract:
    @pytest.fixture
    def db(self, database: MetadataDatabase) -> MetadataDatabase:
        for name in (WS, "other"):
            database.workspaces.create_workspace(Workspace(WorkspaceName(name), 1.0, "me"))
        return database

    @pytest.fixture
    def store(self, db: MetadataDatabase) -> NotebookStore:
        return db.notebooks

    def test_notebooks_round_trip(self, store: NotebookStore) -> None:
        n = notebook("notebook-ws-me", 3.0)
        store.add_notebook(n)
        assert store.get_notebook(n.name) == n
        running = replace(n.moved(NotebookState.RUNNING), saved="c1", env={"lock_id": "x"})
        store.save_notebook(running)
        assert store.get_notebook(n.name) == running
        failed = n.moved(NotebookState.FAILED, "build: no such package")
        store.save_notebook(failed)
        assert store.get_notebook(n.name) == failed
        assert store.get_notebook("nope") is None

    def test_without_data(self, store: NotebookStore) -> None:
        n = replace(notebook("nb", 1.0), data=None, cpu=None, memory=None)
        store.add_notebook(n)
        assert store.get_notebook("nb") == n

    def test_a_taken_name_is_refused(self, store: NotebookStore) -> None:
        store.add_notebook(notebook("nb", 1.0))
        with pytest.raises(AlreadyExists):
            store.add_notebook(notebook("nb", 2.0, "other"))

    def test_unknown_workspace(self, store: NotebookStore) -> None:
        with pytest.raises(WorkspaceNotFound):
            store.add_notebook(notebook("nb", 1.0, "gone"))

    def test_saving_an_unknown_notebook_is_ignored(self, store: NotebookStore) -> None:
        store.save_notebook(notebook("nb", 1.0))
        assert store.get_notebook("nb") is None

    def test_list_newest_first_per_workspace(self, store: NotebookStore) -> None:
        for name, created, ws in (("b", 1.0, WS), ("a", 2.0, WS), ("c", 3.0, "other")):
            store.add_notebook(notebook(name, created, ws))
        assert [n.name for n in store.list_notebooks(WorkspaceName(WS))] == ["a", "b"]
        assert [n.name for n in store.list_notebooks()] == ["c", "a", "b"]

    def test_delete_frees_the_name(self, store: NotebookStore) -> None:
        store.add_notebook(notebook("nb", 1.0))
        store.delete_notebook("nb")
        store.delete_notebook("nb")
        assert store.get_notebook("nb") is None
        store.add_notebook(notebook("nb", 2.0))

    def test_deleting_the_workspace_deletes_its_notebooks(
        self, db: MetadataDatabase, store: NotebookStore
    ) -> None:
        store.add_notebook(notebook("a", 1.0))
        store.add_notebook(notebook("c", 2.0, "other"))
        db.workspaces.delete_workspace(WorkspaceName(WS))
        assert [n.name for n in store.list_notebooks()] == ["c"]
