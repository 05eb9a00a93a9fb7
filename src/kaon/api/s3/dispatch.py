"""S3App: authenticates every request (SigV4, or anonymous in the explicit open mode), checks
that the key's user may do it (kaon.services.s3.access: GET/HEAD read, DELETE of a bucket
manages, anything else writes), routes it by method, bucket, key and sub-resource, and
answers kaon errors as S3 errors."""

from __future__ import annotations

import base64
import functools
import logging
import re
import time
import uuid
from dataclasses import dataclass

from kaon.api.s3 import audit, headerpolicy, subresources, xml
from kaon.api.s3.errors import s3_code
from kaon.api.s3.http import (
    ClientGone,
    Message,
    Receive,
    Request,
    Scope,
    Send,
    drain,
    in_thread,
    read_small,
    respond,
)
from kaon.core.credentials import S3Credential
from kaon.core.errors import (
    AlreadyExists,
    InvalidInput,
    KaonError,
    PermissionDenied,
    Unsupported,
)
from kaon.core.s3 import sigv4
from kaon.core.s3.buckets import Bucket, parse_bucket
from kaon.core.users import Action
from kaon.services.scratch import ScratchFolder
from kaon.wiring import Platform

log = logging.getLogger("kaon.s3")

DRAIN_LIMIT = 256 * 1024  # an unread body up to this is read and dropped after an error,
# so the client can reuse the connection; a bigger one gets `Connection: close` instead
_TX = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")


@dataclass
class Ctx:
    """One request being answered."""

    platform: Platform
    req: Request
    who: S3Credential | None
    signing: sigv4.Verified | None
    receive: Receive
    send: Send
    request_id: str
    scratch: ScratchFolder

    @property
    def bucket(self) -> Bucket:
        return parse_bucket(self.req.bucket)

    @property
    def transaction(self) -> str:
        h = self.req.headers
        tx = h.get("x-kaon-transaction") or h.get("x-amz-meta-kaon-transaction", "")
        if tx and not _TX.match(tx):
            raise InvalidInput(f"invalid transaction id {tx!r}: 1-64 letters, digits, '_', '-'")
        return tx

    @property
    def head(self) -> bool:
        return self.req.method == "HEAD"

    def base_headers(self) -> list[tuple[str, str]]:
        return [("x-amz-request-id", self.request_id)]


class S3App:
    def __init__(self, platform: Platform, anonymous: bool = False) -> None:
        self._platform = platform
        self._anonymous = anonymous
        self._scratch = platform.s3_scratch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request_id = uuid.uuid4().hex[:16].upper()
        req = Request.from_scope(scope)
        started = False
        body_read = not _has_body(req)
        audited = req.method not in audit.WRITES  # recorded once answered (kaon.api.s3.audit)
        who: S3Credential | None = None
        status = 0
        commit = ""

        def record() -> None:
            nonlocal audited
            if not audited:
                audited = True
                client = scope.get("client") or ("",)
                audit.record(self._platform, req, who, status, commit, client[0])

        async def receiving() -> Message:
            nonlocal body_read
            message = await receive()
            body_read = body_read or not message.get("more_body", False)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started, status, commit
            started = True
            if message["type"] == "http.response.start":
                status = int(message["status"])
                commit = dict(message.get("headers") or []).get(b"x-kaon-commit", b"").decode()
            if message["type"] == "http.response.start" and not body_read:
                # answered before the body arrived (an early error, maybe a client waiting
                # on Expect: 100-continue): the unread body must not be taken for the next
                # request on this connection, so it is the last one
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            if message["type"] == "http.response.body" and not message.get("more_body"):
                record()  # queued before the client has its answer
            await send(message)

        try:
            who, signing = self._authenticate(req)
            ctx = Ctx(
                self._platform, req, who, signing, receiving, tracked, request_id, self._scratch
            )
            await route(ctx)
        except ClientGone:
            return
        except Exception as exc:
            if started:  # the body was streaming: the connection is all we can break
                log.exception("S3 %s %s failed while streaming", req.method, req.resource)
                raise
            if not isinstance(exc, KaonError):
                log.exception("S3 %s %s: internal error", req.method, req.resource)
                exc = KaonError(f"internal error ({type(exc).__name__}): see the server log")
            code, status = s3_code(exc)
            if not body_read and _has_body(req, DRAIN_LIMIT):  # keeps the connection usable
                await drain(receiving)
            extra = {  # the header a 412 or a 501 is about, as AWS names it
                tag: value
                for tag, value in (
                    ("Condition", exc.details.get("condition")),
                    ("Header", exc.details.get("header")),
                )
                if isinstance(value, str)
            }
            body = xml.error(code, exc.message, req.resource, request_id, **extra)
            head = req.method == "HEAD"
            headers = [("x-amz-request-id", request_id)]
            await respond(tracked, status, body, headers, head=head)
        finally:
            record()  # no complete answer (the client went away): with the status seen, if any

    def _authenticate(self, req: Request) -> tuple[S3Credential | None, sigv4.Verified | None]:
        keys = self._platform.credentials
        if sigv4.is_signed(req.headers, req.query):
            signing = sigv4.verify(
                req.method, req.raw_path, req.raw_query, req.headers, keys.secret_of, time.time()
            )
            return keys.get(signing.access_key), signing
        if self._anonymous:
            return None, None
        raise PermissionDenied(
            "anonymous access is refused: sign requests with a key from "
            "`kaon auth s3-credentials` (or start the platform with KAON_S3_ANONYMOUS=1)"
        )


