"""UserStore: users, the hashes of their API tokens, workspace roles and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kaon.core.audit import AuditEntry as AuditEntry  # re-exported: the store speaks them
from kaon.core.audit import AuditQuery as AuditQuery
from kaon.core.users import ApiToken, Role, TokenId, User, UserName


class UserStore(Protocol):
    # users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        """AlreadyExists when the name is taken."""
        ...

    def get_user(self, name: str) -> User | None:
        """None when there is no such user."""
        ...

    def list_users(self) -> list[User]:
        """Every user, oldest first."""
        ...

    def delete_user(self, name: str) -> bool:
        """Delete the user with their tokens and roles; False when there was no such user."""
        ...

    # tokens ------------------------------------------------------------------------------
    def add_token(self, token: ApiToken, digest: str) -> None:
        """Store `token` (of an existing user) under `digest` (a hash of its secret);
        AlreadyExists when its id or digest is taken."""
        ...

    def token_by_digest(self, digest: str) -> ApiToken | None:
        """None when no token has that digest."""
        ...

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        """`user`'s tokens (everyone's with None), oldest first."""
        ...

    def delete_token(self, token: TokenId) -> bool:
        """False when there was no such token."""
        ...

    def delete_job_tokens(self, job: str) -> int:
        """Revoke every token of `job`; returns how many there were."""
        ...

    # roles -------------------------------------------------------------------------------
    def set_role(self, workspace: str, user: UserName, role: Role) -> None:
        """Give `user` (existing) `role` in `workspace` (existing), replacing any other."""
        ...

    def drop_role(self, workspace: str, user: str) -> bool:
        """False when the user had no role there."""
        ...

    def role(self, workspace: str, user: str) -> Role | None: ...

    def members(self, workspace: str) -> list[tuple[UserName, Role]]:
        """The workspace's users with their roles, sorted by user."""
        ...

    def roles_of(self, user: str) -> dict[str, Role]:
        """Every workspace `user` has a role in, with the role."""
        ...

    # audit -------------------------------------------------------------------------------
    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append `entries` (their ids are assigned, increasing)."""
        ...

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Matching entries, newest first, at most `query.limit`."""
        ...
