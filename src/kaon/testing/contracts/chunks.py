"""Contracts of the MetadataStore parts on chunks, packs and upload leases
(kaon.ports.metadata: ChunkIndex, LeaseStore)."""

from __future__ import annotations

from kaon.core.ids import PackId
from kaon.ports.metadata import MetadataStore, PackInfo
from kaon.testing.contracts.metadata import MetadataContractBase
from kaon.testing.samples import dg, loc, run_threads


class ChunkIndexContract(MetadataContractBase):
    def test_missing_and_locate_in_batches(self, store: MetadataStore) -> None:
        n = 2_500
        store.add_pack(PackInfo(PackId("p1"), 1000, 5.0), [loc(i, "p1") for i in range(0, n, 2)])
        digests = [dg(i) for i in range(n)] + [dg(0), dg(1)]  # duplicates are fine
        assert store.missing_chunks(digests) == {dg(i) for i in range(1, n, 2)}
        found = store.locate(digests)
        assert set(found) == {dg(i) for i in range(0, n, 2)}
        assert found[dg(42)] == loc(42, "p1")
        assert store.missing_chunks([]) == set()
        assert store.locate([]) == {}

    def test_add_pack_keeps_existing_locations(self, store: MetadataStore) -> None:
        store.add_pack(PackInfo(PackId("a"), 100, 1.0), [loc(1, "a"), loc(2, "a")])
        store.add_pack(PackInfo(PackId("b"), 200, 2.0), [loc(2, "b", 0), loc(3, "b", 5)])
        assert store.locate([dg(2)])[dg(2)].pack == "a"
        assert store.pack_chunks(PackId("b")) == [loc(3, "b", 5)]
        assert store.pack_chunks(PackId("a")) == [loc(1, "a"), loc(2, "a")]
        assert store.list_packs() == [
            PackInfo(PackId("a"), 100, 1.0),
            PackInfo(PackId("b"), 200, 2.0),
        ]
        store.add_pack(PackInfo(PackId("a"), 100, 1.0), [loc(1, "a")])  # re-indexing: harmless
        assert len(store.list_packs()) == 2

    def test_packs_are_listed_oldest_first(self, store: MetadataStore) -> None:
        for name, created in (("c", 2.0), ("b", 1.0), ("a", 2.0)):
            store.add_pack(PackInfo(PackId(name), 1, created), [])
        assert [p.id for p in store.list_packs()] == ["b", "a", "c"]  # then by id
        assert store.pack_chunks(PackId("nope")) == []

    def test_add_pack_bulk(self, store: MetadataStore) -> None:
        n = 20_000
        rows = [loc(i, "big") for i in range(n)]
        store.add_pack(PackInfo(PackId("big"), n * 7, 1.0), rows)
        assert len(store.pack_chunks(PackId("big"))) == n
        assert store.missing_chunks([dg(i) for i in range(n + 10)]) == {
            dg(n + i) for i in range(10)
        }

    def test_move_drop_and_iterate_chunks(self, store: MetadataStore) -> None:
        store.add_pack(PackInfo(PackId("old"), 100, 1.0), [loc(i, "old") for i in range(10)])
        store.add_pack(PackInfo(PackId("new"), 50, 2.0), [])
        moved = [loc(i, "new", i) for i in range(5)] + [loc(99, "new", 0)]  # 99 is unknown
        store.move_chunks(moved)
        store.move_chunks([])
        assert store.pack_chunks(PackId("new")) == moved[:5]
        assert store.locate([dg(99)]) == {}
        store.drop_chunks([dg(0), dg(9), dg(123)])
        assert store.missing_chunks([dg(0), dg(1), dg(9)]) == {dg(0), dg(9)}
        assert list(store.iter_chunk_digests()) == [dg(i) for i in range(1, 9)]
        store.drop_pack(PackId("old"))
        assert [p.id for p in store.list_packs()] == ["new"]
        assert list(store.iter_chunk_digests()) == [dg(i) for i in range(1, 5)]
        store.drop_pack(PackId("new"))
        assert list(store.iter_chunk_digests()) == []


class LeaseStoreContract(MetadataContractBase):
    def test_leases_pin_digests_until_they_expire(self, store: MetadataStore) -> None:
        store.hold("a", [dg(1), dg(2), dg(2)], expires=100.0)
        store.hold("b", [dg(2), dg(3)], expires=50.0)
        assert store.leased_digests(now=10.0) == {dg(1), dg(2), dg(3)}
        assert store.leased_digests(now=60.0) == {dg(1), dg(2)}  # b expired (still stored)
        store.hold("b", [], expires=200.0)  # renewed: its pins count again
        assert store.leased_digests(now=60.0) == {dg(1), dg(2), dg(3)}
        store.hold("b", [dg(4)], expires=150.0)  # an earlier expiry never shortens a lease
        assert store.leased_digests(now=160.0) == {dg(2), dg(3), dg(4)}
        assert store.expire_leases(now=120.0) == 1  # a, with its pins
        assert store.leased_digests(now=0.0) == {dg(2), dg(3), dg(4)}
        store.hold("a", [dg(1)], expires=300.0)  # a lease id may come back: a new lease
        assert store.leased_digests(now=250.0) == {dg(1)}

    def test_releasing_a_lease(self, store: MetadataStore) -> None:
        store.hold("a", [dg(i) for i in range(1200)], expires=100.0)  # more than one IN batch
        store.release("a", [dg(i) for i in range(0, 1200, 2)] + [dg(5000)])
        assert store.leased_digests(now=0.0) == {dg(i) for i in range(1, 1200, 2)}
        store.release("a")
        assert store.leased_digests(now=0.0) == set()
        assert store.expire_leases(now=1e12) == 0  # gone with its pins
        store.release("unknown")  # nothing to do, no error
        store.release("unknown", [dg(1)])

    def test_releasing_a_big_lease_keeps_the_others(self, store: MetadataStore) -> None:
        store.hold("big", [dg(i) for i in range(2600)], expires=100.0)  # released in parts
        store.hold("other", [dg(3), dg(9000)], expires=100.0)
        store.release("big")
        assert store.leased_digests(now=0.0) == {dg(3), dg(9000)}
        assert store.expire_leases(now=1e12) == 1  # "other" only: "big" is gone

    def test_a_lease_expires_at_its_expiry(self, store: MetadataStore) -> None:
        store.hold("a", [dg(1)], expires=100.0)
        assert store.leased_digests(now=99.0) == {dg(1)}
        assert store.leased_digests(now=100.0) == set()  # expiry <= now: expired
        assert store.expire_leases(now=99.0) == 0
        assert store.expire_leases(now=100.0) == 1

    def test_concurrent_holders_of_one_lease(self, store: MetadataStore) -> None:
        def work(i: int) -> None:
            for j in range(20):
                store.hold("shared", [dg(i * 100 + j), dg(9999)], expires=100.0 + j)

        assert run_threads(4, work) == []
        pinned = {dg(i * 100 + j) for i in range(4) for j in range(20)}
        assert store.leased_digests(now=110.0) == pinned | {dg(9999)}
