"""What a job wrote through S3 shows in its model's provenance tree (as leaves)."""

from __future__ import annotations

from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind


def test_job_outputs_are_shown_as_leaves() -> None:
    data_in = Node("data:in", NodeKind.DATA, "inputrepo@master:/data/mnist.npz", {"commit": "in"})
    data_out = Node("data:out", NodeKind.DATA, "outputrepo@master:/my_model.h5", {"commit": "out"})
    job = Node("job:j/0", NodeKind.JOB, "j")
    model = Node("model:m", NodeKind.MODEL, "m")
    graph = Graph(
        [data_in, data_out, job, model],
        [
            Edge("data:in", "job:j/0", EdgeKind.USED),
            Edge("job:j/0", "data:out", EdgeKind.PRODUCED),
            Edge("job:j/0", "model:m", EdgeKind.PRODUCED),
        ],
    )
    assert graph.text_tree("model:m").splitlines() == [
        "model m",
        "└── produced by job j",
        "    ├── wrote data outputrepo@master:/my_model.h5  (commit out)",
        "    └── used data inputrepo@master:/data/mnist.npz  (commit in)",
    ]
