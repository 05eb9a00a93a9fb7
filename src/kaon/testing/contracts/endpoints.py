"""Contract of the EndpointStore port (kaon.ports.endpoints)."""

from __future__ import annotations

import pytest

from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.jobs import WorkspaceName
from kaon.ports.database import MetadataDatabase
from kaon.ports.endpoints import EndpointStore
from kaon.ports.workspaces import Workspace
from kaon.testing.samples import WS, endpoint


class EndpointStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> EndpointStore:
        """The database's EndpointStore, with the workspaces 'ws' and 'other'."""
        for name in (WS, "other"):
            database.workspaces.create_workspace(Workspace(WorkspaceName(name), 1.0, "me"))
        return database.endpoints

    def test_endpoints_round_trip(self, store: EndpointStore) -> None:
        e = endpoint("serve-ws-abcdef", 3.0)
        store.add_endpoint(e)
        assert store.get_endpoint(e.name) == e
        store.save_endpoint(e.moved(EndpointState.RUNNING))
        assert store.get_endpoint(e.name) == e.moved(EndpointState.RUNNING)
        failed = e.moved(
            EndpointState.FAILURE,
            failure=EndpointFailure.BUILD,
            reason="build: no model",
            started=4.0,
        )
        store.save_endpoint(failed)
        assert store.get_endpoint(e.name) == failed
        assert store.get_endpoint("nope") is None

    def test_saving_an_unknown_endpoint_is_ignored(self, store: EndpointStore) -> None:
        store.save_endpoint(endpoint("ghost", 1.0))
        assert store.get_endpoint("ghost") is None and store.list_endpoints() == []

    def test_list_newest_first_per_workspace(self, store: EndpointStore) -> None:
        for name, created, ws in (("b", 1.0, WS), ("c", 3.0, "other"), ("a", 3.0, WS)):
            store.add_endpoint(endpoint(name, created, ws))
        assert [e.name for e in store.list_endpoints()] == ["a", "c", "b"]  # ties: by name
        assert [e.name for e in store.list_endpoints(WS)] == ["a", "b"]
        assert [e.name for e in store.list_endpoints(WorkspaceName("other"))] == ["c"]
        assert store.list_endpoints(WorkspaceName("nope")) == []