def _has_body(req: Request, at_most: int | None = None) -> bool:
    """Whether `req` declares a body (with `at_most`: one of at most that many bytes)."""
    h = req.headers
    try:
        n = int(h.get("content-length", "0").strip() or "0")
    except ValueError:
        return False
    if at_most is not None:
        return 0 < n <= at_most and "transfer-encoding" not in h
    return "transfer-encoding" in h or n > 0


async def route(ctx: Ctx) -> None:
    from kaon.api.s3 import multipart, objects

    req = ctx.req
    subresources.check(req)  # 501 for what is not routed: nothing runs, nothing is created
    headerpolicy.refuse_promises(req)  # 501 for headers promising what kaon does not do
    if not req.bucket:
        if req.method != "GET":
            raise InvalidInput("only GET (ListBuckets) is allowed on /", s3_code="MethodNotAllowed")
        readable = functools.partial(ctx.platform.s3_access.can, ctx.who, Action.READ)
        items = await in_thread(ctx.platform.s3.buckets, readable)
        await respond(ctx.send, 200, xml.buckets(items), ctx.base_headers())
        return
    # AccessDenied before anything else is looked at
    await in_thread(ctx.platform.s3_access.check, ctx.who, action(req), ctx.bucket.repo)
    if req.key:
        await (multipart if multipart.wants(req) else objects).handle(ctx)
    else:
        await _bucket(ctx)


def action(req: Request) -> Action:
    """What a request does to its bucket: GET/HEAD read; DeleteBucket manages (it is refused
    anyway: not supported); anything else writes (PUT, POST, DELETE of objects, uploads or
    transactions)."""
    if req.method in ("GET", "HEAD"):
        return Action.READ
    if req.method == "DELETE" and not req.key and "transaction" not in req.query:
        return Action.MANAGE
    return Action.WRITE


async def _bucket(ctx: Ctx) -> None:
    req, q, p = ctx.req, ctx.req.query, ctx.platform
    bucket = ctx.bucket
    m = req.method
    if m in ("GET", "HEAD"):
        await in_thread(p.s3.check_bucket, bucket)
        if m == "HEAD":
            await respond(
                ctx.send, 200, b"", [*ctx.base_headers(), ("x-amz-bucket-region", "us-east-1")]
            )
        elif "location" in q:
            await respond(ctx.send, 200, xml.location(), ctx.base_headers())
        elif "versioning" in q:
            await respond(ctx.send, 200, xml.versioning(), ctx.base_headers())
        elif "uploads" in q:
            items = await in_thread(p.s3_uploads.uploads, bucket.name)
            await respond(ctx.send, 200, xml.uploads(bucket.name, items), ctx.base_headers())
        else:
            await _list(ctx, bucket)
    elif m == "PUT":
        await read_small(ctx.receive)  # an optional CreateBucketConfiguration
        if not await in_thread(p.s3.create_bucket, bucket, ctx.who):
            raise AlreadyExists(f"bucket {bucket.name!r} already exists and is yours")
        await respond(ctx.send, 200, b"", [*ctx.base_headers(), ("location", f"/{bucket.name}")])
    elif m == "POST" and "delete" in q:
        from kaon.api.s3.objects import delete_many

        await delete_many(ctx, bucket)
    elif m == "POST" and "commit" in q:
        tx = q.get("transaction", "") or ctx.transaction
        await commit_transaction(ctx, bucket, tx)
    elif m == "DELETE" and "transaction" in q:
        await in_thread(p.s3.abort_transaction, bucket, q["transaction"])
        await respond(ctx.send, 204, b"", ctx.base_headers())
    elif m == "DELETE":
        raise Unsupported(
            "DeleteBucket is not supported: delete the branch with `kaon delete branch` "
            "(history is kept)"
        )
    else:
        raise InvalidInput(f"{m} is not allowed on a bucket", s3_code="MethodNotAllowed")


async def commit_transaction(ctx: Ctx, bucket: Bucket, tx: str) -> None:
    if not tx or not _TX.match(tx):
        raise InvalidInput("name the transaction: ?commit&transaction=<id>")
    commits = await in_thread(ctx.platform.s3.commit_transaction, bucket, tx, ctx.who)
    body = xml.transaction(bucket.name, tx, [c.id for c in commits])
    ids = ",".join(c.id for c in commits)
    headers = [*ctx.base_headers(), ("x-kaon-commit", ids), ("etag", f'"{ids[:32]}"')]
    await respond(ctx.send, 200, body, headers)


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("invalid continuation token", s3_code="InvalidArgument") from None


async def _list(ctx: Ctx, bucket: Bucket) -> None:
    q = ctx.req.query
    v2 = q.get("list-type") == "2"
    try:
        max_keys = min(int(q.get("max-keys", "1000")), 1000)
    except ValueError:
        raise InvalidInput("max-keys must be an integer", s3_code="InvalidArgument") from None
    if max_keys < 0:
        raise InvalidInput("max-keys must not be negative", s3_code="InvalidArgument")
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    token = q.get("continuation-token", "") if v2 else ""
    start_after = q.get("start-after", "") if v2 else ""
    marker = "" if v2 else q.get("marker", "")
    after = _untoken(token) if token else (start_after if v2 else marker)
    page = await in_thread(ctx.platform.s3.list_objects, bucket, prefix, delimiter, after, max_keys)
    body = xml.listing(
        bucket.name,
        page,
        v2=v2,
        prefix=prefix,
        delimiter=delimiter,
        max_keys=max_keys,
        enc=q.get("encoding-type") == "url",
        marker=marker,
        token=token if v2 and "continuation-token" in q else None,
        next_token=_token(page.last) if v2 and page.truncated else "",
        start_after=start_after,
        owner=not v2 or q.get("fetch-owner") == "true",
    )
    await respond(ctx.send, 200, body, ctx.base_headers())
