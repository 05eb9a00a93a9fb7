"""The UI's drawings (kaon.ui.graphviz, kaon.ui.pages.provenance / pipelines): nodes linked to
their pages, big graphs cut near their root, user text never active in the SVG, a clear
refusal without Graphviz."""

from __future__ import annotations

import shutil

import pytest

from kaon.core.errors import BackendUnavailable
from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind
from kaon.core.provenancedraw import to_dot
from kaon.ui import graphviz
from kaon.ui.pages.provenance import bounded, node_url

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


def chain() -> Graph:
    nodes = [
        Node(
            "data:c0ffee",
            NodeKind.DATA,
            "<script>alert(1)</script>",
            {"repo": "raw", "commit": "c0ffee"},
        ),
        Node("code:beef", NodeKind.CODE, "/demo:beef", {"repo": "src", "commit": "beef"}),
        Node("job:j1/0", NodeKind.JOB, "j1", {"job": "j1"}),
        Node("job:edges@g1", NodeKind.JOB, "edges@g1"),
        Node("model:ws/m_1:2", NodeKind.MODEL, "m_1:2"),
        Node("endpoint:pets-v1", NodeKind.ENDPOINT, "pets-v1"),
        Node("feedback:r1", NodeKind.FEEDBACK, "r1"),
        Node("params:p", NodeKind.PARAMS, "lr=0.1"),
    ]
    edges = [
        Edge("data:c0ffee", "job:j1/0", EdgeKind.USED),
        Edge("code:beef", "job:j1/0", EdgeKind.USED),
        Edge("params:p", "job:j1/0", EdgeKind.USED),
        Edge("job:j1/0", "model:ws/m_1:2", EdgeKind.PRODUCED),
        Edge("model:ws/m_1:2", "endpoint:pets-v1", EdgeKind.SERVED_BY),
        Edge("endpoint:pets-v1", "feedback:r1", EdgeKind.ABOUT),
        Edge("job:edges@g1", "endpoint:pets-v1", EdgeKind.DEPLOYED),
    ]
    return Graph(nodes, edges)


def test_every_node_opens_its_page() -> None:
    g = chain()
    urls = {n.id: node_url(g, n) for n in g.nodes}
    assert urls == {
        "data:c0ffee": "/ui/repos/raw/tree/c0ffee/",
        "code:beef": "/ui/repos/src/tree/beef/",
        "job:j1/0": "/ui/jobs/j1",
        "job:edges@g1": "/ui/pipelines/edges?job=g1",
        "model:ws/m_1:2": "/ui/w/ws/models/m_1:2",
        "endpoint:pets-v1": "/ui/endpoints/pets-v1",
        "feedback:r1": "/ui/endpoints/pets-v1#feedback",
        "params:p": "",
    }


def test_a_big_graph_is_cut_to_the_nodes_nearest_its_root() -> None:
    nodes = [Node("model:ws/m", NodeKind.MODEL, "m")]
    edges = []
    for i in range(300):  # 300 jobs, each with its own data: 601 nodes
        nodes += [
            Node(f"job:j{i}/0", NodeKind.JOB, f"j{i}"),
            Node(f"data:d{i}", NodeKind.DATA, f"d{i}"),
        ]
        edges += [
            Edge(f"job:j{i}/0", "model:ws/m", EdgeKind.PRODUCED),
            Edge(f"data:d{i}", f"job:j{i}/0", EdgeKind.USED),
        ]
    cut, total = bounded(Graph(nodes, edges), "model:ws/m", 250)
    assert (len(cut), total) == (250, 601)
    kinds = [n.kind for n in cut.nodes]
    assert kinds.count(NodeKind.JOB) == 249  # breadth first: the jobs, next to the model
    assert all(e.src in cut and e.dst in cut for e in cut.edges)
    small = chain()
    assert bounded(small, "model:ws/m_1:2", 250) == (small, len(small))


@needs_dot
def test_the_svg_links_nodes_and_keeps_user_text_inert() -> None:
    g = chain()
    urls = {n.id: u for n in g.nodes if (u := node_url(g, n))}
    svg = graphviz.svg(graphviz.with_urls(to_dot(g, "t"), urls, {"params:p": 'lr "0.1"'}))
    assert svg.startswith("<svg") and 'width="' not in svg.split(">", 1)[0]
    assert 'xlink:href="/ui/repos/raw/tree/c0ffee/"' in svg
    assert 'xlink:href="/ui/pipelines/edges?job=g1"' in svg
    assert "<script" not in svg and "&lt;script&gt;" in svg


@needs_dot
def test_active_content_is_refused() -> None:
    evil = 'digraph { a [URL="javascript:alert(1)"]; }'
    with pytest.raises(Exception, match="active content"):
        graphviz.svg(evil)


def test_without_graphviz_a_clear_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert not graphviz.available()
    with pytest.raises(BackendUnavailable, match="Graphviz is not installed"):
        graphviz.svg("digraph { drawn_without_graphviz; }")


@needs_dot
def test_a_drawing_is_kept_by_its_source() -> None:
    source = "digraph { kept_once -> kept_twice; }"
    first = graphviz.svg(source)
    assert graphviz.svg(source) is first  # not drawn again
    assert graphviz.svg(source.replace("twice", "thrice")) is not first
