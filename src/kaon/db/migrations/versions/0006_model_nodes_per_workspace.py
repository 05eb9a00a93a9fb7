"""Provenance model nodes per workspace: "model:<id>" becomes "model:<workspace>/<id>".

Model ids are content addresses, so two workspaces that train the same thing made one shared
node whose ancestry mixed both workspaces' jobs. Each old node is split by the workspace of
what points at it: the jobs that produced it, the endpoints that serve it, the feedback about
it (through that feedback's endpoint). A node nothing places in a workspace stays as it was.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_nodes = sa.table(
    "prov_nodes",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("label", sa.Text),
    sa.column("attrs", sa.Text),
    sa.column("created", sa.Double),
)
_edges = sa.table(
    "prov_edges", sa.column("src", sa.String), sa.column("dst", sa.String), sa.column("kind")
)
_jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("workspace", sa.String))
_trials = sa.table(
    "trials", sa.column("job", sa.String), sa.column("model_id", sa.String), sa.column("doc")
)
_endpoints = sa.table("endpoints", sa.column("name", sa.String), sa.column("workspace"))


def _job_workspace(conn: sa.Connection, job_node: str) -> str | None:
    """The workspace of `job:<job id>/<trial>`: its job row, else (workspace deleted) the
    repo of the data or code it used (`<ws>-data`, `<ws>-source`)."""
    job = job_node.split(":", 1)[1].split("/", 1)[0]
    found = conn.execute(sa.select(_jobs.c.workspace).where(_jobs.c.id == job)).scalar()
    if found is not None:
        return str(found)
    inputs = (
        sa.select(_nodes.c.attrs)
        .join(_edges, _edges.c.src == _nodes.c.id)
        .where(_edges.c.dst == job_node, _nodes.c.kind.in_(["data", "code"]))
    )
    for (attrs,) in conn.execute(inputs):
        repo = str(json.loads(attrs).get("repo", ""))
        for suffix in ("-data", "-source"):
            if repo.endswith(suffix):
                return repo[: -len(suffix)]
    return None


def _endpoint_workspace(conn: sa.Connection, endpoint_node: str) -> str | None:
    """The workspace of `endpoint:<name>`: its row, else its name `serve-<ws>-<hex>`."""
    name = endpoint_node.split(":", 1)[1]
    found = conn.execute(
        sa.select(_endpoints.c.workspace).where(_endpoints.c.name == name)
    ).scalar()
    if found is not None:
        return str(found)
    parts = name.split("-")
    return "-".join(parts[1:-1]) if len(parts) >= 3 and parts[0] == "serve" else None


def _feedback_workspace(conn: sa.Connection, feedback_node: str) -> str | None:
    about = sa.select(_edges.c.src).where(
        _edges.c.dst == feedback_node, _edges.c.src.startswith("endpoint:")
    )
    for (src,) in conn.execute(about):
        return _endpoint_workspace(conn, str(src))
    return None


def _attrs(conn: sa.Connection, old: dict[str, str], workspace: str, model: str) -> str:
    """The old node's attributes, with the commit, path and metrics of the trial that made
    the model in `workspace` (the shared node kept whichever workspace recorded it first)."""
    stmt = (
        sa.select(_trials.c.doc)
        .join(_jobs, _jobs.c.id == _trials.c.job)
        .where(_trials.c.model_id == model, _jobs.c.workspace == workspace)
        .limit(1)
    )
    doc = conn.execute(stmt).scalar()
    attrs = dict(old)
    if doc is not None:
        trial = json.loads(doc)
        attrs["commit"] = str(trial.get("model_commit"))
        attrs["path"] = str(trial.get("model_path"))
        attrs["metrics"] = json.dumps(trial.get("metrics") or {}, sort_keys=True)[:200]
    return json.dumps(attrs, sort_keys=True)


def upgrade() -> None:
    conn = op.get_bind()
    legacy = conn.execute(
        sa.select(_nodes).where(_nodes.c.kind == "model", ~_nodes.c.id.contains("/"))
    ).all()
    for node in legacy:
        old, model = str(node.id), str(node.id).split(":", 1)[1]
        touching = conn.execute(
            sa.select(_edges).where(sa.or_(_edges.c.src == old, _edges.c.dst == old))
        ).all()
        moved: list[tuple[str, str, str, str]] = []  # (workspace, src, dst, kind)
        for edge in touching:
            other = edge.src if edge.dst == old else edge.dst
            if other.startswith("job:"):
                ws = _job_workspace(conn, other)
            elif other.startswith("endpoint:"):
                ws = _endpoint_workspace(conn, other)
            elif other.startswith("feedback:"):
                ws = _feedback_workspace(conn, other)
            else:
                ws = None
            if ws is not None:
                moved.append((ws, edge.src, edge.dst, edge.kind))
        places = sorted({m[0] for m in moved})
        if not places:
            continue
        old_attrs = json.loads(node.attrs)
        for ws in places:
            new = f"model:{ws}/{model}"
            conn.execute(
                sa.insert(_nodes).values(
                    id=new,
                    kind="model",
                    label=node.label,
                    attrs=_attrs(conn, old_attrs, ws, model),
                    created=node.created,
                )
            )
            conn.execute(
                sa.insert(_edges),
                [
                    {"src": new if s == old else s, "dst": new if d == old else d, "kind": k}
                    for w, s, d, k in moved
                    if w == ws
                ],
            )
        for _, src, dst, kind in moved:
            conn.execute(
                sa.delete(_edges).where(
                    _edges.c.src == src, _edges.c.dst == dst, _edges.c.kind == kind
                )
            )
        if len(moved) == len(touching):
            conn.execute(sa.delete(_nodes).where(_nodes.c.id == old))


def downgrade() -> None:
    """Not reversible without merging the split nodes back; nothing to do for the schema."""
