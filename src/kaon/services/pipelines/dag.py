"""The pipelines as a graph: what each one reads (its leaves), which read which, in what order
they run, and no cycle (a pipeline never reads its own output, even through others)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.records import Pipeline
from kaon.core.pipelines.spec import CombinedInput, CronInput, Input, PfsInput, PipelineSpec


@dataclass(frozen=True)
class Leaf:
    """One input a pipeline reads: /pfs/<name> is a commit of `repo`@`branch`."""

    name: str
    repo: str
    branch: str
    cron: bool = False


def leaves(spec: PipelineSpec) -> list[Leaf]:
    """Every pfs and cron input of the spec, in spec order."""
    out: list[Leaf] = []

    def walk(node: Input | None) -> None:
        if isinstance(node, PfsInput):
            out.append(Leaf(node.name, node.repo, node.branch))
        elif isinstance(node, CronInput):
            out.append(Leaf(node.name, node.repo, "master", cron=True))
        elif isinstance(node, CombinedInput):
            for sub in node.inputs:
                walk(sub)

    walk(spec.input)
    return out


@dataclass(frozen=True)
class Node:
    """A pipeline as the scheduler sees it: its record, spec and inputs."""

    pipeline: Pipeline
    spec: PipelineSpec
    leaves: tuple[Leaf, ...]

    @property
    def name(self) -> str:
        return self.pipeline.name

    def reads(self, repo: str, branch: str) -> bool:
        return any(leaf.repo == repo and leaf.branch == branch for leaf in self.leaves)


def topological(members: Sequence[str], nodes: Mapping[str, Node]) -> list[str]:
    """`members` so that each comes after the members whose output it reads."""
    done: list[str] = []
    left = list(members)
    while left:
        for name in left:
            if not any(
                m != name and nodes[name].reads(m, nodes[m].spec.output_branch) for m in left
            ):
                done.append(name)
                left.remove(name)
                break
        else:  # a cycle (refused at create): keep the given order
            done += left
            break
    return done


def check_acyclic(specs: Mapping[str, PipelineSpec], changed: Sequence[str]) -> None:
    """Raise InvalidInput naming the cycle when one of `changed` is on one."""
    reads = {
        name: sorted({leaf.repo for leaf in leaves(spec) if leaf.repo in specs})
        for name, spec in specs.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for up in reads[name]:
            if state.get(up) == 1:
                loop = [*path[path.index(up) :], up]
                raise InvalidInput(
                    f"pipeline {name} would make a cycle: {' -> '.join(reversed(loop))}: a "
                    "pipeline cannot read its own output, even through other pipelines"
                )
            if up not in state:
                visit(up, [*path, up])
        state[name] = 2

    for name in changed:
        if name not in state:
            visit(name, [name])
