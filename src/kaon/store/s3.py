"""S3ObjectStore: every object under one bucket and key prefix of any S3-compatible store
(AWS S3, MinIO, Ceph RGW, moto...), through boto3 (the choice, measured against obstore and
s3fs: docs/architecture.md).

* A put is one PUT up to PART_SIZE, else a multipart upload streamed from the data: parts of
  PART_SIZE are sent as they fill, up to IN_FLIGHT of them at once per put (so memory stays
  bounded whatever the size), and an upload that fails is aborted: S3 makes an object visible
  only when its PUT or CompleteMultipartUpload succeeds, so readers see the whole object or
  the previous one, never a part. `put_file` reads its parts from the file the same way.
* Every request is retried with exponential backoff and jitter (botocore's standard retry
  mode); a missing bucket, refused credentials or an unreachable endpoint is
  BackendUnavailable saying what to do, checked once when the store is built (`from_url`).
* `sync()` does nothing: S3 acknowledges a PUT or a completed multipart upload only once the
  object is durably stored, so every put is durable when it returns. `local_file` is None.
* Nothing relies on listing after writing: `has` is a HEAD, reads are GETs by key.

The boto3 client is thread-safe and the store keeps no other mutable state: one instance is
shared by all threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput, KaonError, NotFound
from kaon.ports.objectstore import STREAM_PIECE, ObjectInfo
from kaon.store import validate_key, validate_prefix
from kaon.store.s3client import (
    NOT_FOUND_CODES,
    S3Location,
    client_errors,
    error_code,
    make_client,
    parse_url,
    translate,
)

MIB = 1 << 20
PART_SIZE = 16 * MIB  # 10,000 parts (S3's limit) x 16 MiB = 160 GiB per object
IN_FLIGHT = 6  # parts of one put being sent at once
_SENDERS = ThreadPoolExecutor(16, thread_name_prefix="kaon-s3")  # parts of every put
STREAM_RESUMES = 3  # a streamed read cut short is asked again from where it stopped
STALE_UPLOAD_SECONDS = 6 * 3600.0  # a multipart upload this old was left by a dead server


class S3ObjectStore:
    """Thread-safe ObjectStore on an S3 bucket (kaon.ports.objectstore)."""

    def __init__(
        self,
        location: S3Location,
        client: Any = None,
        *,
        part_size: int = PART_SIZE,
        in_flight: int = IN_FLIGHT,
        stale_upload_seconds: float = STALE_UPLOAD_SECONDS,
    ) -> None:
        if part_size < 5 * MIB:
            raise InvalidInput(f"S3 part size {part_size} is below S3's minimum of 5 MiB")
        self.location = location
        self._client = client if client is not None else make_client(location)
        self._part_size = part_size
        self._in_flight = in_flight
        self._stale = stale_upload_seconds
        self._errors = client_errors()
        self._probe: Any = None  # a client that does not retry, for check() and health()

    @classmethod
    def from_url(cls, url: str) -> S3ObjectStore:
        """The store at `url` (`s3://bucket/prefix?endpoint=...`), checked: its bucket
        answers with these credentials, else BackendUnavailable saying what to do."""
        store = cls(parse_url(url))
        store.check()
        return store

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.location.redacted})"

    # -- health --------------------------------------------------------------------------

    def check(self) -> str:
        """HEAD the bucket once (no retry); the server's name (its Server header, else 'S3').
        BackendUnavailable when the bucket is missing, the credentials are refused or the
        endpoint does not answer."""
        if self._probe is None:
            self._probe = make_client(self.location, attempts=1, connect_timeout=5.0)
        try:
            answer = self._probe.head_bucket(Bucket=self.location.bucket)
        except self._errors as exc:
            raise translate(exc, self.location, action="open the store") from None
        headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return str(headers.get("server") or "S3")

    def health(self) -> BackendHealth:
        """The store as `kaon status` shows it; never raises."""
        url = self.location.redacted
        try:
            version = self.check()
        except KaonError as exc:
            return BackendHealth(BackendRole.STORE, url, False, "S3", exc.message)
        except Exception as exc:  # noqa: BLE001 - health never raises
            return BackendHealth(BackendRole.STORE, url, False, "S3", f"{type(exc).__name__}")
        return BackendHealth(BackendRole.STORE, url, True, version, self.location.where)

    # -- keys ----------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _call(self, action: str, key: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.location.bucket, **kwargs)
        except self._errors as exc:
            raise translate(exc, self.location, action=action, key=key) from None

    # -- writes --------------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview | Iterable[bytes | memoryview]) -> None:
        full = self._key(key)
        if isinstance(data, str):
            raise TypeError("ObjectStore.put takes bytes, memoryview or an iterable of bytes")
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data).cast("B")
            if len(view) <= self._part_size:
                self._put_one(key, full, view)
            else:
                step = self._part_size
                self._multipart(key, full, (view[i : i + step] for i in range(0, len(view), step)))
            return
        self._put_stream(key, full, data)

    def put_file(self, key: str, path: str) -> None:
        full = self._key(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, after the parts are read
        except FileNotFoundError:
            raise NotFound(f"cannot store object {key!r}: no file at {path}", key=key) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if size <= self._part_size:
                self._put_one(key, full, f.read())
            else:
                fd, step = f.fileno(), self._part_size
                parts = (functools.partial(os.pread, fd, step, at) for at in range(0, size, step))
                self._multipart(key, full, parts, lazy=True)
        Path(path).unlink()

    def _put_one(self, key: str, full: str, body: bytes | memoryview) -> None:
        data = body if isinstance(body, bytes) else body.tobytes()
        self._call("store", key, self._client.put_object, Key=full, Body=data)

    def _put_stream(self, key: str, full: str, data: Iterable[bytes | memoryview]) -> None:
        """One PUT when the stream ends within a part, else a multipart upload."""
        it = iter(data)
        first = bytearray()
        for piece in it:
            first += piece
            if len(first) > self._part_size:
                break
        else:
            self._put_one(key, full, bytes(first))
            return
        self._multipart(key, full, self._parts(first, it))

    def _parts(
        self, first: bytearray, rest: Iterator[bytes | memoryview]
    ) -> Iterator[bytes | bytearray]:
        """`first` then `rest` cut into parts of exactly part_size bytes (the last shorter),
        each piece copied once, into the part it falls in."""
        step = self._part_size
        view = memoryview(first)
        while len(view) >= step:
            yield view[:step].tobytes()
            view = view[step:]
        part = bytearray(view)
        view.release()
        for given in rest:
            piece = memoryview(given).cast("B")
            while len(part) + len(piece) >= step:
                take = step - len(part)
                part += piece[:take]
                yield part
                part, piece = bytearray(), piece[take:]
            part += piece
        if part:
            yield part

    def _multipart(self, key: str, full: str, parts: Iterable[Any], *, lazy: bool = False) -> None:
        """Upload `parts` (bytes, or with `lazy` functions returning them, read in the
        sending thread) as one multipart upload; aborted on any failure."""
        bucket, client = self.location.bucket, self._client
        upload = self._call("store", key, client.create_multipart_upload, Key=full)["UploadId"]
        slots = threading.Semaphore(self._in_flight)
        sent: list[Future[dict[str, Any]]] = []

        def send(number: int, part: Any) -> dict[str, Any]:
            try:
                body = part() if lazy else part
                if isinstance(body, memoryview):
                    body = body.tobytes()  # botocore sends bytes or files only
                answer = client.upload_part(
                    Bucket=bucket, Key=full, UploadId=upload, PartNumber=number, Body=body
                )
                return {"PartNumber": number, "ETag": answer["ETag"]}
            finally:
                slots.release()

        try:
            for number, part in enumerate(parts, start=1):
                slots.acquire()
                if any(f.done() and f.exception() for f in sent):
                    slots.release()
                    break  # a part failed: stop reading the stream, raise below
                sent.append(_SENDERS.submit(send, number, part))
            done = [f.result() for f in sent]
            self._call(
                "store",
                key,
                client.complete_multipart_upload,
                Key=full,
                UploadId=upload,
                MultipartUpload={"Parts": done},
            )
        except BaseException as exc:
            for f in sent:
                f.cancel()
            for f in sent:
                if not f.cancelled():
                    f.exception()  # wait: no part may land after the abort
            with contextlib.suppress(*self._errors):  # the original failure is what matters
                client.abort_multipart_upload(Bucket=bucket, Key=full, UploadId=upload)
            if isinstance(exc, self._errors):
                raise translate(exc, self.location, action="store", key=key) from None
            raise

    def clean_temp(self, older_than_seconds: float) -> int:
        """Abort the multipart uploads a killed server left (run by gc); the bytes their parts
        held. Only uploads started and last sent a part at least `stale_upload_seconds` (6 h)
        ago, whatever
        `older_than_seconds` says: another server may still be streaming a big object (a
        bucket lifecycle rule AbortIncompleteMultipartUpload does the same on AWS)."""
        cutoff = time.time() - max(older_than_seconds, self._stale)
        root = f"{self.location.prefix}/" if self.location.prefix else ""
        bucket, client, freed = self.location.bucket, self._client, 0
        try:
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=bucket, Prefix=root
            )
            for page in pages:
                for up in page.get("Uploads", []):
                    if up["Initiated"].timestamp() > cutoff:
                        continue
                    args = {"Bucket": bucket, "Key": up["Key"], "UploadId": up["UploadId"]}
                    parts = client.list_parts(**args).get("Parts", [])
                    if any(p["LastModified"].timestamp() > cutoff for p in parts):
                        continue  # still receiving parts
                    client.abort_multipart_upload(**args)
                    freed += sum(int(p["Size"]) for p in parts)
        except self._errors as exc:
            raise translate(exc, self.location, action="clean up uploads") from None
        return freed

    def delete(self, key: str) -> None:
        self._call("delete", key, self._client.delete_object, Key=self._key(key))

    def sync(self) -> None:
        """Nothing to do: S3 acknowledges a put only once the object is durable."""

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        answer = self._call("read", key, self._client.get_object, Key=self._key(key))
        return bytes(self._read_body(key, answer))

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer if the object ends first; b'' past its end)."""
        if offset < 0 or length < 0:
            raise InvalidInput(
                f"invalid range for object {key!r}: offset {offset} and length {length} "
                "must not be negative"
            )
        full = self._key(key)
        if length == 0:
            if not self.has(key):
                raise NotFound(f"object {key!r} not found in the object store", key=key)
            return b""
        try:
            answer = self._client.get_object(
                Bucket=self.location.bucket, Key=full, Range=f"bytes={offset}-{offset + length - 1}"
            )
        except self._errors as exc:
            if error_code(exc) in ("InvalidRange", "416"):
                return b""  # at or past the end (an empty object has no satisfiable range)
            raise translate(exc, self.location, action="read", key=key) from None
        return bytes(self._read_body(key, answer))

    def get_stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        """One GET of the range, its body read STREAM_PIECE at a time as consumed. A body cut
        short (a connection reset midway) is resumed from where it stopped, up to
        STREAM_RESUMES times: botocore retries a request, not a body being read."""
        if offset < 0 or length < 0:
            raise InvalidInput(
                f"invalid range for object {key!r}: offset {offset} and length {length} "
                "must not be negative"
            )
        return self._stream(key, offset, length)

    def _stream(self, key: str, offset: int, length: int) -> Generator[bytes, None, None]:
        if length == 0:
            if not self.has(key):
                raise NotFound(f"object {key!r} not found in the object store", key=key)
            return
        full, end, resumes = self._key(key), offset + length, 0
        while offset < end:
            try:
                answer = self._client.get_object(
                    Bucket=self.location.bucket, Key=full, Range=f"bytes={offset}-{end - 1}"
                )
            except self._errors as exc:
                if error_code(exc) in ("InvalidRange", "416"):
                    return  # at or past the end
                raise translate(exc, self.location, action="read", key=key) from None
            body = answer["Body"]
            try:
                while piece := body.read(min(STREAM_PIECE, end - offset)):
                    offset += len(piece)
                    yield piece
                return  # the object ends here (or the range is read)
            except self._errors as exc:
                resumes += 1
                if resumes > STREAM_RESUMES:
                    raise translate(exc, self.location, action="read", key=key) from None
            finally:
                body.close()

    def _read_body(self, key: str, answer: dict[str, Any]) -> bytes:
        try:
            return bytes(answer["Body"].read())
        except self._errors as exc:
            raise translate(exc, self.location, action="read", key=key) from None

    def has(self, key: str) -> bool:
        full = self._key(key)
        try:
            self._client.head_object(Bucket=self.location.bucket, Key=full)
        except self._errors as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return False
            raise translate(exc, self.location, action="look up", key=key) from None
        return True

    def local_file(self, key: str) -> str | None:
        return None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        root = f"{self.location.prefix}/" if self.location.prefix else ""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=root + prefix
        )
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"][len(root) :], int(obj["Size"]))
        except self._errors as exc:
            raise translate(exc, self.location, action="list") from None
