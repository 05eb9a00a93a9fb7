"""SqlUploadStore: the UploadStore port on SQLAlchemy Core. A part is added in one transaction
that first locks its open upload's row (an UPDATE of nothing, where `completed` is null), so a
completion or an abort racing it waits, and a part never outlives its upload."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from kaon.core.s3.uploads import Part, Upload
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, guarded
from kaon.ports.s3uploads import StoredPart, UploadRecord

_U = schema.s3_uploads
_P = schema.s3_upload_parts


class SqlUploadStore(SqlStore):
    @guarded
    def create(self, upload: Upload) -> None:
        row = {
            "id": upload.id,
            "bucket": upload.bucket,
            "key": upload.key,
            "created": upload.created,
            "owner": upload.owner,
            "transaction": upload.transaction,
            "meta": json.dumps(upload.meta),
            "completed": None,
            "answer": None,
        }
        with self._writer.begin() as conn:
            conn.execute(insert(_U), row)

    @guarded
    def get(self, upload_id: str) -> UploadRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_U).where(_U.c.id == upload_id)).first()
        return None if row is None else _record(row)

    @guarded
    def add_part(self, upload_id: str, part: Part, key: str) -> str | None:
        with self._writer.begin() as conn:
            if not self._lock_open(conn, upload_id):
                return None
            where = (_P.c.upload == upload_id, _P.c.number == part.number)
            old = conn.execute(select(_P.c.object).where(*where)).scalar()
            conn.execute(delete(_P).where(*where))
            conn.execute(
                insert(_P),
                {
                    "upload": upload_id,
                    "number": part.number,
                    "etag": part.etag,
                    "size": part.size,
                    "modified": part.modified,
                    "checksums": json.dumps(part.checksums),
                    "object": key,
                },
            )
        return str(old or "")

    @staticmethod
    def _lock_open(conn: Any, upload_id: str) -> bool:
        """Lock the row of the open upload `upload_id` until the transaction ends; whether
        there is one."""
        locked = conn.execute(
            update(_U)
            .where(_U.c.id == upload_id, _U.c.completed.is_(None))
            .values(created=_U.c.created)
        )
        return bool(locked.rowcount)

    @guarded
    def parts(self, upload_id: str) -> list[StoredPart]:
        stmt = select(_P).where(_P.c.upload == upload_id).order_by(_P.c.number)
        with self._engine.connect() as conn:
            return [
                StoredPart(
                    Part(r.number, r.etag, int(r.size), r.modified, json.loads(r.checksums)),
                    r.object,
                )
                for r in conn.execute(stmt)
            ]

    @guarded
    def finish(self, upload_id: str, answer: dict[str, str], now: float) -> list[str] | None:
        with self._writer.begin() as conn:
            done = conn.execute(
                update(_U)
                .where(_U.c.id == upload_id, _U.c.completed.is_(None))
                .values(completed=now, answer=json.dumps(answer))
            )
            if not done.rowcount:
                return None
            return self._drop_parts(conn, upload_id)

    @guarded
    def remove(self, upload_id: str) -> list[str]:
        with self._writer.begin() as conn:
            conn.execute(delete(_U).where(_U.c.id == upload_id))
            return self._drop_parts(conn, upload_id)

    @staticmethod
    def _drop_parts(conn: Any, upload_id: str) -> list[str]:
        keys = conn.execute(select(_P.c.object).where(_P.c.upload == upload_id)).scalars().all()
        conn.execute(delete(_P).where(_P.c.upload == upload_id))
        return [str(k) for k in keys]

    @guarded
    def uploads(self, bucket: str | None = None) -> list[UploadRecord]:
        stmt = select(_U) if bucket is None else select(_U).where(_U.c.bucket == bucket)
        with self._engine.connect() as conn:
            return [_record(r) for r in conn.execute(stmt.order_by(_U.c.created, _U.c.id))]


def _record(row: Any) -> UploadRecord:
    upload = Upload(
        row.id, row.bucket, row.key, row.created, row.owner, row.transaction, json.loads(row.meta)
    )
    answer = json.loads(row.answer) if row.answer is not None else None
    return UploadRecord(upload, row.completed, answer)
