"""SqlEndpointStore: the EndpointStore port on SQLAlchemy Core (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, exc, insert, select, update

from kaon.core.endpoints import Endpoint
from kaon.core.errors import AlreadyExists
from kaon.core.jobs import WorkspaceName
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded


class SqlEndpointStore(SqlStore):
    @guarded
    def add_endpoint(self, endpoint: Endpoint) -> None:
        row = {
            "name": endpoint.name,
            "workspace": endpoint.workspace,
            "state": endpoint.state.value,
            "created": endpoint.created,
            "doc": json.dumps(endpoint.to_doc()),
        }
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.endpoints), row)
        except exc.IntegrityError:
            if self.get_endpoint(endpoint.name) is None:
                raise  # not the name: the workspace (a foreign key)
            raise AlreadyExists(f"endpoint {endpoint.name!r} already exists") from None

    @guarded
    def save_endpoint(self, endpoint: Endpoint) -> None:
        t = schema.endpoints
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == endpoint.name)
                .values(state=endpoint.state.value, doc=json.dumps(endpoint.to_doc()))
            )

    @guarded
    def get_endpoint(self, name: str) -> Endpoint | None:
        t = schema.endpoints
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _endpoint(row)

    @guarded
    def list_endpoints(self, workspace: WorkspaceName | None = None) -> list[Endpoint]:
        t = schema.endpoints
        stmt = select(t).order_by(t.c.created.desc(), t.c.name)
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        with self._engine.connect() as conn:
            return [_endpoint(r) for r in conn.execute(stmt)]

    @guarded
    def save_signature(self, name: str, signature: dict[str, Any], declared: bool) -> bool:
        t = schema.endpoint_signatures
        row = {"name": name, "declared": int(declared), "doc": json.dumps(signature)}
        try:
            with self._writer.begin() as conn:
                if conn.execute(self._insert_ignore(t), row).rowcount:
                    return True
                if not declared:  # learned: the first one stored stays
                    return False
                conn.execute(update(t).where(t.c.name == name).values(declared=1, doc=row["doc"]))
                return True
        except exc.IntegrityError:  # no such endpoint version
            return False

    @guarded
    def get_signature(self, name: str) -> dict[str, Any] | None:
        t = schema.endpoint_signatures
        with self._engine.connect() as conn:
            doc = conn.execute(select(t.c.doc).where(t.c.name == name)).scalar()
        return None if doc is None else dict(json.loads(doc))


def _endpoint(row: Row[Any]) -> Endpoint:
    m = row._mapping
    return Endpoint.from_doc(
        m["name"], m["workspace"], m["state"], float(m["created"]), json.loads(m["doc"])
    )
