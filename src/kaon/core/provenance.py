"""Provenance graphs: what a model, endpoint or feedback record came from, as a pure model.

The platform records one chain as work happens:

    data ─┐
    code ─┼─ used ─▶ job ─ produced ─▶ model ─ served-by ─▶ endpoint ─ about ─▶ feedback
  params ─┤                                      serve code ─ deployed-from ─┘
     env ─┘ (env built-from code)

Edges point from the input to what used or derived it: ancestry (upstream) follows them backwards,
subvenance (downstream) forwards, by iterative BFS over adjacency dicts kept on insert. Node ids
are stable keys such as "data:<commit id>" (see `node_id`); a model's is scoped to its workspace,
"model:mnist/e23a2_9fd9d:b82151" (`model_node_id`), because model ids are content addresses that
two workspaces training the same thing share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidInput, NotFound


class NodeKind(StrEnum):
    DATA = "data"
    CODE = "code"
    PARAMS = "params"
    ENVIRONMENT = "environment"
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
    ABOUT = "about"
    DERIVED_FROM = "derived-from"


def _rule(srcs: str, dsts: str) -> tuple[frozenset[NodeKind], frozenset[NodeKind]]:
    return frozenset(map(NodeKind, srcs.split())), frozenset(map(NodeKind, dsts.split()))


# Which (src kind, dst kind) pairs each edge kind may join; catches edges drawn backwards.
EDGE_RULES: Mapping[EdgeKind, tuple[frozenset[NodeKind], frozenset[NodeKind]]] = {
    EdgeKind.USED: _rule("data code params environment model", "job endpoint"),
    EdgeKind.PRODUCED: _rule("job", "model data"),
    EdgeKind.BUILT_FROM: _rule("code serve_code", "environment"),
    EdgeKind.SERVED_BY: _rule("model", "endpoint"),
    EdgeKind.DEPLOYED_FROM: _rule("serve_code code", "endpoint"),
    EdgeKind.ABOUT: _rule("endpoint model", "feedback"),
    EdgeKind.DERIVED_FROM: _rule("data feedback", "data"),
}

# How a child (upstream) node relates to its parent in `text_tree`, read from the parent.
_RELATION = {kind: kind.value.replace("-", " ") for kind in EdgeKind} | {
    EdgeKind.PRODUCED: "produced by",
    EdgeKind.SERVED_BY: "serves",
}
_KIND_ORDER = {kind: i for i, kind in enumerate(NodeKind)}
_KIND_NAME = {kind: kind.value.replace("_", " ") for kind in NodeKind}  # as people read it


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
        return sorted(self._in[node_id], key=lambda e: (*_node_order(self._nodes[e.src]), e.kind))

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
        """`root_id`'s ancestry as a box-drawing tree for a terminal, inputs in chain order
        (and what a job wrote: its data outputs, as leaves).

        A node reached again (shared input or cycle) is marked "(see above)", not re-expanded;
        levels below `max_depth` are summarised as "… N more upstream" (None: no limit).
        """
        root = self.node(root_id)
        lines = [f"{_describe(root)}{_details(root)}"]
        shown = {root_id}
        stack: list[tuple[Edge, bool, str, bool, int]] = []  # edge, output?, prefix, last?, depth

        def push_children(parent: str, prefix: str, depth: int) -> None:
            outs = self._out[parent] if self._nodes[parent].kind is NodeKind.JOB else []
            children = [(e, True) for e in outs if self._nodes[e.dst].kind is NodeKind.DATA]
            children += [(e, False) for e in self.inputs(parent)]
            if max_depth is not None and depth > max_depth and children:
                lines.append(f"{prefix}└── … {len(children)} more upstream")
                return
            for i, (edge, out) in reversed(list(enumerate(children))):
                stack.append((edge, out, prefix, i == len(children) - 1, depth))

        push_children(root_id, "", 1)
        while stack:
            edge, out, prefix, last, depth = stack.pop()
            child = self._nodes[edge.dst if out else edge.src]
            relation = "wrote" if out else _RELATION[edge.kind]
            line = f"{prefix}{'└── ' if last else '├── '}{relation} {_describe(child)}"
            seen = child.id in shown and not out
            lines.append(f"{line}  (see above)" if seen else f"{line}{_details(child)}")
            if not out and not seen:
                shown.add(child.id)
                push_children(child.id, prefix + ("    " if last else "│   "), depth + 1)
        return "\n".join(lines)

    def to_dot(self, title: str) -> str:
        """Graphviz DOT source: left to right, one cluster per group, a style per kind."""
        lines = [
            f"digraph {_dot_str(title)} {{",
            f"  graph [rankdir=LR, label={_dot_str(title)}, labelloc=t, fontname=Helvetica,"
            " fontsize=14, nodesep=0.35, ranksep=0.7];",
            "  node [fontname=Helvetica, fontsize=10, style=filled, penwidth=1.2];",
            '  edge [fontname=Helvetica, fontsize=9, color="#555555", fontcolor="#333333"];',
        ]
        members = sorted(self._nodes.values(), key=_node_order)
        for group, fill in _DOT_CLUSTERS.items():
            in_group = [n for n in members if _DOT_STYLE[n.kind][0] == group]
            if not in_group:
                continue
            lines.append(f"  subgraph cluster_{group} {{")
            lines.append(f'    label="{group}"; fillcolor="{fill}"; {_DOT_CLUSTER_STYLE}')
            lines.extend(f"    {_dot_node(n)}" for n in in_group)
            lines.append("  }")
        for edge in sorted(self._edges):
            lines.append(
                f"  {_dot_str(edge.src)} -> {_dot_str(edge.dst)}"
                f" [label={_dot_str(edge.kind.value)}];"
            )
        lines.append("}")
        return "\n".join(lines) + "\n"


def _node_order(node: Node) -> tuple[int, str, str]:
    return (_KIND_ORDER[node.kind], node.label, node.id)


def _describe(node: Node) -> str:
    label = " ".join((node.label or node.id).split())  # one terminal line, whatever the label
    return f"{_KIND_NAME[node.kind]} {short_id(label, 60)}"


def format_time(value: str) -> str:
    """An ISO timestamp as "YYYY-MM-DD HH:MM" (as given when it is not ISO)."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _details(node: Node) -> str:
    parts = []
    for key in ("author", "commit", "python", "packages", "lock", "hash", "created"):
        value = " ".join(node.attrs.get(key, "").split())
        if not value:
            continue
        if key == "created":
            value = format_time(value)
        elif key in ("commit", "hash", "lock"):
            value = short_id(value, 6 if key == "commit" else 8)
        parts.append(f"{key} {value}")
    out = f"  ({', '.join(parts)})" if parts else ""
    state = " ".join(node.attrs.get("state", "").split())
    return f"{out}  {state}" if state else out


