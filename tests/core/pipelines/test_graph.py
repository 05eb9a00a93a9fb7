"""The pipeline DAG: reads, cycles, topological order, downstream."""

from __future__ import annotations

from typing import Any

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.graph import (
    Graph,
    check_acyclic,
    downstream,
    input_repos,
    node,
    topological,
)
from kaon.core.pipelines.parse import parse_spec
from kaon.core.pipelines.spec import PipelineSpec


def pipe(
    name: str, *reads: str, output_branch: str = "master", spout: bool = False
) -> PipelineSpec:
    doc: dict[str, Any] = {"pipeline": {"name": name}, "transform": {"cmd": ["x"]}}
    if output_branch != "master":
        doc["output_branch"] = output_branch
    if spout:
        doc["spout"] = {}
    elif len(reads) == 1:
        doc["input"] = {"pfs": _pfs(reads[0])}
    else:
        doc["input"] = {"cross": [{"pfs": _pfs(r)} for r in reads]}
    return parse_spec(doc, "t")[0]


def _pfs(read: str) -> dict[str, Any]:
    repo, _, branch = read.partition("@")
    return {"repo": repo, "glob": "/", "branch": branch or "master"}


# the e2e project's DAG
E2E = [
    pipe("stream", spout=True),
    pipe("warehouse", "stream"),
    pipe("transform", "warehouse"),
    pipe("train", "transform"),
    pipe("tune", "transform"),
    pipe("model", "transform", "tune"),
    pipe("calibrate", "transform", "model"),
    pipe("evaluate", "transform", "calibrate"),
    pipe("release", "evaluate"),
    pipe("tensorboard", "model"),
]


def test_reads_and_input_repos() -> None:
    model = pipe("model", "transform", "tune@dev")
    assert node(model).reads == frozenset({("transform", "master"), ("tune", "dev")})
    assert node(model).output == ("model", "master")
    assert input_repos(model) == ("transform", "tune")
    assert input_repos(pipe("stream", spout=True)) == ()
    cron = parse_spec(
        {
            "pipeline": {"name": "c"},
            "transform": {"cmd": ["x"]},
            "input": {"cron": {"name": "tick", "spec": "@daily"}},
        },
        "t",
    )[0]
    assert node(cron).reads == frozenset({("c_tick", "master")})


def test_topological_order_is_upstream_first_and_deterministic() -> None:
    order = topological(reversed(E2E))
    assert order == [
        "stream", "warehouse", "transform", "train", "tune", "model", "calibrate", "evaluate", "release", "tensorboard",
    ]  # fmt: skip
    for spec in E2E:
        for up in Graph(E2E).upstream(spec.name):
            assert order.index(up) < order.index(spec.name)


def test_downstream_of_a_commit() -> None:
    assert downstream(E2E, "transform", "master") == [
        "train", "tune", "model", "calibrate", "evaluate", "release", "tensorboard",
    ]  # fmt: skip
    assert downstream(E2E, "model", "master") == ["calibrate", "evaluate", "release", "tensorboard"]
    assert downstream(E2E, "release", "master") == []
    assert downstream(E2E, "transform", "dev") == []  # nothing reads that branch
    assert downstream(E2E, "raw", "master") == []


def test_downstream_follows_output_branches() -> None:
    pipes = [pipe("a", "raw", output_branch="out"), pipe("b", "a@out"), pipe("c", "a")]
    assert downstream(pipes, "raw", "master") == ["a", "b"]


def test_cycles_are_named() -> None:
    with pytest.raises(InvalidInput, match=r"pipelines a and b form a cycle: a reads b, b reads a"):
        check_acyclic([pipe("a", "b"), pipe("b", "a")])
    with pytest.raises(
        InvalidInput, match=r"pipelines a, c and b form a cycle: a reads c, c reads b, b reads a"
    ):
        check_acyclic([pipe("a", "c"), pipe("b", "a"), pipe("c", "b", "raw")])
    with pytest.raises(InvalidInput, match=r"pipeline a reads its own output repo a"):
        check_acyclic([pipe("a", "a")])
    with pytest.raises(InvalidInput, match="form a cycle"):
        topological([*E2E, pipe("warehouse", "stream", "release")])
    check_acyclic([pipe("a", "a@other")])  # another branch of its repo: no cycle
    check_acyclic(E2E)
