"""The provenance graph: building a chain, traversals, serialisation, text tree and DOT output."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.core.provenance import (
    EDGE_RULES,
    Edge,
    EdgeKind,
    Graph,
    Node,
    NodeKind,
    node_id,
    short_id,
)

K, E = NodeKind, EdgeKind
RAW = "data:aa11"
DATA = "data:9fd9d"
CODE = "code:e23a2"
PARAMS = "params:degree=3_kernel=poly"
ENV = "environment:15fed3d0aa77"
JOB = "job:1ed80bca99"
MODEL = "model:e23a2_9fd9d:b82151"
SERVE = "serve_code:77aa"
ENDPOINT = "endpoint:mnist-1"
FEEDBACK = "feedback:fb1"
OTHER_JOB = "job:other"


def chain() -> Graph:
    """data (derived from raw) + code + params + env (built from code) -> job -> model ->
    endpoint (+ serve code) -> feedback; plus a second job that also used the raw data."""
    g = Graph()
    for nid, kind, label, attrs in [
        (RAW, K.DATA, "/raw:aa11", {"author": "jfriedman", "created": "2026-11-28T10:00:00"}),
        (DATA, K.DATA, "/features:9fd9d", {"author": "jfriedman"}),
        (CODE, K.CODE, "/mnist:e23a2", {"author": "jfriedman", "commit": "3fa46b9c0e1d"}),
        (PARAMS, K.PARAMS, "degree=3_kernel=poly", {}),
        (ENV, K.ENVIRONMENT, "15fed3d0", {"python": "3.11.7", "packages": "12"}),
        (JOB, K.JOB, "1ed80bca…", {"state": "JOB_SUCCESS"}),
        (MODEL, K.MODEL, "e23a2_9fd9d:b82151", {"created": "2026-11-29T20:44:31+00:00"}),
        (SERVE, K.SERVE_CODE, "/mnist-serve:77aa", {}),
        (ENDPOINT, K.ENDPOINT, "mnist-1", {"state": "RUNNING"}),
        (FEEDBACK, K.FEEDBACK, "42 items", {}),
        (OTHER_JOB, K.JOB, "other", {}),
    ]:
        g.add_node(Node(nid, kind, label, attrs))
    for src, dst, edge_kind in [
        (RAW, DATA, E.DERIVED_FROM),
        (DATA, JOB, E.USED),
        (CODE, JOB, E.USED),
        (PARAMS, JOB, E.USED),
        (ENV, JOB, E.USED),
        (CODE, ENV, E.BUILT_FROM),
        (JOB, MODEL, E.PRODUCED),
        (MODEL, ENDPOINT, E.SERVED_BY),
        (SERVE, ENDPOINT, E.DEPLOYED_FROM),
        (ENDPOINT, FEEDBACK, E.ABOUT),
        (RAW, OTHER_JOB, E.USED),
    ]:
        assert g.add_edge(Edge(src, dst, edge_kind))
    return g


def ids(graph: Graph) -> set[str]:
    return {n.id for n in graph.nodes}


def test_enum_values_are_lowercase_strings() -> None:
    assert [k.value for k in NodeKind] == [
        "data", "code", "params", "environment", "notebook", "job", "model", "serve_code",
        "endpoint", "feedback",
    ]  # fmt: skip
    assert EdgeKind.BUILT_FROM.value == "built-from"
    assert EdgeKind.DERIVED_FROM.value == "derived-from"
    assert set(EDGE_RULES) == set(EdgeKind)
    assert node_id(K.MODEL, "e23a2_9fd9d:b82151") == MODEL
    assert short_id("1ed80bca99ff") == "1ed80bca…"
    assert short_id("abc") == "abc"


def test_ancestry_of_model_is_everything_upstream() -> None:
    up = chain().ancestry(MODEL)
    assert ids(up) == {RAW, DATA, CODE, PARAMS, ENV, JOB, MODEL}
    assert Edge(CODE, ENV, E.BUILT_FROM) in up.edges
    assert len(up.edges) == 7
    assert all(e.src in up and e.dst in up for e in up.edges)


def test_subvenance_of_raw_data_is_everything_downstream() -> None:
    down = chain().subvenance(RAW)
    assert ids(down) == {RAW, DATA, JOB, MODEL, ENDPOINT, FEEDBACK, OTHER_JOB}
    assert CODE not in down and SERVE not in down
    assert chain().subvenance(FEEDBACK).nodes == [chain().node(FEEDBACK)]


def test_traversals_of_unknown_nodes_fail() -> None:
    with pytest.raises(NotFound):
        chain().ancestry("model:nope")
    with pytest.raises(NotFound):
        chain().subvenance("model:nope")


def test_edges_are_deduplicated() -> None:
    g = chain()
    before = len(g.edges)
    assert not g.add_edge(Edge(DATA, JOB, E.USED))
    assert not g.add_edge(Edge(DATA, JOB, "used"))  # type: ignore[arg-type]
    assert len(g.edges) == before
    assert len(g.inputs(JOB)) == 4
    assert len(g.merge(chain()).edges) == before


def test_bad_edges_are_refused() -> None:
    g = chain()
    with pytest.raises(NotFound):
        g.add_edge(Edge(DATA, "job:missing", E.USED))
    with pytest.raises(InvalidInput, match="cannot go from model"):
        g.add_edge(Edge(MODEL, JOB, E.PRODUCED))  # drawn backwards
    with pytest.raises(InvalidInput):
        g.add_edge(Edge(DATA, DATA, E.DERIVED_FROM))
    with pytest.raises(InvalidInput):
        Edge(DATA, JOB, "consumed")  # type: ignore[arg-type]


def test_nodes_are_validated_and_refined() -> None:
    with pytest.raises(InvalidInput):
        Node("", K.DATA, "x")
    with pytest.raises(InvalidInput):
        Node("x:1", "dataset", "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Node("x:1", K.DATA, "x", {"size": 3})  # type: ignore[dict-item]
    g = chain()
    with pytest.raises(InvalidInput, match="already a job"):
        g.add_node(Node(JOB, K.MODEL, "x"))
    refined = g.add_node(Node(JOB, K.JOB, "", {"state": "JOB_FAILURE", "author": "ann"}))
    assert refined.label == "1ed80bca…"
    assert refined.attrs == {"state": "JOB_FAILURE", "author": "ann"}
    assert g.node(JOB) == refined
    assert len(g.inputs(JOB)) == 4  # edges survive the refinement


def test_dict_round_trip_through_json() -> None:
    g = chain()
    data = json.loads(json.dumps(g.to_dict()))
    assert set(data) == {"nodes", "edges"}
    assert data["nodes"][0] == {
        "id": CODE,
        "kind": "code",
        "label": "/mnist:e23a2",
        "attrs": {"author": "jfriedman", "commit": "3fa46b9c0e1d"},
    }
    assert {"src": RAW, "dst": DATA, "kind": "derived-from"} in data["edges"]
    back = Graph.from_dict(data)
    assert back == g
    assert back.to_dict() == g.to_dict()
    assert back.ancestry(MODEL) == g.ancestry(MODEL)


def test_to_dict_does_not_depend_on_insertion_order() -> None:
    g = chain()
    shuffled = Graph(reversed(g.nodes), reversed(g.edges))
    assert shuffled.to_dict() == g.to_dict()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"nodes": []},
        {"nodes": [{"kind": "data"}], "edges": []},
        {"nodes": [{"id": "a", "kind": "nope"}], "edges": []},
        {"nodes": [{"id": "a", "kind": "data", "attrs": ["x"]}], "edges": []},
        {"nodes": [], "edges": [{"src": "a", "dst": "b"}]},
        {"nodes": "abc", "edges": []},
    ],
)
def test_from_dict_refuses_malformed_input(data: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        Graph.from_dict(data)


def test_merge_combines_graphs() -> None:
    g = chain()
    left, right = g.ancestry(MODEL), g.subvenance(MODEL)
    merged = left.merge(right)
    assert merged is left
    assert ids(merged) == ids(g) - {SERVE, OTHER_JOB}
    assert Edge(MODEL, ENDPOINT, E.SERVED_BY) in merged.edges


def test_text_tree_of_a_model() -> None:
    tree = chain().text_tree(MODEL)
    assert tree == "\n".join(
        [
            "model e23a2_9fd9d:b82151  (created 2026-11-29 20:44)",
            "└── produced by job 1ed80bca…  JOB_SUCCESS",
            "    ├── used data /features:9fd9d  (author jfriedman)",
            "    │   └── derived from data /raw:aa11  (author jfriedman, created 2026-11-28 10:00)",
            "    ├── used code /mnist:e23a2  (author jfriedman, commit 3fa46b…)",
            "    ├── used params degree=3_kernel=poly",
            "    └── used environment 15fed3d0  (python 3.11.7, packages 12)",
            "        └── built from code /mnist:e23a2  (see above)",
        ]
    )


def test_text_tree_of_feedback_reaches_the_data() -> None:
    lines = chain().text_tree(FEEDBACK).splitlines()
    assert lines[0] == "feedback 42 items"
    assert lines[1] == "└── about endpoint mnist-1  RUNNING"
    assert lines[2].startswith("    ├── serves model e23a2_9fd9d:b82151")
    assert lines[-1] == "    └── deployed from serve code /mnist-serve:77aa"
    assert any("derived from data /raw:aa11" in line for line in lines)


def test_text_tree_keeps_labels_on_one_line_and_limits_depth() -> None:
    g = Graph([Node("data:0", K.DATA, "first\nsecond")])
    for i in range(1, 40):
        g.add_node(Node(f"data:{i}", K.DATA, f"d{i}"))
        g.add_edge(Edge(f"data:{i - 1}", f"data:{i}", E.DERIVED_FROM))
    assert g.text_tree("data:1").splitlines()[1].endswith("derived from data first second")
    short = g.text_tree("data:39", max_depth=3).splitlines()
    assert len(short) == 5
    assert short[-1] == "            └── … 1 more upstream"
    assert len(g.text_tree("data:39", max_depth=None).splitlines()) == 40


def test_text_tree_survives_cycles() -> None:
    g = Graph([Node("data:a", K.DATA, "a"), Node("data:b", K.DATA, "b")])
    g.add_edge(Edge("data:a", "data:b", E.DERIVED_FROM))
    g.add_edge(Edge("data:b", "data:a", E.DERIVED_FROM))
    assert g.text_tree("data:a").splitlines() == [
        "data a",
        "└── derived from data b",
        "    └── derived from data a  (see above)",
    ]
    assert ids(g.ancestry("data:a")) == {"data:a", "data:b"}


def tricky() -> Graph:
    g = chain()
    g.add_node(Node("code:q", K.CODE, 'say "hi" \\ bye\nnext', {"author": 'o"brien'}))
    g.add_edge(Edge("code:q", ENV, E.BUILT_FROM))
    return g


def test_to_dot_has_clusters_styles_and_escaped_labels() -> None:
    dot = tricky().to_dot('Provenance of "mnist" \\ v1')
    assert dot.startswith('digraph "Provenance of \\"mnist\\" \\\\ v1" {')
    assert "rankdir=LR" in dot
    for cluster in ("data", "code", "environment", "training", "serving"):
        assert f"subgraph cluster_{cluster} {{" in dot
    assert "shape=cylinder" in dot and "shape=doubleoctagon" in dot and "shape=note" in dot
    assert f'"{MODEL}" -> "{ENDPOINT}" [label="served-by"];' in dot
    assert '[label="code\\nsay \\"hi\\" \\\\ bye\\nnext\\no\\"brien",' in dot
    assert all(line.endswith((";", "{", "}")) for line in dot.splitlines())  # no raw newlines
    assert dot.index("cluster_data") < dot.index("cluster_serving")
    assert tricky().to_dot("t") == tricky().to_dot("t")  # deterministic


def test_to_dot_turns_control_characters_into_spaces() -> None:
    g = Graph([Node("data:c", K.DATA, "tab\there\x01\x1fend\r\nnext \u00e9t\u00e9 \u00a0x")])
    dot = g.to_dot("t\x07itle")
    assert 'digraph "t itle" {' in dot
    assert '[label="data\\ntab here  end\\nnext \u00e9t\u00e9 \u00a0x",' in dot
    assert not any(ord(c) < 32 for c in dot.replace("\n", ""))


def test_to_dot_leaves_out_empty_clusters() -> None:
    dot = chain().ancestry(JOB).to_dot("job")
    assert "cluster_serving" not in dot
    assert "cluster_training" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not on PATH")
def test_to_dot_renders_with_graphviz() -> None:
    result = subprocess.run(
        ["dot", "-Tsvg"],
        input=tricky().to_dot('a "quoted" \\ title').encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"<svg" in result.stdout
    assert result.stderr == b""
    assert b"say &quot;hi&quot; \\ bye" in result.stdout


def big_graph(lineages: int) -> Graph:
    """`lineages` data/code/params/env/job/model chains, each also using the previous one's
    data, code, params and model: 6 nodes and 12 edges a lineage."""
    g = Graph()
    kinds = (K.DATA, K.CODE, K.PARAMS, K.ENVIRONMENT, K.JOB, K.MODEL)
    same = [("data", "job"), ("code", "job"), ("params", "job"), ("environment", "job")]
    same += [("code", "environment"), ("job", "model")]
    previous = [("data", "data"), ("data", "job"), ("code", "job"), ("params", "job")]
    previous += [("model", "job"), ("code", "environment")]
    for i in range(lineages):
        for kind in kinds:
            g.add_node(Node(f"{kind}:{i}", kind, f"{kind}-{i}"))
        for a, b in same:
            g.add_edge(Edge(f"{a}:{i}", f"{b}:{i}", _edge_kind(a, b)))
        for a, b in previous if i else []:
            g.add_edge(Edge(f"{a}:{i - 1}", f"{b}:{i}", _edge_kind(a, b)))
    return g


def _edge_kind(a: str, b: str) -> EdgeKind:
    if a == b:
        return E.DERIVED_FROM
    if b == "environment":
        return E.BUILT_FROM
    return E.PRODUCED if a == "job" else E.USED


def test_traversals_of_a_30k_node_graph() -> None:
    # correctness at scale; the speed is benchmarks/provenance.py's to check, not a unit test's
    g = big_graph(5000)
    assert len(g) == 30_000
    assert len(g.edges) == 5000 * 12 - 6
    small = g.ancestry("model:0")  # one lineage
    for _ in range(100):
        g.ancestry("model:0")
    whole = g.ancestry("model:4999")  # everything, through 5000 levels
    tail = g.subvenance("data:4990")
    tree = g.text_tree("model:4999")
    assert ids(small) == {
        f"{k}:0" for k in ("data", "code", "params", "environment", "job", "model")
    }
    assert len(whole) == 30_000 and len(whole.edges) == len(g.edges)
    assert {"data:4999", "job:4999", "model:4999"} <= ids(tail) and "code:4999" not in tail
    assert any(line.endswith("more upstream") for line in tree.splitlines())
