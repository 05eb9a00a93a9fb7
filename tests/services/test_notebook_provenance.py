"""A notebook's provenance (kaon.services.provenance, issue 19): its bundles and environment
used when it starts, each data commit its S3 key reads used as a job's read is, each commit
its saves make produced by it; so a model trained from a saved commit reaches, through that
code commit, the notebook and what it read."""

from __future__ import annotations

from typing import Any

from kaon.core.jobs import Bundle
from kaon.core.notebooks import Notebook, NotebookState
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, model_node_id, node_id
from kaon.services.provenance import notebook_node_id
from kaon.wiring import Backends, Platform


def test_a_model_trained_from_a_saved_notebook_shows_what_the_notebook_read(
    platform: Platform, backends: Backends, seed: Any
) -> None:
    platform.repos.create_repo("raw")
    platform.repos.create_repo("ws-source")
    read = seed.commit("raw", {"/rows.csv": b"a\n1\n"})
    saved = seed.commit("ws-source", {"/train.ipynb": b"{}"}, branch="nb")
    source = Bundle("source", "nb", "ws-source", "nb", "a" * 32, "b" * 64)
    notebook = Notebook(
        name="nb",
        workspace="ws",
        state=NotebookState.RUNNING,
        created=1.0,
        author="ann",
        source=source,
        data=None,
        build="b1",
        token_digest="0" * 64,
        env={"lock_id": "e" * 32, "lock": "x==1\n", "python": "3.12"},
    )
    prov = platform.provenance
    prov.notebook_started(notebook)
    prov.notebook_read(notebook, read, "/rows.csv")
    prov.notebook_saved(notebook, saved)

    root = notebook_node_id(notebook)
    graph = prov.of_notebook(notebook)
    data, code = node_id(NodeKind.DATA, read.id), node_id(NodeKind.CODE, saved.id)
    assert Edge(data, root, EdgeKind.USED) in graph.edges
    assert graph.node(data).attrs["via"] == "s3" and graph.node(data).attrs["path"] == "/rows.csv"
    assert Edge(node_id(NodeKind.CODE, "a" * 32), root, EdgeKind.USED) in graph.edges
    assert any(e.dst == root and e.src.startswith("environment:") for e in graph.edges)
    assert Edge(root, code, EdgeKind.PRODUCED) in graph.edges

    job, model = node_id(NodeKind.JOB, "j/0"), model_node_id("ws", "m")
    backends.provenance.record(
        [
            Node(job, NodeKind.JOB, "j", {"job": "f" * 32}),
            Node(model, NodeKind.MODEL, "m"),
            Node(code, NodeKind.CODE, "/nb:x"),
        ],
        [Edge(code, job, EdgeKind.USED), Edge(job, model, EdgeKind.PRODUCED)],
    )
    ancestry = prov.of_model("ws", "m")
    assert {root, data, code} <= {n.id for n in ancestry.nodes}
    assert root in {n.id for n in platform.provenance.subvenance(read.id[:12]).nodes}
