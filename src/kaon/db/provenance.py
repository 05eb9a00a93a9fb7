"""SqlProvenanceStore: the provenance graph in two tables, walked with recursive CTEs
(SQLite and PostgreSQL both have WITH RECURSIVE), so one query answers an ancestry."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text

from kaon.core.ids import is_hex
from kaon.core.provenance import Edge, Graph, Node
from kaon.db import schema
from kaon.db.sqlstore import SqlStore

MAX_LINEAGE = 16  # derived-from hops an ancestry follows (a data commit's own history)

_WALK = {  # (join column to follow, column reached)
    "up": ("dst", "src"),
    "down": ("src", "dst"),
}


class SqlProvenanceStore(SqlStore):
    def record(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        import time

        now = time.time()
        node_rows = [
            {
                "id": n.id,
                "kind": n.kind.value,
                "label": n.label,
                "attrs": json.dumps(n.attrs, sort_keys=True),
                "created": now,
            }
            for n in nodes
        ]
        edge_rows = [{"src": e.src, "dst": e.dst, "kind": e.kind.value} for e in edges]
        with self._db.guard(), self._writer.begin() as conn:
            if node_rows:
                conn.execute(insert(schema.prov_nodes).on_conflict_do_nothing(), node_rows)
            if edge_rows:
                conn.execute(insert(schema.prov_edges).on_conflict_do_nothing(), edge_rows)

    def ancestry(
        self, node_id: str, max_lineage: int = MAX_LINEAGE, *, wrote: bool = False
    ) -> Graph:
        return self._walk(node_id, "up", max_lineage, wrote)

    def subvenance(self, node_id: str) -> Graph:
        return self._walk(node_id, "down", None, False)

    def _walk(self, node_id: str, direction: str, max_lineage: int | None, wrote: bool) -> Graph:
        """One statement, one round trip: the reached nodes, then the edges among them (rows
        tagged 'n'/'e'); with `wrote`, also the `produced` edges from the reached jobs to
        data nodes, and those nodes.

        Upwards, runs of derived-from edges (a data commit's own history) stop after
        `max_lineage` hops, so a model's drawing is not its repo's whole history. Downwards,
        an endpoint's `about` edges are not followed: feedback about other models arrives
        through those models."""
        rows = self._rows(_statement(direction, wrote), node_id, max_lineage or 0)
        nodes: dict[str, Node] = {}
        for tag, a, b, c, d in rows:
            if tag == "n" and a not in nodes:
                nodes[a] = Node(a, b, c, json.loads(d))
        graph = Graph(nodes.values())
        for tag, src, dst, kind, _ in rows:
            if tag == "e" and src in graph and dst in graph:
                graph.add_edge(Edge(src, dst, kind))
        return graph

    def _rows(self, sql: Any, start: str, max_lineage: int) -> list[Any]:
        with self._db.guard(), self._engine.connect() as conn:
            return list(conn.execute(sql, {"start": start, "max_lineage": max_lineage}).all())

    def outputs(self, node_ids: Sequence[str], kind: str) -> Graph:
        """The nodes `node_ids` point to with edges of `kind` (e.g. what jobs produced), with
        those edges and both ends."""
        t, n = schema.prov_edges, schema.prov_nodes
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return Graph()
        stmt = (
            select(t.c.src, t.c.dst, t.c.kind, n.c.id, n.c.kind, n.c.label, n.c.attrs)
            .join(n, n.c.id == t.c.dst)
            .where(t.c.src.in_(ids), t.c.kind == kind)
        )
        starts = select(n.c.id, n.c.kind, n.c.label, n.c.attrs).where(n.c.id.in_(ids))
        with self._db.guard(), self._engine.connect() as conn:
            origin = conn.execute(starts).all()
            rows = conn.execute(stmt).all()
        graph = Graph(_node(r) for r in origin)
        for src, dst, edge_kind, *node in rows:
            graph.add_node(_node(node))
            graph.add_edge(Edge(src, dst, edge_kind))
        return graph

    def find(self, kind: str, prefix: str, limit: int = 2) -> list[str]:
        t = schema.prov_nodes
        start = f"{kind}:{prefix}"
        stmt = select(t.c.id).where(t.c.id.startswith(start, autoescape=True))
        if prefix and is_hex(prefix):
            # a range the primary key's index answers (a commit id's prefix): LIKE 'x%' alone
            # reads the whole table unless the collation is "C" (PostgreSQL's default is the
            # system locale's) and LIKE is case-sensitive (SQLite's is not)
            stmt = stmt.where(t.c.id >= start, t.c.id < start + "g")
        stmt = stmt.order_by(t.c.id).limit(limit)
        with self._db.guard(), self._engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]


def _node(row: Any) -> Node:
    return Node(row[0], row[1], row[2], json.loads(row[3]))


@functools.cache
def _statement(direction: str, wrote: bool) -> Any:
    """The walk's statement (see SqlProvenanceStore._walk), built once per shape."""
    join, reach = _WALK[direction]
    if direction == "up":
        hops = "CASE WHEN e.kind = 'derived-from' THEN w.hops + 1 ELSE 0 END"
        keep = "(e.kind <> 'derived-from' OR w.hops < :max_lineage)"
    else:
        hops = "0"
        keep = "NOT (e.kind = 'about' AND e.src LIKE 'endpoint:%')"
    outputs, more = "", ""
    if wrote:
        outputs = """, wrote(src, dst, kind) AS (
                SELECT e.src, e.dst, e.kind
                FROM prov_edges e JOIN reached r ON e.src = r.id
                JOIN prov_nodes d ON d.id = e.dst
                WHERE e.kind = 'produced' AND e.src LIKE 'job:%' AND d.kind = 'data'
            )"""
        more = """
            UNION ALL
            SELECT 'n', n.id, n.kind, n.label, n.attrs
            FROM prov_nodes n WHERE n.id IN (SELECT dst FROM wrote)
            UNION ALL
            SELECT 'e', src, dst, kind, '' FROM wrote"""
    return text(
        f"""
        WITH RECURSIVE walk(id, hops) AS (
            SELECT CAST(:start AS VARCHAR), 0
            UNION
            SELECT e.{reach}, {hops}
            FROM prov_edges e JOIN walk w ON e.{join} = w.id
            WHERE {keep}
        ), reached(id) AS (SELECT DISTINCT id FROM walk){outputs}
        SELECT 'n', n.id, n.kind, n.label, n.attrs
        FROM prov_nodes n JOIN reached r ON n.id = r.id
        UNION ALL
        SELECT 'e', e.src, e.dst, e.kind, ''
        FROM prov_edges e JOIN reached r ON e.{join} = r.id{more}
        """
    )
