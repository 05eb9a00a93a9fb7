"""MemoryUserStore: the UserStore port (users, token digests, roles, the audit log) over the
shared in-memory tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kaon.core.errors import AlreadyExists, NotFound
from kaon.core.users import ApiToken, Role, TokenId, User, UserName
from kaon.memory.tables import Tables
from kaon.ports.users import AuditEntry, AuditQuery


class MemoryUserStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    # users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        with self._t.lock:
            if user.name in self._t.users:
                raise AlreadyExists(f"user {user.name!r} already exists")
            self._t.users[user.name] = user

    def get_user(self, name: str) -> User | None:
        with self._t.lock:
            return self._t.users.get(name)

    def list_users(self) -> list[User]:
        with self._t.lock:
            return sorted(self._t.users.values(), key=lambda u: u.created)

    def delete_user(self, name: str) -> bool:
        t = self._t
        with t.lock:
            for token_id in [i for i, (token, _) in t.tokens.items() if token.user == name]:
                del t.tokens[token_id]
            for key in [k for k in t.roles if k[1] == name]:
                del t.roles[key]
            return t.users.pop(name, None) is not None

    # tokens ------------------------------------------------------------------------------
    def add_token(self, token: ApiToken, digest: str) -> None:
        with self._t.lock:
            taken = any(d == digest for _, d in self._t.tokens.values())
            if token.id in self._t.tokens or taken:
                raise AlreadyExists(f"token {token.id!r} already exists")
            if token.user not in self._t.users:
                raise NotFound(f"user {token.user!r} not found", user=token.user)
            self._t.tokens[token.id] = (token, digest)

    def token_by_digest(self, digest: str) -> ApiToken | None:
        with self._t.lock:
            return next((tok for tok, d in self._t.tokens.values() if d == digest), None)

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        with self._t.lock:
            found = [tok for tok, _ in self._t.tokens.values() if user in (None, tok.user)]
        return sorted(found, key=lambda tok: tok.created)

    def delete_token(self, token: TokenId) -> bool:
        with self._t.lock:
            return self._t.tokens.pop(token, None) is not None

    def delete_job_tokens(self, job: str) -> int:
        with self._t.lock:
            gone = [i for i, (tok, _) in self._t.tokens.items() if tok.job == job]
            for token_id in gone:
                del self._t.tokens[token_id]
        return len(gone)

    # roles -------------------------------------------------------------------------------
    def set_role(self, workspace: str, user: UserName, role: Role) -> None:
        with self._t.lock:
            if workspace not in self._t.workspaces or user not in self._t.users:
                raise NotFound(f"no workspace {workspace!r} or no user {user!r}")
            self._t.roles[workspace, user] = role

    def drop_role(self, workspace: str, user: str) -> bool:
        with self._t.lock:
            return self._t.roles.pop((workspace, user), None) is not None

    def role(self, workspace: str, user: str) -> Role | None:
        with self._t.lock:
            return self._t.roles.get((workspace, user))

    def members(self, workspace: str) -> list[tuple[UserName, Role]]:
        with self._t.lock:
            found = [(UserName(u), r) for (w, u), r in self._t.roles.items() if w == workspace]
        return sorted(found)

    def roles_of(self, user: str) -> dict[str, Role]:
        with self._t.lock:
            return {w: r for (w, u), r in self._t.roles.items() if u == user}

    # audit -------------------------------------------------------------------------------
    def record(self, entries: Sequence[AuditEntry]) -> None:
        with self._t.lock:
            log = self._t.audit
            for entry in entries:
                log.append(dataclasses.replace(entry, id=len(log) + 1))

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        with self._t.lock:
            entries = list(reversed(self._t.audit))
        return [e for e in entries if _matches(e, query)][: max(0, query.limit)]


def _matches(e: AuditEntry, q: AuditQuery) -> bool:
    if q.viewer is not None and e.user != q.viewer and e.workspace not in q.owned:
        return False
    return (
        (q.user is None or e.user == q.user)
        and (q.workspace is None or e.workspace == q.workspace)
        and (not q.action or q.action in e.action)
        and (q.since is None or e.at >= q.since)
        and (q.until is None or e.at < q.until)
    )
