"""The DAG of pipelines: which repo branches each reads and writes, cycles, order, downstream.

A pipeline writes `<name>@<output_branch>` and reads the (repo, branch) of each of its pfs and
cron inputs. Pipeline Q is downstream of P when Q reads P's output branch. A commit on repo R
branch B sets off, in topological order, every pipeline that reads R@B and, transitively,
every pipeline downstream of those (`downstream`). Ties are broken by name, so every order
here is deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.inputs import as_pfs, pfs_inputs
from kaon.core.pipelines.spec import CronInput, PfsInput, PipelineSpec

RepoBranch = tuple[str, str]


@dataclass(frozen=True)
class Node:
    name: str
    output: RepoBranch  # (pipeline name = output repo, output_branch)
    reads: frozenset[RepoBranch]


def leaves(spec: PipelineSpec) -> list[PfsInput]:
    """Every input the pipeline reads (/pfs/<name> is a commit of repo@branch), in spec
    order; a cron input as the pfs input it is read as (its ticks repo's master)."""
    found = pfs_inputs(spec.input) if spec.input is not None else []
    return [as_pfs(leaf) if isinstance(leaf, CronInput) else leaf for leaf in found]


def node(spec: PipelineSpec) -> Node:
    reads = frozenset((leaf.repo, leaf.branch) for leaf in leaves(spec))
    return Node(spec.name, (spec.name, spec.output_branch), reads)


def input_repos(spec: PipelineSpec) -> tuple[str, ...]:
    """The repos a pipeline reads, sorted (`Pipeline.inputs`)."""
    return tuple(sorted({repo for repo, _ in node(spec).reads}))


class Graph:
    """The pipelines of a platform (or of one create request plus the existing ones)."""

    def __init__(self, pipelines: Iterable[PipelineSpec | Node]) -> None:
        self.nodes: dict[str, Node] = {}
        for item in pipelines:
            n = item if isinstance(item, Node) else node(item)
            self.nodes[n.name] = n
        self._writer = {n.output: n.name for n in self.nodes.values()}

    def upstream(self, name: str) -> list[str]:
        """The pipelines whose output `name` reads directly, sorted."""
        return sorted({self._writer[rb] for rb in self.nodes[name].reads if rb in self._writer})

    def readers(self, repo: str, branch: str) -> list[str]:
        """The pipelines that read repo@branch directly, sorted."""
        return sorted(n.name for n in self.nodes.values() if (repo, branch) in n.reads)

    def check_acyclic(self) -> None:
        """InvalidInput naming a cycle: "pipelines a and b form a cycle: a reads b, b reads a"."""
        state: dict[str, int] = {}  # 1: on the path, 2: done
        for start in sorted(self.nodes):
            if state.get(start):
                continue
            path: list[str] = [start]
            todo = [iter(self.upstream(start))]
            state[start] = 1
            while todo:
                up = next(todo[-1], None)
                if up is None:
                    state[path.pop()] = 2
                    todo.pop()
                elif state.get(up) == 1:
                    cycle = path[path.index(up) :]
                    raise InvalidInput(_cycle_message(cycle))
                elif not state.get(up):
                    state[up] = 1
                    path.append(up)
                    todo.append(iter(self.upstream(up)))

    def topological(self, names: Iterable[str] | None = None) -> list[str]:
        """`names` (default: all) upstream first (InvalidInput on a cycle)."""
        self.check_acyclic()
        wanted = set(self.nodes if names is None else names)
        ups = {n: [u for u in self.upstream(n) if u in wanted] for n in wanted}
        waiting = {n: len(u) for n, u in ups.items()}
        downs: dict[str, list[str]] = {n: [] for n in wanted}
        for n, us in ups.items():
            for u in us:
                downs[u].append(n)
        ready = [n for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for d in downs[n]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    heapq.heappush(ready, d)
        return order

    def downstream(self, repo: str, branch: str) -> list[str]:
        """Every pipeline a commit on repo@branch sets off, transitively, upstream first."""
        found: set[str] = set()
        todo = [(repo, branch)]
        while todo:
            for name in self.readers(*todo.pop()):
                if name not in found:
                    found.add(name)
                    todo.append(self.nodes[name].output)
        return self.topological(found)


def _cycle_message(cycle: list[str]) -> str:
    """cycle: [a, b] where a reads b and b reads a (each reads the next, the last the first)."""
    steps = [f"{a} reads {b}" for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True)]
    names = ", ".join(cycle[:-1]) + (" and " if len(cycle) > 1 else "") + cycle[-1]
    return (
        f"pipelines {names} form a cycle: {', '.join(steps)}; "
        "a pipeline cannot read its own output, directly or through others"
        if len(cycle) > 1
        else f"pipeline {cycle[0]} reads its own output repo {cycle[0]}: read another repo"
    )


def check_acyclic(pipelines: Iterable[PipelineSpec | Node]) -> None:
    Graph(pipelines).check_acyclic()


def topological(pipelines: Iterable[PipelineSpec | Node]) -> list[str]:
    return Graph(pipelines).topological()


def downstream(pipelines: Iterable[PipelineSpec | Node], repo: str, branch: str) -> list[str]:
    return Graph(pipelines).downstream(repo, branch)
