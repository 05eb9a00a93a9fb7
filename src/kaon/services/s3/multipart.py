"""S3 multipart uploads: parts as files under $KAON_HOME/s3/uploads/<id>/, nothing visible
until the upload is completed (then one commit). Abort removes everything; completion removes
the parts and keeps the answer (completed.json) for a retried completion, until `kaon gc`.

An upload left unfinished expires `expiry` seconds after it started (7 days by default, like
the usual lifecycle rule AbortIncompleteMultipartUpload): it is gone for clients at once, and
`kaon gc` removes its parts, and those of uploads whose bucket (repo or branch) was deleted.

A part is written to a temporary name and renamed when all its bytes arrived and checked, so
an interrupted part upload leaves no part; uploads survive a server restart (clients resume).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from kaon.core.errors import InvalidInput, InvalidPart, UploadNotFound

MIN_PART = 5 * 1024 * 1024  # every part but the last, as S3
MAX_PARTS = 10_000
_ID_CHARS = frozenset("0123456789abcdef")
_DONE = "completed.json"  # a completed upload's answer, for a retried completion


@dataclass(frozen=True)
class Upload:
    id: str
    bucket: str
    key: str
    created: float
    owner: str  # the access key that started it ("" anonymous)
    transaction: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # kept with the completed object


@dataclass(frozen=True)
class Part:
    number: int
    etag: str  # MD5 of the part, hex (what S3 answers)
    size: int
    modified: float
    checksums: dict[str, str] = field(default_factory=dict)  # x-amz-checksum-* sent with it


class _Concat(io.RawIOBase):
    """The parts read one after the other as one stream."""

    def __init__(self, files: list[Path]) -> None:
        self._files = list(files)
        self._current: io.BufferedReader | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self._current is None:
                if not self._files:
                    return 0
                self._current = open(self._files.pop(0), "rb")  # noqa: SIM115
            n = self._current.readinto(buffer)
            if n:
                return n
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


class MultipartUploads:
    def __init__(
        self,
        root: Path,
        clock: Callable[[], float],
        expiry: float = 7 * 86400.0,
        bucket_exists: Callable[[str], bool] = lambda bucket: True,
    ) -> None:
        self._root = root
        self._clock = clock
        self._expiry = expiry
        self._bucket_exists = bucket_exists
        root.mkdir(parents=True, exist_ok=True)

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
        folder = self._root / upload.id
        folder.mkdir()
        (folder / "upload.json").write_text(json.dumps(asdict(upload)))
        return upload

    def get(self, upload_id: str, bucket: str = "", key: str = "") -> Upload:
        upload = self._get(upload_id, bucket, key)
        if (self._root / upload.id / _DONE).exists():
            raise UploadNotFound(f"multipart upload {upload_id!r} was completed")
        return upload

    def completed(self, upload_id: str, bucket: str, key: str) -> dict[str, str] | None:
        """What completing upload `upload_id` answered, if it was completed (a retried
        CompleteMultipartUpload answers the same, as S3)."""
        try:
            upload = self._get(upload_id, bucket, key)
            doc: dict[str, str] = json.loads((self._root / upload.id / _DONE).read_text())
        except (UploadNotFound, OSError, ValueError):
            return None
        return doc

    def finish(self, upload: Upload, answer: dict[str, str]) -> None:
        """Mark `upload` completed with `answer` and drop its parts (gc removes the rest)."""
        folder = self._root / upload.id
        (folder / f"{_DONE}.tmp").write_text(json.dumps(answer))
        (folder / f"{_DONE}.tmp").replace(folder / _DONE)
        for part in folder.glob("part-*"):
            part.unlink(missing_ok=True)

    def _get(self, upload_id: str, bucket: str = "", key: str = "") -> Upload:
        doc = None
        if len(upload_id) == 32 and set(upload_id) <= _ID_CHARS:
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads((self._root / upload_id / "upload.json").read_text())
        if doc is None or (bucket and doc["bucket"] != bucket) or (key and doc["key"] != key):
            raise UploadNotFound(
                f"no multipart upload {upload_id!r} for this key: it may have been completed "
                "or aborted"
            )
        upload = Upload(**doc)
        if self._expired(upload):
            raise UploadNotFound(
                f"multipart upload {upload_id!r} expired: unfinished uploads expire "
                f"{self._expiry / 86400:g} days after they start (KAON_S3_UPLOAD_EXPIRY_DAYS)"
            )
        return upload

    def _expired(self, upload: Upload) -> bool:
        return self._clock() - upload.created > self._expiry

    def part_file(self, upload: Upload, number: int) -> tuple[Path, Path]:
        """(temporary file to write the part to, its final name)."""
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part numbers go from 1 to {MAX_PARTS}, not {number}")
        folder = self._root / upload.id
        return folder / f".part-{number:05d}.{uuid.uuid4().hex}", folder / f"part-{number:05d}"

    def save_part(
        self, tmp: Path, final: Path, md5: str, checksums: dict[str, str] | None = None
    ) -> Part:
        if not final.parent.is_dir() or (final.parent / _DONE).exists():
            tmp.unlink(missing_ok=True)  # aborted or completed while the part was arriving
            raise UploadNotFound("the multipart upload was aborted or completed meanwhile")
        final.with_suffix(".md5").write_text(md5)
        final.with_suffix(".sum").write_text(json.dumps(checksums or {}))
        tmp.replace(final)
        return self._part(final)

    def _part(self, path: Path) -> Part:
        stat = path.stat()
        md5 = path.with_suffix(".md5").read_text().strip()
        sums: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            sums = json.loads(path.with_suffix(".sum").read_text())
        return Part(int(path.name.split("-")[1]), md5, stat.st_size, stat.st_mtime, sums)

    def parts(self, upload: Upload) -> list[Part]:
        folder = self._root / upload.id
        return [self._part(p) for p in sorted(folder.glob("part-?????")) if p.is_file()]

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
        have = {p.number: p for p in self.parts(upload)}
        files: list[Path] = []
        for i, (number, etag) in enumerate(listed):
            part = have.get(number)
            if part is None or etag.strip('"') != part.etag:
                raise InvalidPart(
                    f"part {number} was not uploaded, or its ETag does not match: "
                    "upload it again or list the parts"
                )
            if part.size < MIN_PART and i < len(listed) - 1:
                raise InvalidPart(
                    f"part {number} is {part.size} bytes: every part but the last must be "
                    "at least 5 MiB",
                    s3_code="EntityTooSmall",
                )
            files.append(self._root / upload.id / f"part-{number:05d}")
        return io.BufferedReader(_Concat(files), 1024 * 1024), len(files)

    def remove(self, upload: Upload) -> None:
        shutil.rmtree(self._root / upload.id, ignore_errors=True)

    def uploads(self, bucket: str) -> list[Upload]:
        out = [
            u
            for u in self._all()
            if u.bucket == bucket
            and not self._expired(u)
            and not (self._root / u.id / _DONE).exists()
        ]
        return sorted(out, key=lambda u: (u.key, u.created))

    def _all(self) -> list[Upload]:
        out: list[Upload] = []
        for meta in self._root.glob("*/upload.json"):
            with contextlib.suppress(OSError, ValueError, TypeError):
                out.append(Upload(**json.loads(meta.read_text())))
        return out

    def clean_temp(self, older_than_seconds: float) -> int:
        """For `kaon gc`: remove expired uploads, uploads whose bucket no longer exists (they
        can never complete) and completed ones older than `older_than_seconds` (a retried
        completion is answered until then); the bytes freed."""
        freed = 0
        for upload in self._all():
            done = self._root / upload.id / _DONE
            old = done.exists() and self._clock() - done.stat().st_mtime > older_than_seconds
            if old or self._expired(upload) or not self._bucket_exists(upload.bucket):
                folder = self._root / upload.id
                freed += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
                self.remove(upload)
        return freed
