"""Provenance graphs drawn for people: a box-drawing tree for a terminal (`text_tree`) and
Graphviz DOT (`to_dot`), both deterministic. The model itself is kaon.core.provenance.
"""

from __future__ import annotations

from datetime import datetime

from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind, node_order, short_id

# How a child (upstream) node relates to its parent in `text_tree`, read from the parent.
_RELATION = {kind: kind.value.replace("-", " ") for kind in EdgeKind} | {
    EdgeKind.PRODUCED: "produced by",
    EdgeKind.SERVED_BY: "serves",
}
_KIND_NAME = {kind: kind.value.replace("_", " ") for kind in NodeKind}  # as people read it


def text_tree(graph: Graph, root_id: str, *, max_depth: int | None = 16) -> str:
    """`root_id`'s ancestry as a box-drawing tree for a terminal, inputs in chain order
    (and what a job wrote: its data outputs, as leaves).

    A node reached again (shared input or cycle) is marked "(see above)", not re-expanded;
    levels below `max_depth` are summarised as "… N more upstream" (None: no limit).
    """
    root = graph.node(root_id)
    lines = [f"{_describe(root)}{_details(root)}"]
    shown = {root_id}
    stack: list[tuple[Edge, bool, str, bool, int]] = []  # edge, output?, prefix, last?, depth

    def push_children(parent: str, prefix: str, depth: int) -> None:
        outs = graph.outputs(parent) if graph.node(parent).kind is NodeKind.JOB else []
        children = [(e, True) for e in outs if graph.node(e.dst).kind is NodeKind.DATA]
        children += [(e, False) for e in graph.inputs(parent)]
        if max_depth is not None and depth > max_depth and children:
            lines.append(f"{prefix}└── … {len(children)} more upstream")
            return
        for i, (edge, out) in reversed(list(enumerate(children))):
            stack.append((edge, out, prefix, i == len(children) - 1, depth))

    push_children(root_id, "", 1)
    while stack:
        edge, out, prefix, last, depth = stack.pop()
        child = graph.node(edge.dst if out else edge.src)
        relation = "wrote" if out else _RELATION[edge.kind]
        line = f"{prefix}{'└── ' if last else '├── '}{relation} {_describe(child)}"
        seen = child.id in shown and not out
        lines.append(f"{line}  (see above)" if seen else f"{line}{_details(child)}")
        if not out and not seen:
            shown.add(child.id)
            push_children(child.id, prefix + ("    " if last else "│   "), depth + 1)
    return "\n".join(lines)


def to_dot(graph: Graph, title: str) -> str:
    """Graphviz DOT source: left to right, one cluster per group, a style per kind."""
    lines = [
        f"digraph {_dot_str(title)} {{",
        f"  graph [rankdir=LR, label={_dot_str(title)}, labelloc=t, fontname=Helvetica,"
        " fontsize=14, nodesep=0.35, ranksep=0.7];",
        "  node [fontname=Helvetica, fontsize=10, style=filled, penwidth=1.2];",
        '  edge [fontname=Helvetica, fontsize=9, color="#555555", fontcolor="#333333"];',
    ]
    members = sorted(graph.nodes, key=node_order)
    for group, fill in _DOT_CLUSTERS.items():
        in_group = [n for n in members if _DOT_STYLE[n.kind][0] == group]
        if not in_group:
            continue
        lines.append(f"  subgraph cluster_{group} {{")
        lines.append(f'    label="{group}"; fillcolor="{fill}"; {_DOT_CLUSTER_STYLE}')
        lines.extend(f"    {_dot_node(n)}" for n in in_group)
        lines.append("  }")
    for edge in sorted(graph.edges):
        lines.append(
            f"  {_dot_str(edge.src)} -> {_dot_str(edge.dst)} [label={_dot_str(edge.kind.value)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


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
    NodeKind.NOTEBOOK: ("training", "octagon", "#fdf0c8", "#b8861b"),
    NodeKind.JOB: ("training", "box", "#fde2c8", "#c46a1b"),
    NodeKind.MODEL: ("training", "box3d", "#f9cdb8", "#b4441b"),
    NodeKind.ENDPOINT: ("serving", "doubleoctagon", "#e5d4f2", "#7540a0"),
    NodeKind.FEEDBACK: ("serving", "note", "#f8d3e3", "#b03a6e"),
}
_DOT_CLUSTERS = {"data": "#f1f7fd", "code": "#f2faf2", "environment": "#fdfbf0"}
_DOT_CLUSTERS |= {"training": "#fdf5ef", "serving": "#f8f3fb"}
_DOT_CLUSTER_STYLE = 'style="rounded,filled"; color="#bbbbbb"; fontcolor="#444444";'


_CONTROL = {c: " " for c in range(32)}  # what is left of the control characters: spaces


def _dot_str(text: str) -> str:
    """`text` as a double-quoted DOT string: backslashes, quotes and newlines escaped."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    if not out.isprintable():  # rare: translate looks every character up in a dict
        out = out.translate(_CONTROL)
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
