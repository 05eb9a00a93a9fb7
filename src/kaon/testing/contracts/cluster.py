"""Contract of the ClusterStore port (kaon.ports.cluster): servers and claims."""

from __future__ import annotations

import pytest

from kaon.core.cluster import ClaimKind, ServerRecord
from kaon.ports.cluster import ClusterStore
from kaon.ports.database import MetadataDatabase
from kaon.testing.samples import run_threads


class ClusterStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> ClusterStore:
        return database.cluster

    def test_servers_are_listed_while_they_beat(self, store: ClusterStore) -> None:
        store.heartbeat(ServerRecord("a", "http://a:5266", 1.0, 10.0))
        store.heartbeat(ServerRecord("b", "http://b:5266", 2.0, 20.0))
        assert [s.id for s in store.servers(seen_since=5.0)] == ["a", "b"]
        assert [s.id for s in store.servers(seen_since=15.0)] == ["b"]
        store.heartbeat(ServerRecord("a", "http://a2:5266", 1.0, 30.0))
        (a,) = store.servers(seen_since=25.0)
        assert (a.id, a.url, a.started, a.seen) == ("a", "http://a2:5266", 1.0, 30.0)

    def test_one_owner_per_key_until_it_expires(self, store: ClusterStore) -> None:
        first = store.claim(ClaimKind.JOB, "j1", "a", now=100.0, ttl=30.0)
        assert first is not None and first.owner == "a" and first.expires == 130.0
        assert store.claim(ClaimKind.JOB, "j1", "b", now=110.0, ttl=30.0) is None
        assert store.claim(ClaimKind.ENDPOINT, "j1", "b", now=110.0, ttl=30.0) is not None
        renewed = store.claim(ClaimKind.JOB, "j1", "a", now=120.0, ttl=30.0)
        assert renewed is not None and renewed.expires == 150.0
        holder = store.holder(ClaimKind.JOB, "j1", now=149.0)
        assert holder is not None and holder.owner == "a"
        assert store.holder(ClaimKind.JOB, "j1", now=150.0) is None
        assert [c.key for c in store.expired(ClaimKind.JOB, now=150.0)] == ["j1"]
        assert store.expired(ClaimKind.ENDPOINT, now=139.0) == []
        taken = store.claim(ClaimKind.JOB, "j1", "b", now=151.0, ttl=30.0)
        assert taken is not None and taken.owner == "b"

    def test_renew_release_and_forget(self, store: ClusterStore) -> None:
        for key in ("j1", "j2"):
            assert store.claim(ClaimKind.JOB, key, "a", now=0.0, ttl=10.0)
        assert store.claim(ClaimKind.GC, "gc", "b", now=0.0, ttl=10.0)
        assert store.renew("a", now=5.0, ttl=10.0) == 2
        assert [c.key for c in store.claims(ClaimKind.JOB, now=12.0)] == ["j1", "j2"]
        store.release(ClaimKind.JOB, "j1", "b")  # not b's: nothing happens
        store.release(ClaimKind.JOB, "j1", "a")
        assert [c.key for c in store.claims(ClaimKind.JOB, now=12.0)] == ["j2"]
        store.heartbeat(ServerRecord("a", "http://a", 0.0, 5.0))
        store.forget_server("a")
        assert store.claims(ClaimKind.JOB, now=12.0) == []
        assert store.servers(seen_since=0.0) == []
        assert store.holder(ClaimKind.GC, "gc", now=1.0) is not None

    def test_racing_claims_have_one_winner(self, store: ClusterStore) -> None:
        won: list[str] = []

        def race(i: int) -> None:
            if store.claim(ClaimKind.ENDPOINT, "petset", f"s{i}", now=1.0, ttl=30.0):
                won.append(f"s{i}")

        assert run_threads(8, race) == []
        assert len(won) == 1
        holder = store.holder(ClaimKind.ENDPOINT, "petset", now=2.0)
        assert holder is not None and [holder.owner] == won
