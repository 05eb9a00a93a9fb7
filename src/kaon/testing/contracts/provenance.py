"""Contract of the ProvenanceStore port (kaon.ports.provenance)."""

from __future__ import annotations

import itertools

import pytest

from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, node_id
from kaon.ports.database import MetadataDatabase
from kaon.ports.provenance import ProvenanceStore


def _node(kind: NodeKind, key: str, label: str = "", **attrs: str) -> Node:
    return Node(node_id(kind, key), kind, label or key, attrs)


class ProvenanceStoreContract:
    @pytest.fixture
    def store(self, database: MetadataDatabase) -> ProvenanceStore:
        return database.provenance

    def test_provenance_walks(self, store: ProvenanceStore) -> None:
        data = Node(node_id(NodeKind.DATA, "d1"), NodeKind.DATA, "/features:ab")
        code = Node(node_id(NodeKind.CODE, "c1"), NodeKind.CODE, "/mnist:cd")
        run = Node(node_id(NodeKind.JOB, "j1/0"), NodeKind.JOB, "j1")
        model = Node(node_id(NodeKind.MODEL, "m"), NodeKind.MODEL, "m", {"author": "me"})
        other = Node(node_id(NodeKind.DATA, "d2"), NodeKind.DATA, "/other:ef")
        edges = [
            Edge(data.id, run.id, EdgeKind.USED),
            Edge(code.id, run.id, EdgeKind.USED),
            Edge(run.id, model.id, EdgeKind.PRODUCED),
        ]
        store.record([data, code, run, model, other], edges)
        store.record([data], edges)  # idempotent
        up = store.ancestry(model.id)
        assert {n.id for n in up.nodes} == {data.id, code.id, run.id, model.id}
        assert len(up.edges) == 3 and up.node(model.id).attrs == {"author": "me"}
        down = store.subvenance(data.id)
        assert {n.id for n in down.nodes} == {data.id, run.id, model.id}
        assert len(store.ancestry("data:nope")) == 0
        assert store.find("data", "d") == [data.id, other.id]

    def test_a_node_keeps_its_first_record(self, store: ProvenanceStore) -> None:
        store.record([_node(NodeKind.DATA, "d1", "first", a="1")], [])
        store.record([_node(NodeKind.DATA, "d1", "second", b="2")], [])
        graph = store.ancestry("data:d1")
        assert graph.node("data:d1").label == "first"
        assert graph.node("data:d1").attrs == {"a": "1"}
        assert len(store.subvenance("data:nope")) == 0

    def test_ancestry_stops_runs_of_derived_from(self, store: ProvenanceStore) -> None:
        data = [_node(NodeKind.DATA, f"d{i}") for i in range(6)]
        run, model = _node(NodeKind.JOB, "j/0"), _node(NodeKind.MODEL, "m")
        edges = [Edge(a.id, b.id, EdgeKind.DERIVED_FROM) for a, b in itertools.pairwise(data)]
        edges += [Edge(data[5].id, run.id, EdgeKind.USED)]
        edges += [Edge(run.id, model.id, EdgeKind.PRODUCED)]
        store.record([*data, run, model], edges)
        up = store.ancestry(model.id, max_lineage=2)
        assert {n.id for n in up.nodes} == {model.id, run.id, "data:d5", "data:d4", "data:d3"}
        assert len(up.edges) == 4  # none to the node left out
        assert len(store.ancestry(model.id)) == 8  # within the default lineage: all of it
        assert len(store.ancestry("data:d5", max_lineage=0)) == 1

    def test_subvenance_skips_what_an_endpoint_was_told(self, store: ProvenanceStore) -> None:
        model = _node(NodeKind.MODEL, "m")
        served = _node(NodeKind.ENDPOINT, "e")
        told, about = _node(NodeKind.FEEDBACK, "f1"), _node(NodeKind.FEEDBACK, "f2")
        edges = [
            Edge(model.id, served.id, EdgeKind.SERVED_BY),
            Edge(served.id, told.id, EdgeKind.ABOUT),
            Edge(model.id, about.id, EdgeKind.ABOUT),
        ]
        store.record([model, served, told, about], edges)
        down = store.subvenance(model.id)
        assert {n.id for n in down.nodes} == {model.id, served.id, about.id}
        assert len(down.edges) == 2
        assert {n.id for n in store.subvenance(served.id).nodes} == {served.id}
        assert {n.id for n in store.ancestry(told.id).nodes} == {told.id, served.id, model.id}

    def test_outputs(self, store: ProvenanceStore) -> None:
        j1, j2 = _node(NodeKind.JOB, "j1/0"), _node(NodeKind.JOB, "j2/0")
        model, written = _node(NodeKind.MODEL, "m"), _node(NodeKind.DATA, "out")
        used = _node(NodeKind.DATA, "in")
        edges = [
            Edge(j1.id, model.id, EdgeKind.PRODUCED),
            Edge(j2.id, written.id, EdgeKind.PRODUCED),
            Edge(used.id, j1.id, EdgeKind.USED),
        ]
        store.record([j1, j2, model, written, used], edges)
        out = store.outputs([j1.id, j2.id, j1.id, "job:nope"], EdgeKind.PRODUCED)
        assert {n.id for n in out.nodes} == {j1.id, j2.id, model.id, written.id}
        assert sorted(out.edges) == sorted(edges[:2])
        assert {n.id for n in store.outputs([j2.id], EdgeKind.USED).nodes} == {j2.id}
        assert len(store.outputs([], EdgeKind.PRODUCED)) == 0

    def test_ancestry_with_what_its_jobs_wrote(self, store: ProvenanceStore) -> None:
        used, written, other = (_node(NodeKind.DATA, k) for k in ("in", "out", "other"))
        run, model, side = (
            _node(NodeKind.JOB, "j/0"),
            _node(NodeKind.MODEL, "m"),
            _node(NodeKind.MODEL, "s"),
        )
        edges = [
            Edge(used.id, run.id, EdgeKind.USED),
            Edge(run.id, model.id, EdgeKind.PRODUCED),
            Edge(run.id, written.id, EdgeKind.PRODUCED),  # through S3
            Edge(run.id, side.id, EdgeKind.PRODUCED),  # a model: not what it wrote elsewhere
            Edge(used.id, other.id, EdgeKind.DERIVED_FROM),
            Edge(run.id, used.id, EdgeKind.PRODUCED),  # wrote what it read: in the graph already
        ]
        store.record([used, written, other, run, model, side], edges)
        plain = store.ancestry(model.id)
        assert {n.id for n in plain.nodes} == {used.id, run.id, model.id}
        up = store.ancestry(model.id, wrote=True)
        assert {n.id for n in up.nodes} == {used.id, run.id, model.id, written.id}
        assert sorted(up.edges) == sorted([*edges[:3], edges[5]])
        assert up.node(written.id).kind is NodeKind.DATA
        assert len(store.ancestry("model:nope", wrote=True)) == 0

    def test_find_by_kind_and_prefix(self, store: ProvenanceStore) -> None:
        nodes = [_node(NodeKind.DATA, k) for k in ("ab1", "ab2", "ac", "b")]
        store.record([*nodes, _node(NodeKind.CODE, "ab3")], [])
        assert store.find("data", "ab", limit=5) == ["data:ab1", "data:ab2"]
        assert store.find("data", "a") == ["data:ab1", "data:ab2"]  # at most 2 by default
        assert store.find("data", "", limit=10) == [n.id for n in nodes]
        assert store.find("code", "ab") == ["code:ab3"]
        assert store.find("data", "%") == [] and store.find("model", "") == []
