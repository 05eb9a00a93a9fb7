"""SqlProvenanceStore: the provenance graph in two tables, walked with recursive CTEs
(SQLite and PostgreSQL both have WITH RECURSIVE), so one query answers an ancestry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text

from kaon.core.provenance import Edge, Graph, Node
from kaon.db import schema
from kaon.db.engine import DEFAULT_BUSY_TIMEOUT, WRITE_OPTION, backend_errors, make_engine
from kaon.db.migrate import upgrade_engine

_WALK = {  # (join column to follow, column reached)
    "up": ("dst", "src"),
    "down": ("src", "dst"),
}


class SqlProvenanceStore:
    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self._busy_timeout = busy_timeout
        self._engine = make_engine(url, busy_timeout=busy_timeout)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._dialect = self._engine.dialect.name
        try:
            with backend_errors(url, busy_timeout):
                upgrade_engine(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        self._engine.dispose()

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
        with backend_errors(self.url, self._busy_timeout), self._writer.begin() as conn:
            if node_rows:
                conn.execute(insert(schema.prov_nodes).on_conflict_do_nothing(), node_rows)
            if edge_rows:
                conn.execute(insert(schema.prov_edges).on_conflict_do_nothing(), edge_rows)

    def ancestry(self, node_id: str) -> Graph:
        return self._walk(node_id, "up")

    def subvenance(self, node_id: str) -> Graph:
        return self._walk(node_id, "down")

    def _walk(self, node_id: str, direction: str) -> Graph:
        join, reach = _WALK[direction]
        sql = text(
            f"""
            WITH RECURSIVE reached(id) AS (
                SELECT CAST(:start AS VARCHAR)
                UNION
                SELECT e.{reach} FROM prov_edges e JOIN reached r ON e.{join} = r.id
            )
            SELECT n.id, n.kind, n.label, n.attrs FROM prov_nodes n JOIN reached r ON n.id = r.id
            """
        )
        edges_sql = text(
            f"""
            WITH RECURSIVE reached(id) AS (
                SELECT CAST(:start AS VARCHAR)
                UNION
                SELECT e.{reach} FROM prov_edges e JOIN reached r ON e.{join} = r.id
            )
            SELECT e.src, e.dst, e.kind FROM prov_edges e JOIN reached r ON e.{join} = r.id
            """
        )
        with backend_errors(self.url, self._busy_timeout), self._engine.connect() as conn:
            nodes = conn.execute(sql, {"start": node_id}).all()
            edges = conn.execute(edges_sql, {"start": node_id}).all()
        graph = Graph(_node(r) for r in nodes)
        for src, dst, kind in edges:
            if src in graph and dst in graph:
                graph.add_edge(Edge(src, dst, kind))
        return graph

    def find(self, kind: str, prefix: str, limit: int = 2) -> list[str]:
        t = schema.prov_nodes
        stmt = (
            select(t.c.id)
            .where(t.c.id.startswith(f"{kind}:{prefix}", autoescape=True))
            .order_by(t.c.id)
            .limit(limit)
        )
        with backend_errors(self.url, self._busy_timeout), self._engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]


def _node(row: Any) -> Node:
    return Node(row[0], row[1], row[2], json.loads(row[3]))
