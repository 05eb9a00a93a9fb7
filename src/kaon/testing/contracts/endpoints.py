"""Contracts of the EndpointStore and ReleaseStore ports (kaon.ports.endpoints)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.releases import Move, Pending, Release, Traffic
from kaon.ports.database import MetadataDatabase
from kaon.ports.endpoints import EndpointStore, ReleaseStore
from kaon.ports.workspaces import Workspace
from kaon.testing.samples import WS, endpoint, run_threads


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

    def test_a_taken_name_is_refused(self, store: EndpointStore) -> None:
        store.add_endpoint(endpoint("petset-c517ec", 1.0))
        with pytest.raises(AlreadyExists):
            store.add_endpoint(endpoint("petset-c517ec", 2.0, "other"))
        assert store.get_endpoint("petset-c517ec") == endpoint("petset-c517ec", 1.0)

    def test_saving_an_unknown_endpoint_is_ignored(self, store: EndpointStore) -> None:
        store.save_endpoint(endpoint("ghost", 1.0))
        assert store.get_endpoint("ghost") is None and store.list_endpoints() == []

    def test_signatures_declared_replace_learned_keep_the_first(self, store: EndpointStore) -> None:
        store.add_endpoint(endpoint("petset-c517ec", 1.0))
        first = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}], "outputs": []}
        second = {"inputs": [{"name": "y", "datatype": "INT64", "shape": [-1]}], "outputs": []}
        assert store.get_signature("petset-c517ec") is None
        assert store.save_signature("petset-c517ec", first, declared=False)
        assert not store.save_signature("petset-c517ec", second, declared=False)
        assert store.get_signature("petset-c517ec") == first  # the first learned stays
        assert store.save_signature("petset-c517ec", second, declared=True)
        assert store.get_signature("petset-c517ec") == second  # the bundle's wins
        assert not store.save_signature("ghost", first, declared=False)  # no such version
        assert store.get_signature("ghost") is None

    def test_list_newest_first_per_workspace(self, store: EndpointStore) -> None:
        for name, created, ws in (("b", 1.0, WS), ("c", 3.0, "other"), ("a", 3.0, WS)):
            store.add_endpoint(endpoint(name, created, ws))
        assert [e.name for e in store.list_endpoints()] == ["a", "c", "b"]  # ties: by name
        assert [e.name for e in store.list_endpoints(WS)] == ["a", "b"]
        assert [e.name for e in store.list_endpoints(WorkspaceName("other"))] == ["c"]
        assert store.list_endpoints(WorkspaceName("nope")) == []


def release(name: str, workspace: str = WS, **weights: int) -> Release:
    return Release(name, workspace, 1.0, "me", Traffic(weights or {"c517ec": 100}))


class ReleaseStoreContract:
    @pytest.fixture
    def db(self, database: MetadataDatabase) -> MetadataDatabase:
        for name in (WS, "other"):
            database.workspaces.create_workspace(Workspace(WorkspaceName(name), 1.0, "me"))
        return database

    @pytest.fixture
    def store(self, db: MetadataDatabase) -> ReleaseStore:
        """The database's ReleaseStore, with the workspaces 'ws' and 'other'."""
        return db.releases

    def test_releases_round_trip(self, store: ReleaseStore) -> None:
        r = release("petset")
        store.add_release(r)
        assert store.get_release("petset") == r
        canary = r.routed(Traffic({"c517ec": 90, "d00d1e": 10}), 5.0)
        pending = replace(
            canary,
            pending=Pending(Move.ROLLBACK, ("c517ec",), Traffic.only("c517ec"), 6.0, "j1"),
            candidate="d00d1e",
            job="j0",
            extra={"note": [1, 2]},
        )
        store.save_release(pending)
        assert store.get_release("petset") == pending
        assert store.get_release("nope") is None

    def test_a_name_is_taken_once_platform_wide(self, store: ReleaseStore) -> None:
        store.add_release(release("petset"))
        with pytest.raises(AlreadyExists):
            store.add_release(release("petset", "other", v2=100))
        assert store.get_release("petset") == release("petset")

    def test_racing_for_one_name_has_one_winner(self, store: ReleaseStore) -> None:
        errors = run_threads(6, lambda i: store.add_release(release("race", WS, **{f"v{i}": 100})))
        assert len(errors) == 5 and all(isinstance(e, AlreadyExists) for e in errors)
        assert len(store.list_releases()) == 1

    def test_unknown_workspace_and_unknown_release(self, store: ReleaseStore) -> None:
        with pytest.raises(WorkspaceNotFound):
            store.add_release(release("petset", "nope"))
        store.save_release(release("ghost"))
        assert store.get_release("ghost") is None and store.list_releases() == []

    def test_list_by_name_per_workspace(self, store: ReleaseStore) -> None:
        for name, ws in (("b", WS), ("c", "other"), ("a", WS)):
            store.add_release(release(name, ws))
        assert [r.name for r in store.list_releases()] == ["a", "b", "c"]
        assert [r.name for r in store.list_releases(WorkspaceName(WS))] == ["a", "b"]
        assert store.list_releases(WorkspaceName("nope")) == []

    def test_deleting_the_workspace_deletes_its_releases(
        self, db: MetadataDatabase, store: ReleaseStore
    ) -> None:
        store.add_release(release("a"))
        store.add_release(release("c", "other"))
        db.workspaces.delete_workspace(WorkspaceName(WS))
        assert [r.name for r in store.list_releases()] == ["c"]
