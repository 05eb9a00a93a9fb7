"""The REST API's door to the audit log: one ASGI middleware records every write it answers.

A write is any request but GET, HEAD and OPTIONS that a route matched (a path no route knows
ran nothing and is not recorded). Its entry: the time, who (the principal `require_token`
found; "" when authentication failed: refused writes are recorded too, with their 401 or
403), action `<METHOD> <route template>` ("POST /v1/workspaces/{name}/train"), target the
concrete path, the workspace the path names (as kaon.api.access resolves it), the status, and
a small JSON detail: the client's address, the job whose token it was, the query string, and
the ids the answer names (`id`, `name`, `commit`, `access_key`; an error's `code`).

Upload plumbing is left out unless refused (401/403): packs and chunks are content-addressed
and invisible until the commit that names them, which is recorded (as are lease renewals and
stagings, which only serve that commit; `POST /v1/chunks/missing` and `/content/local` are
queries). A 20,000-file put is then one entry, not hundreds.

The entry is queued just before the answer's last byte goes out (the caller cannot read the
log before its write is in the queue) and written by the AuditLog's thread; a permission
change (users, tokens, S3 keys, workspace members) waits until its entry is written.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from kaon.api.access import workspace_of
from kaon.api.gateway import ASGIApp, Message, Receive, Scope, Send
from kaon.core.audit import AuditEntry
from kaon.core.users import Principal
from kaon.wiring import Platform

READS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED = frozenset({401, 403})
PLUMBING = frozenset(
    {
        "POST /v1/chunks/missing",
        "POST /v1/packs",
        "POST /v1/packs/drop",
        "POST /v1/chunks/local",
        "POST /v1/leases/{lease}",
        "DELETE /v1/leases/{lease}",
        "POST /v1/repos/{repo}/stagings",
        "POST /v1/repos/{repo}/stagings/{staging}",
        "POST /v1/repos/{repo}/content/local",
    }
)
PERMISSIONS = ("/v1/users", "/v1/auth", "/v1/s3/credentials")  # and any `.../members`
ANSWER_IDS = ("id", "name", "commit", "access_key", "code")  # never a secret
_KEPT = 8192  # bytes of a JSON answer kept to find its ids in
_QUERY = 256  # characters of the query string kept


def permission_change(template: str) -> bool:
    return template.startswith(PERMISSIONS) or template.endswith("/members")


class AuditMiddleware:
    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        status = 0
        answer = bytearray()
        json_answer = False
        recorded = False

        async def sending(message: Message) -> None:
            nonlocal status, json_answer, recorded
            if message["type"] == "http.response.start":
                status = int(message["status"])
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                json_answer = ctype.startswith(b"application/json")
            elif message["type"] == "http.response.body" and not recorded:
                if json_answer and len(answer) < _KEPT:
                    answer.extend(message.get("body", b"")[: _KEPT - len(answer)])
                if not message.get("more_body", False):
                    recorded = True
                    number = self._record(scope, status, bytes(answer))
                    if number is not None and permission_change(_template(scope) or ""):
                        await run_in_threadpool(self.platform.audit.flush, number)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = status or 500
            raise
        finally:
            if not recorded:  # no complete answer: an error, or the client went away
                self._record(scope, status, b"")

    def _record(self, scope: Scope, status: int, answer: bytes) -> int | None:
        template = _template(scope)
        if template is None:
            return None
        method = str(scope["method"])
        action = f"{method} {template}"
        if action in PLUMBING and status not in REFUSED:
            return None
        state: Mapping[str, Any] = scope.get("state") or {}
        who = state.get("principal")
        detail: dict[str, Any] = {}
        client = scope.get("client")
        if client:
            detail["client"] = client[0]
        if isinstance(who, Principal) and who.job:
            detail["job"] = who.job
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        if query:
            detail["query"] = query[:_QUERY]
        entry = AuditEntry(
            at=self.platform.audit.clock(),
            user=who.user if isinstance(who, Principal) else "",
            action=action,
            target=str(scope.get("path", "")),
            workspace=state.get("workspace"),
            status=status,
        )
        params = dict(scope.get("path_params") or {})
        resolve = "workspace" not in state  # refused before authorization looked it up
        fixup = functools.partial(_complete, self.platform, params, detail, answer, resolve)
        return self.platform.audit.add(entry, fixup)


def _template(scope: Scope) -> str | None:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def _complete(
    p: Platform,
    params: dict[str, Any],
    detail: dict[str, Any],
    answer: bytes,
    resolve: bool,
    entry: AuditEntry,
) -> AuditEntry:
    """On the writer thread: the ids the answer names, and the workspace when the request
    was refused before it was looked up (a 401)."""
    doc: Any = None
    if answer:
        try:
            doc = json.loads(answer)
        except ValueError:
            doc = None
    if isinstance(doc, dict):
        detail.update({k: doc[k] for k in ANSWER_IDS if isinstance(doc.get(k), str)})
    workspace = entry.workspace
    if workspace is None and resolve:
        try:
            workspace = workspace_of(p, entry.target, params)
        except Exception:  # noqa: BLE001 - e.g. no such job: the entry has no workspace
            workspace = None
    if workspace is None and entry.action == "POST /v1/workspaces" and "name" in detail:
        workspace = detail["name"]  # the workspace it created
    return AuditEntry(
        at=entry.at,
        user=entry.user,
        action=entry.action,
        target=entry.target,
        workspace=workspace.lower() if workspace else None,  # as the server names it
        status=entry.status,
        detail=json.dumps(detail, separators=(",", ":")),
    )
