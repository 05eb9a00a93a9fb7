"""Contract of the WorkspaceStore port (kaon.ports.workspaces)."""

from __future__ import annotations

import pytest

from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import Trial, WorkspaceName
from kaon.core.users import Role, User, UserName
from kaon.ports.database import MetadataDatabase
from kaon.ports.workspaces import Workspace, WorkspaceStore
from kaon.testing.samples import WS, endpoint, job, job_id


class WorkspaceStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> WorkspaceStore:
        """The database's WorkspaceStore, with the workspace 'ws'."""
        database.workspaces.create_workspace(Workspace(WS, 1.0, "me"))
        return database.workspaces

    def test_workspaces(self, store: WorkspaceStore) -> None:
        with pytest.raises(AlreadyExists):
            store.create_workspace(Workspace(WS, 2.0, "you"))
        store.set_current(WS, {"source": {"path": "/mnist:ab"}})
        got = store.get_workspace(WS)
        assert got is not None and got.current == {"source": {"path": "/mnist:ab"}}
        assert [w.name for w in store.list_workspaces()] == [WS]
        with pytest.raises(WorkspaceNotFound):
            store.set_current(WorkspaceName("nope"), {})

    def test_round_trip_and_order(self, store: WorkspaceStore) -> None:
        late = Workspace(WorkspaceName("alpha"), 5.0, "you", {"data": {"commit": "d1"}})
        store.create_workspace(late)
        assert store.get_workspace(late.name) == late
        assert store.get_workspace(WS) == Workspace(WS, 1.0, "me", {})
        assert store.get_workspace(WorkspaceName("nope")) is None
        assert [w.name for w in store.list_workspaces()] == ["alpha", "ws"]  # by name

    def test_current_is_replaced_not_merged(self, store: WorkspaceStore) -> None:
        store.set_current(WS, {"source": {"commit": "c1"}, "data": {"commit": "d1"}})
        store.set_current(WS, {"hyper": {"commit": "h1"}})
        got = store.get_workspace(WS)
        assert got is not None and got.current == {"hyper": {"commit": "h1"}}

    def test_delete_cascades_to_jobs_endpoints_and_roles(
        self, store: WorkspaceStore, database: MetadataDatabase
    ) -> None:
        other = WorkspaceName("other")
        store.create_workspace(Workspace(other, 1.0, "me"))
        kept = job(2, workspace=other)
        database.jobs.add_job(job(1), [Trial(job_id(1), 0, {})])
        database.jobs.add_job(kept, [Trial(kept.id, 0, {})])
        database.endpoints.add_endpoint(endpoint("serve-ws-abcdef", 3.0))
        database.endpoints.add_endpoint(endpoint("serve-other-abcdef", 3.0, other))
        users = database.users
        users.add_user(User(UserName("bob"), 1.0))
        users.set_role(WS, UserName("bob"), Role.EDITOR)
        users.set_role(other, UserName("bob"), Role.VIEWER)
        store.delete_workspace(WS)
        assert store.get_workspace(WS) is None
        assert database.endpoints.get_endpoint("serve-ws-abcdef") is None
        assert [j.id for j in database.jobs.list_jobs()] == [kept.id]
        assert database.jobs.list_trials(job_id(1)) == []
        assert len(database.jobs.list_trials(kept.id)) == 1
        assert [e.name for e in database.endpoints.list_endpoints()] == ["serve-other-abcdef"]
        assert users.roles_of("bob") == {other: Role.VIEWER}
        store.delete_workspace(WS)  # an unknown name is ignored
        store.create_workspace(Workspace(WS, 9.0, "you"))  # the name is free again, empty
        assert database.jobs.list_jobs(WS) == [] and database.endpoints.list_endpoints(WS) == []
        assert database.endpoints.get_endpoint("serve-other-abcdef") is not None
