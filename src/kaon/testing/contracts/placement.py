"""Contract of the PlacementStore port (kaon.ports.placement): where versions' replicas run."""

from __future__ import annotations

import pytest

from kaon.core.placement import Placement
from kaon.ports.database import MetadataDatabase
from kaon.ports.placement import PlacementStore
from kaon.testing.samples import run_threads


class PlacementStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> PlacementStore:
        return database.placements

    def test_a_placement_is_read_back_and_replaced(self, store: PlacementStore) -> None:
        assert store.placement("pets-v1") is None
        store.place(Placement("pets-v1", "a", "http://a:5266", (), 1.0))
        store.place(Placement("pets-v2", "b", "http://b:5266", ("tcp://10.0.0.2:7000",), 2.0))
        assert store.placement("pets-v1") == Placement("pets-v1", "a", "http://a:5266", (), 1.0)
        ready = ("unix:///tmp/r0.sock", "unix:///tmp/r1.sock")
        store.place(Placement("pets-v1", "a", "http://a:5266", ready, 3.0))
        assert store.placement("pets-v1") == Placement("pets-v1", "a", "http://a:5266", ready, 3.0)
        assert [p.endpoint for p in store.placements()] == ["pets-v1", "pets-v2"]
        taken = store.placement("pets-v2")
        assert taken is not None and taken.direct and not store.placements()[0].direct

    def test_only_the_server_running_it_forgets_it(self, store: PlacementStore) -> None:
        store.place(Placement("pets-v1", "a", "http://a:5266", (), 1.0))
        store.unplace("pets-v1", "b")  # b took nothing over: a's placement stays
        assert store.placement("pets-v1") is not None
        store.place(Placement("pets-v1", "b", "http://b:5266", (), 2.0))  # taken over by b
        store.unplace("pets-v1", "a")
        held = store.placement("pets-v1")
        assert held is not None and held.server == "b"
        store.unplace("pets-v1", "b")
        assert store.placement("pets-v1") is None
        store.unplace("pets-v1", "b")  # idempotent

    def test_servers_placing_one_version_at_once_leave_one_row(self, store: PlacementStore) -> None:
        def place(i: int) -> None:
            store.place(Placement("pets-v1", f"s{i}", f"http://s{i}:5266", (), float(i)))

        assert run_threads(8, place) == []
        (row,) = store.placements()
        assert row.endpoint == "pets-v1" and row.url == f"http://{row.server}:5266"