# DOT: (cluster, shape, fill, border) per kind, and each cluster's background, in chain order.
_DOT_STYLE = {
    NodeKind.DATA: ("data", "cylinder", "#cfe3f7", "#2e78b7"),
    NodeKind.PARAMS: ("data", "hexagon", "#d9f2f2", "#2a8c8c"),
    NodeKind.CODE: ("code", "folder", "#d5efd5", "#3a8a3a"),
    NodeKind.SERVE_CODE: ("code", "tab", "#e4f3c9", "#6a8f1f"),
    NodeKind.ENVIRONMENT: ("environment", "component", "#fbf1c4", "#a88a13"),
    NodeKind.JOB: ("training", "box", "#fde2c8", "#c46a1b"),
    NodeKind.MODEL: ("training", "box3d", "#f9cdb8", "#b4441b"),
    NodeKind.ENDPOINT: ("serving", "doubleoctagon", "#e5d4f2", "#7540a0"),
    NodeKind.FEEDBACK: ("serving", "note", "#f8d3e3", "#b03a6e"),
}
_DOT_CLUSTERS = {"data": "#f1f7fd", "code": "#f2faf2", "environment": "#fdfbf0"}
_DOT_CLUSTERS |= {"training": "#fdf5ef", "serving": "#f8f3fb"}
_DOT_CLUSTER_STYLE = 'style="rounded,filled"; color="#bbbbbb"; fontcolor="#444444";'


def _dot_str(text: str) -> str:
    """`text` as a double-quoted DOT string: backslashes, quotes and newlines escaped."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    out = "".join(" " if ord(c) < 32 else c for c in out)
    return f'"{out}"'


def _dot_node(node: Node) -> str:
    _, shape, fill, border = _DOT_STYLE[node.kind]
    lines = [_KIND_NAME[node.kind], short_id(node.label or node.id, 40)]
    attrs = node.attrs
    extra = [attrs.get("author", ""), format_time(attrs.get("created", "")), attrs.get("state", "")]
    if any(extra):
        lines.append(" · ".join(x for x in extra if x))
    label = "\n".join(lines)
    style = "rounded,filled" if node.kind == NodeKind.JOB else "filled"
    return (
        f"{_dot_str(node.id)} [label={_dot_str(label)}, shape={shape},"
        f' style="{style}", fillcolor="{fill}", color="{border}"];'
    )
