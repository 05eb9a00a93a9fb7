"""S3 multipart uploads: each part an object of the object store (`uploads/<id>/<n>-<uuid>`),
the upload and its parts rows of the database (kaon.ports.s3uploads), so that any server takes
a part of, lists, completes or aborts an upload another server started (issue 17). Nothing is
visible until the upload is completed (then one commit). Abort removes everything; completion
removes the parts and keeps the answer for a retried completion, until `kaon gc`.

An upload left unfinished expires `expiry` seconds after it started (7 days by default, like
the usual lifecycle rule AbortIncompleteMultipartUpload): it is gone for clients at once, and
`kaon gc` removes its parts, and those of uploads whose bucket (repo or branch) was deleted.

A part arrives in a scratch file of the server that receives it; once all its bytes arrived
and were checked it is stored (a rename into a local store on the same filesystem) and only
then recorded: an interrupted part upload leaves no part, and a part whose upload was aborted
or completed meanwhile is removed again. Uploads survive a server restart (clients resume).
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from kaon.core.errors import InvalidInput, InvalidPart, NotFound, UploadNotFound
from kaon.core.s3.uploads import Part, Upload
from kaon.ports.objectstore import ObjectStore
from kaon.ports.s3uploads import StoredPart, UploadRecord, UploadStore
from kaon.services.scratch import ScratchFolder

__all__ = ["MAX_PARTS", "MIN_PART", "MultipartUploads", "Part", "Upload"]

MIN_PART = 5 * 1024 * 1024  # every part but the last, as S3
MAX_PARTS = 10_000
PREFIX = "uploads/"  # the parts' keys in the object store
_ID_CHARS = frozenset("0123456789abcdef")
_READ = 8 * 1024 * 1024  # bytes read from the store at a time while assembling


class _Concat(io.RawIOBase):
    """The parts' objects read one after the other as one stream (a local store's files
    directly; any other store by ranges)."""

    def __init__(self, objects: ObjectStore, parts: list[StoredPart]) -> None:
        self._objects = objects
        self._parts = list(parts)
        self._file: io.BufferedReader | None = None
        self._key = ""
        self._offset = self._size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self._file is not None:
                n = self._file.readinto(buffer)
                if n:
                    return n
                self._file.close()
                self._file = None
            elif self._offset < self._size:
                length = min(len(buffer), _READ, self._size - self._offset)
                data = self._objects.get_range(self._key, self._offset, length)
                if not data:
                    raise InvalidPart(f"the part object {self._key} is shorter than recorded")
                buffer[: len(data)] = data
                self._offset += len(data)
                return len(data)
            elif not self._parts:
                return 0
            else:
                self._next()

    def _next(self) -> None:
        stored = self._parts.pop(0)
        path = self._objects.local_file(stored.key)
        try:
            self._file = open(path, "rb") if path else None  # noqa: SIM115
        except FileNotFoundError:
            raise InvalidPart(f"part {stored.part.number} is gone (aborted meanwhile?)") from None
        self._key, self._offset = stored.key, 0
        self._size = 0 if self._file else stored.part.size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


class MultipartUploads:
    def __init__(
        self,
        store: UploadStore,
        objects: ObjectStore,
        scratch: ScratchFolder,
        clock: Callable[[], float],
        expiry: float = 7 * 86400.0,
        bucket_exists: Callable[[str], bool] = lambda bucket: True,
    ) -> None:
        self._store = store
        self._objects = objects
        self._scratch = scratch
        self._clock = clock
        self._expiry = expiry
        self._bucket_exists = bucket_exists

    def create(
        self,
        bucket: str,
        key: str,
        owner: str,
        transaction: str = "",
        meta: dict[str, str] | None = None,
    ) -> Upload:
        upload = Upload(
            uuid.uuid4().hex, bucket, key, self._clock(), owner, transaction, meta or {}
        )
        self._store.create(upload)
        return upload

    def get(self, upload_id: str, bucket: str = "", key: str = "") -> Upload:
        record = self._get(upload_id, bucket, key)
        if record.completed is not None:
            raise UploadNotFound(f"multipart upload {upload_id!r} was completed")
        return record.upload

    def completed(self, upload_id: str, bucket: str, key: str) -> dict[str, str] | None:
        """What completing upload `upload_id` answered, if it was completed (a retried
        CompleteMultipartUpload answers the same, as S3)."""
        try:
            record = self._get(upload_id, bucket, key)
        except UploadNotFound:
            return None
        return None if record.answer is None else dict(record.answer)

    def finish(self, upload: Upload, answer: dict[str, str]) -> None:
        """Mark `upload` completed with `answer` and drop its parts (gc removes the rest)."""
        self._delete(self._store.finish(upload.id, answer, self._clock()) or [])

    def _get(self, upload_id: str, bucket: str = "", key: str = "") -> UploadRecord:
        record = None
        if len(upload_id) == 32 and set(upload_id) <= _ID_CHARS:
            record = self._store.get(upload_id)
        if (
            record is None
            or (bucket and record.upload.bucket != bucket)
            or (key and record.upload.key != key)
        ):
            raise UploadNotFound(
                f"no multipart upload {upload_id!r} for this key: it may have been completed "
                "or aborted"
            )
        if record.completed is None and self._expired(record.upload):
            raise UploadNotFound(
                f"multipart upload {upload_id!r} expired: unfinished uploads expire "
                f"{self._expiry / 86400:g} days after they start (KAON_S3_UPLOAD_EXPIRY_DAYS)"
            )
        return record

    def _expired(self, upload: Upload) -> bool:
        return self._clock() - upload.created > self._expiry

    def part_file(self, upload: Upload, number: int) -> Path:
        """A scratch file (of this server) to receive part `number` into, then to hand to
        `save_part`."""
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part numbers go from 1 to {MAX_PARTS}, not {number}")
        path = self._scratch.new_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_part(
        self,
        upload: Upload,
        number: int,
        tmp: Path,
        md5: str,
        checksums: dict[str, str] | None = None,
    ) -> Part:
        """Store the part received in `tmp` (consumed) and record it."""
        size = tmp.stat().st_size
        key = f"{PREFIX}{upload.id}/{number:05d}-{uuid.uuid4().hex}"
        part = Part(number, md5, size, self._clock(), checksums or {})
        self._objects.put_file(key, str(tmp))  # no sync: the completion's commit syncs the
        # packs it makes of the parts; a part lost to a crash fails the completion
        try:
            replaced = self._store.add_part(upload.id, part, key)
        except BaseException:
            self._objects.delete(key)
            raise
        if replaced is None:  # aborted or completed while the part was arriving
            self._objects.delete(key)
            raise UploadNotFound("the multipart upload was aborted or completed meanwhile")
        if replaced:
            self._objects.delete(replaced)
        return part

    def parts(self, upload: Upload) -> list[Part]:
        return [p.part for p in self._store.parts(upload.id)]

    def assemble(self, upload: Upload, listed: list[tuple[int, str]]) -> tuple[BinaryIO, int]:
        """The completed object's bytes as one stream, checking the client's part list (in
        ascending order, each part known with this ETag, all but the last >= 5 MiB)."""
        if not listed:
            raise InvalidPart("complete a multipart upload with at least one part")
        numbers = [n for n, _ in listed]
        if numbers != sorted(set(numbers)):
            raise InvalidPart(
                "the list of parts was not in ascending order", s3_code="InvalidPartOrder"
            )
        have = {p.part.number: p for p in self._store.parts(upload.id)}
        chosen: list[StoredPart] = []
        for i, (number, etag) in enumerate(listed):
            stored = have.get(number)
            if stored is None or etag.strip('"') != stored.part.etag:
                raise InvalidPart(
                    f"part {number} was not uploaded, or its ETag does not match: "
                    "upload it again or list the parts"
                )
            if stored.part.size < MIN_PART and i < len(listed) - 1:
                raise InvalidPart(
                    f"part {number} is {stored.part.size} bytes: every part but the last must "
                    "be at least 5 MiB",
                    s3_code="EntityTooSmall",
                )
            chosen.append(stored)
        return io.BufferedReader(_Concat(self._objects, chosen), 1024 * 1024), len(chosen)

    def remove(self, upload: Upload) -> None:
        self._delete(self._store.remove(upload.id))

    def uploads(self, bucket: str) -> list[Upload]:
        out = [
            r.upload
            for r in self._store.uploads(bucket)
            if r.completed is None and not self._expired(r.upload)
        ]
        return sorted(out, key=lambda u: (u.key, u.created))

    def clean_temp(self, older_than_seconds: float) -> int:
        """For `kaon gc`: remove expired uploads, uploads whose bucket no longer exists (they
        can never complete) and completed ones older than `older_than_seconds` (a retried
        completion is answered until then), and part objects no upload holds (left by a
        server that died while storing them); the bytes freed."""
        freed = 0
        now = self._clock()
        known: set[str] = set()
        for record in self._store.uploads():
            upload = record.upload
            old = record.completed is not None and now - record.completed > older_than_seconds
            gone = record.completed is None and (
                self._expired(upload) or not self._bucket_exists(upload.bucket)
            )
            if old or gone:
                freed += sum(p.part.size for p in self._store.parts(upload.id))
                self.remove(upload)
            else:
                known.add(upload.id)
        orphans: dict[str, list[tuple[str, int]]] = {}
        for info in list(self._objects.list(PREFIX)):
            upload_id = info.key[len(PREFIX) :].split("/", 1)[0]
            if upload_id not in known:
                orphans.setdefault(upload_id, []).append((info.key, info.size))
        for upload_id, objects in orphans.items():
            if self._store.get(upload_id) is None:  # asked after listing: an upload made
                # since has a row before any of its parts is stored
                for key, size in objects:
                    freed += size
                    self._delete([key])
        return freed

    def _delete(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(NotFound):
                self._objects.delete(key)
