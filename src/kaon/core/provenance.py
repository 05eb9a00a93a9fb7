"""Provenance graphs: what a model, endpoint or feedback record came from, as a pure model.

The platform records one chain as work happens:

    data ─┐
    code ─┼─ used ─▶ job ─ produced ─▶ model ─ served-by ─▶ endpoint ─ about ─▶ feedback
  params ─┤                                      serve code ─ deployed-from ─┘
     env ─┘ (env built-from code)

    data, code, env ─ used ─▶ notebook ─ produced ─▶ code (a save: what a job may train from)

Edges point from the input to what used or derived it: ancestry (upstream) follows them backwards,
subvenance (downstream) forwards, by iterative BFS over adjacency dicts kept on insert. Node ids
are stable keys such as "data:<commit id>" (see `node_id`); a model's is scoped to its workspace,
"model:mnist/e23a2_9fd9d:b82151" (`model_node_id`), because model ids are content addresses that
two workspaces training the same thing share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidInput, NotFound


class NodeKind(StrEnum):
    DATA = "data"
    CODE = "code"
    PARAMS = "params"
    ENVIRONMENT = "environment"
    NOTEBOOK = "notebook"  # a notebook as deployed: what it read, the code it saved
    JOB = "job"
    MODEL = "model"
    SERVE_CODE = "serve_code"
    ENDPOINT = "endpoint"
    FEEDBACK = "feedback"


class EdgeKind(StrEnum):
    USED = "used"
    PRODUCED = "produced"
    BUILT_FROM = "built-from"
    SERVED_BY = "served-by"
    DEPLOYED_FROM = "deployed-from"
    DEPLOYED = "deployed"  # a job (a pipeline's release stage) deployed or promoted an endpoint
    ABOUT = "about"
    DERIVED_FROM = "derived-from"


def _rule(srcs: str, dsts: str) -> tuple[frozenset[NodeKind], frozenset[NodeKind]]:
    return frozenset(map(NodeKind, srcs.split())), frozenset(map(NodeKind, dsts.split()))


# Which (src kind, dst kind) pairs each edge kind may join; catches edges drawn backwards.
EDGE_RULES: Mapping[EdgeKind, tuple[frozenset[NodeKind], frozenset[NodeKind]]] = {
    EdgeKind.USED: _rule("data code params environment model", "job endpoint notebook"),
    EdgeKind.PRODUCED: _rule("job notebook", "model data code"),
    EdgeKind.BUILT_FROM: _rule("code serve_code", "environment"),
    EdgeKind.SERVED_BY: _rule("model", "endpoint"),
    EdgeKind.DEPLOYED_FROM: _rule("serve_code code", "endpoint"),
    EdgeKind.DEPLOYED: _rule("job", "endpoint"),
    EdgeKind.ABOUT: _rule("endpoint model", "feedback"),
    EdgeKind.DERIVED_FROM: _rule("data feedback", "data"),
}

_KIND_ORDER = {kind: i for i, kind in enumerate(NodeKind)}


def node_id(kind: NodeKind, key: str) -> str:
    """The conventional id of a node: "<kind>:<key>", e.g. node_id(MODEL, "e23a2_9fd9d:b82151")."""
    return f"{NodeKind(kind).value}:{key}"


def model_node_id(workspace: str, model_id: str) -> str:
    """The node of model `model_id` as produced in `workspace` (its label is the bare id)."""
    return node_id(NodeKind.MODEL, f"{workspace}/{model_id}")


def short_id(text: str, n: int = 8) -> str:
    """`text` cut to `n` characters with an ellipsis when longer (for hashes and job ids)."""
    return text if len(text) <= n else text[:n] + "…"


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    label: str
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidInput("a provenance node needs a non-empty string id", id=self.id)
        if not isinstance(self.kind, NodeKind):  # e.g. a string from JSON
            try:
                object.__setattr__(self, "kind", NodeKind(self.kind))
            except ValueError:
                raise InvalidInput(f"unknown node kind {self.kind!r}", id=self.id) from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.attrs.items()):
            raise InvalidInput(f"node {self.id}: attrs must map strings to strings", id=self.id)
        object.__setattr__(self, "attrs", dict(self.attrs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "label": self.label,
            "attrs": {**self.attrs},
        }


@dataclass(frozen=True, order=True)
class Edge:
    src: str
    dst: str
    kind: EdgeKind

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EdgeKind):  # e.g. a string from JSON
            try:
                object.__setattr__(self, "kind", EdgeKind(self.kind))
            except ValueError:
                raise InvalidInput(f"unknown edge kind {self.kind!r}") from None

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "dst": self.dst, "kind": self.kind.value}


class Graph:
    """Nodes by id and deduplicated edges, with adjacency kept for fast traversals."""

    def __init__(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: dict[Edge, None] = {}  # an ordered set
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}
        for node in nodes:
            self.add_node(node)
        for edge in edges:
            self.add_edge(edge)

    def add_node(self, node: Node) -> Node:
        """Add `node`; re-adding an id refines it (new label, attrs merged), kind must match."""
        old = self._nodes.get(node.id)
        if old is None:
            self._nodes[node.id] = node
            self._out[node.id] = []
            self._in[node.id] = []
            return node
        if old.kind != node.kind:
            raise InvalidInput(
                f"node {node.id} is already a {old.kind}, cannot re-add it as a {node.kind}",
                id=node.id,
            )
        merged = Node(node.id, node.kind, node.label or old.label, {**old.attrs, **node.attrs})
        self._nodes[node.id] = merged
        return merged

    def add_edge(self, edge: Edge) -> bool:
        """Add `edge` (both ends must exist); False when it was already there."""
        if edge in self._edges:
            return False
        src, dst = self._nodes.get(edge.src), self._nodes.get(edge.dst)
        if src is None or dst is None:
            missing = edge.src if src is None else edge.dst
            raise NotFound(f"provenance edge {edge.kind} names unknown node {missing}", id=missing)
        if src.id == dst.id:
            raise InvalidInput(f"provenance edge {edge.kind} from {src.id} to itself", id=src.id)
        srcs, dsts = EDGE_RULES[edge.kind]
        if src.kind not in srcs or dst.kind not in dsts:
            raise InvalidInput(
                f"a {edge.kind} edge cannot go from {src.kind} {src.id} to {dst.kind} {dst.id}"
                " (edges point from the input to what used or derived it)",
                src=src.id,
                dst=dst.id,
            )
        self._insert_edge(edge)
        return True

    def _insert_edge(self, edge: Edge) -> None:
        self._edges[edge] = None
        self._out[edge.src].append(edge)
        self._in[edge.dst].append(edge)

    def merge(self, other: Graph) -> Graph:
        """Add every node and edge of `other` to this graph (in place); returns self."""
        for node in other._nodes.values():
            self.add_node(node)
        for edge in other._edges:
            self.add_edge(edge)
        return self

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise NotFound(f"no provenance node {node_id}", id=node_id) from None

    def inputs(self, node_id: str) -> list[Edge]:
        """Edges into `node_id` (what it used or came from), in chain order, then by label."""
        self.node(node_id)
        return sorted(self._in[node_id], key=lambda e: (*node_order(self._nodes[e.src]), e.kind))

    def outputs(self, node_id: str) -> list[Edge]:
        """Edges out of `node_id` (what used or derived it), in the order they were added."""
        self.node(node_id)
        return list(self._out[node_id])

    def ancestry(self, node_id: str) -> Graph:
        """The node and everything upstream of it, with the edges between them."""
        return self._reach(node_id, upstream=True)

    def subvenance(self, node_id: str) -> Graph:
        """The node and everything downstream of it, with the edges between them."""
        return self._reach(node_id, upstream=False)

    def _reach(self, start: str, *, upstream: bool) -> Graph:
        self.node(start)
        ahead = self._in if upstream else self._out
        order, seen = [start], {start}
        for current in order:  # a BFS: `order` grows while it is walked
            for edge in ahead[current]:
                nxt = edge.src if upstream else edge.dst
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
        sub = Graph()  # filled directly: every edge was checked on its way into `self`
        sub._nodes = {k: self._nodes[k] for k in order}
        sub._in, sub._out = {k: [] for k in order}, {k: [] for k in order}
        for k in order:
            for edge in ahead[k]:  # each edge within the reached set, exactly once
                sub._insert_edge(edge)
        return sub

    def to_dict(self) -> dict[str, Any]:
        """JSON-able {"nodes": [...], "edges": [...]}, sorted so equal graphs give equal dicts."""
        return {
            "nodes": [self._nodes[k].to_dict() for k in sorted(self._nodes)],
            "edges": [e.to_dict() for e in sorted(self._edges)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Graph:
        """Rebuild a graph from `to_dict` output; InvalidInput when it is malformed."""
        try:
            nodes = [
                Node(n["id"], n["kind"], n.get("label", ""), n.get("attrs") or {})
                for n in data["nodes"]
            ]
            edges = [Edge(e["src"], e["dst"], e["kind"]) for e in data["edges"]]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InvalidInput(f"not a provenance graph: {exc!r}") from None
        return cls(nodes, edges)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def text_tree(self, root_id: str, *, max_depth: int | None = 16) -> str:
        """`root_id`'s ancestry as a box-drawing tree (kaon.core.provenancedraw)."""
        from kaon.core.provenancedraw import text_tree

        return text_tree(self, root_id, max_depth=max_depth)

    def to_dot(self, title: str) -> str:
        """Graphviz DOT source (kaon.core.provenancedraw)."""
        from kaon.core.provenancedraw import to_dot

        return to_dot(self, title)


def node_order(node: Node) -> tuple[int, str, str]:
    """Chain order (data, code, … feedback), then label and id: how inputs are listed."""
    return (_KIND_ORDER[node.kind], node.label, node.id)
