"""MemoryProvenanceStore: the ProvenanceStore port over the shared in-memory tables, walking
the graph as kaon.db.provenance's recursive queries do."""

from __future__ import annotations

from collections.abc import Sequence

from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind
from kaon.memory.tables import Tables, detached

MAX_LINEAGE = 16  # derived-from hops an ancestry follows (a data commit's own history)


class MemoryProvenanceStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def record(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        with self._t.lock:
            for node in nodes:
                self._t.nodes.setdefault(node.id, detached(node))
            for edge in edges:
                self._t.edges[edge] = None

    def ancestry(
        self, node_id: str, max_lineage: int = MAX_LINEAGE, *, wrote: bool = False
    ) -> Graph:
        graph = self._walk(node_id, up=True, max_lineage=max_lineage)
        if wrote:
            jobs = [n.id for n in graph.nodes if n.kind is NodeKind.JOB]
            out = self.outputs(jobs, EdgeKind.PRODUCED.value)
            for edge in out.edges:
                if out.node(edge.dst).kind is NodeKind.DATA:
                    if edge.dst not in graph:
                        graph.add_node(out.node(edge.dst))
                    graph.add_edge(edge)
        return graph

    def subvenance(self, node_id: str) -> Graph:
        return self._walk(node_id, up=False, max_lineage=0)

    def _walk(self, node_id: str, *, up: bool, max_lineage: int) -> Graph:
        """Upwards, runs of derived-from edges stop after `max_lineage` hops; downwards, an
        endpoint's `about` edges are not followed (as kaon.db.provenance)."""
        with self._t.lock:
            edges = list(self._t.edges)
            seen = {(node_id, 0)}
            todo = [(node_id, 0)]
            while todo:
                at, hops = todo.pop()
                for e in edges:
                    if (e.dst if up else e.src) != at:
                        continue
                    derived = e.kind == EdgeKind.DERIVED_FROM
                    if up and derived and hops >= max_lineage:
                        continue
                    if not up and e.kind == EdgeKind.ABOUT and e.src.startswith("endpoint:"):
                        continue
                    step = (e.src if up else e.dst, hops + 1 if up and derived else 0)
                    if step not in seen:
                        seen.add(step)
                        todo.append(step)
            reached = {i for i, _ in seen}
            graph = Graph(detached(self._t.nodes[i]) for i in reached if i in self._t.nodes)
            for e in edges:
                if (e.dst if up else e.src) in reached and e.src in graph and e.dst in graph:
                    graph.add_edge(e)
        return graph

    def outputs(self, node_ids: Sequence[str], kind: str) -> Graph:
        ids = list(dict.fromkeys(node_ids))
        with self._t.lock:
            graph = Graph(detached(self._t.nodes[i]) for i in ids if i in self._t.nodes)
            for e in list(self._t.edges):
                if e.src in ids and e.kind == kind and e.dst in self._t.nodes:
                    graph.add_node(detached(self._t.nodes[e.dst]))
                    graph.add_edge(e)
        return graph

    def find(self, kind: str, prefix: str, limit: int = 2) -> list[str]:
        start = f"{kind}:{prefix}"
        with self._t.lock:
            return sorted(i for i in self._t.nodes if i.startswith(start))[: max(0, limit)]
