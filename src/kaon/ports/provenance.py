"""ProvenanceStore: the recorded provenance graph (nodes and typed edges) and its traversals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kaon.core.provenance import Edge, Graph, Node


class ProvenanceStore(Protocol):
    def record(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        """Add nodes (an existing id keeps its first record) and edges, atomically."""
        ...

    def ancestry(self, node_id: str, max_lineage: int = 16, *, wrote: bool = False) -> Graph:
        """The node and everything upstream of it (empty graph when unknown); runs of
        derived-from edges (a data commit's own history) stop after `max_lineage` hops.
        With `wrote`, also the data nodes the jobs reached produced, with those `produced`
        edges (what a model's jobs wrote elsewhere), in the same read."""
        ...

    def subvenance(self, node_id: str) -> Graph:
        """The node and everything downstream of it (empty graph when unknown)."""
        ...

    def outputs(self, node_ids: Sequence[str], kind: str) -> Graph:
        """`node_ids`, the nodes they point to with edges of `kind`, and those edges."""
        ...

    def find(self, kind: str, prefix: str, limit: int = 2) -> list[str]:
        """Ids of nodes of `kind` whose id starts with `<kind>:<prefix>`."""
        ...
