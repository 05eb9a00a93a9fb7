"""Users, API tokens and workspace roles; the check every door makes (kaon.core.users).

Tokens are `kaon_` + 43 random URL-safe characters; only their SHA-256 is stored (a token is
random, so a fast hash is enough: there is nothing to guess from it). The platform's own token
($KAON_HOME/token) is the first admin's, registered when the API starts.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable

from kaon.core.audit import AuditEntry, AuditQuery
from kaon.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PermissionDenied,
    WorkspaceNotFound,
)
from kaon.core.users import (
    PIPELINE_JOB,
    Action,
    ApiToken,
    Principal,
    Role,
    TokenId,
    User,
    UserName,
    decide,
    user_name,
)
from kaon.ports.users import UserStore

TOKEN_PREFIX = "kaon_"
CACHE_SECONDS = 1.0  # how long another API server may still honour a revoked token or role
_CACHE_MAX = 10_000
PLATFORM_TOKEN = "platform"  # the name of the token in $KAON_HOME/token


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserService:
    def __init__(self, store: UserStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        # Every request asks who it is and, often, a role: answers are kept CACHE_SECONDS
        # (two queries saved per request); any change made through this service forgets them
        # at once, so only another server's changes can take up to CACHE_SECONDS to apply.
        self._lock = threading.Lock()
        self._principals: dict[str, tuple[float, Principal, float | None]] = {}
        self._roles: dict[tuple[str, str], tuple[float, Role | None]] = {}

    def _forget(self) -> None:
        with self._lock:
            self._principals.clear()
            self._roles.clear()

    # start-up ----------------------------------------------------------------------------
    def bootstrap(self, admin: str, platform_token: str) -> User:
        """Zero setup: the first user (named `admin`, the OS user who started the platform)
        is made an admin, and the platform token is theirs. Returns the platform token's user."""
        known = self._store.token_by_digest(digest(platform_token))
        if known is not None:
            user = self._store.get_user(known.user)
            if user is not None:
                return user
        admins = [u for u in self._store.list_users() if u.admin]
        if admins:
            owner = admins[0]
        else:
            owner = User(_safe_name(admin), self._clock(), admin=True)
            self._store.add_user(owner)
        for old in self._store.list_tokens(owner.name):
            if old.name == PLATFORM_TOKEN:  # the token file was replaced: the old one goes
                self._store.delete_token(old.id)
        token = ApiToken(_token_id(), owner.name, PLATFORM_TOKEN, self._clock())
        self._store.add_token(token, digest(platform_token))
        self._forget()
        return owner

    # users -------------------------------------------------------------------------------
    def add(self, name: str, admin: bool = False) -> tuple[User, str]:
        """A new user and their first token (its secret: shown once, never stored)."""
        user = User(user_name(name), self._clock(), admin)
        self._store.add_user(user)
        _, secret = self.create_token(user.name, "default")
        return user, secret

    def get(self, name: str) -> User:
        user = self._store.get_user(name)
        if user is None:
            raise NotFound(f"no user {name!r}: `kaon user list` shows who exists")
        return user

    def all(self) -> list[User]:
        return self._store.list_users()

    def remove(self, name: str) -> None:
        user = self.get(name)
        if user.admin and sum(u.admin for u in self._store.list_users()) == 1:
            raise Conflict(f"user {name!r} is the last admin: make another admin first")
        self._store.delete_user(user.name)
        self._forget()

    # tokens ------------------------------------------------------------------------------
    def create_token(
        self,
        user: str,
        name: str,
        expires_in: float | None = None,
        *,
        workspace: str | None = None,
        job: str | None = None,
    ) -> tuple[ApiToken, str]:
        if expires_in is not None and expires_in <= 0:
            raise InvalidInput(f"a token's lifetime must be positive, not {expires_in:g} s")
        owner = self.get(user)
        now = self._clock()
        expires = now + expires_in if expires_in is not None else None
        token = ApiToken(_token_id(), owner.name, name, now, expires, workspace, job)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._store.add_token(token, digest(secret))
        return token, secret

    def tokens(self, user: str | None = None) -> list[ApiToken]:
        return self._store.list_tokens(user)

    def token_of(self, secret: str) -> ApiToken | None:
        """The token whose secret is `secret` (None: no such token)."""
        return self._store.token_by_digest(digest(secret)) if secret else None

    def revoke_token(self, by: Principal, token: str) -> ApiToken:
        found = next((t for t in self._store.list_tokens() if t.id == token), None)
        if found is None or (found.user != by.user and not by.admin):
            raise NotFound(f"no token {token!r} of yours: `kaon auth token list` shows them")
        self._store.delete_token(found.id)
        self._forget()
        return found

    def authenticate(self, secret: str) -> Principal:
        """The principal a bearer token stands for; PermissionDenied (401) when it is unknown,
        expired or its user is gone."""
        key = digest(secret)
        now = self._clock()
        with self._lock:
            hit = self._principals.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS and (hit[2] is None or hit[2] > now):
            return hit[1]
        token = self._store.token_by_digest(key) if secret else None
        if token is None:
            raise PermissionDenied(
                "missing or invalid token: the CLI and SDK read it from $KAON_HOME/token or "
                "KAON_TOKEN; for a remote server run `kaon init -e URL --token TOKEN`"
            )
        if token.expires is not None and token.expires <= self._clock():
            raise PermissionDenied(
                f"token {token.id} expired: create another with `kaon auth token create`"
            )
        user = self._store.get_user(token.user)
        if user is None:  # pragma: no cover - deleting a user deletes their tokens
            raise PermissionDenied(f"token {token.id} belongs to no user any more")
        who = Principal(user.name, user.admin, token.workspace, token.job)
        with self._lock:
            if len(self._principals) >= _CACHE_MAX:
                self._principals.clear()
            self._principals[key] = (now, who, token.expires)
        return who

    # jobs --------------------------------------------------------------------------------
    def for_job(self, job: str, owner: str, workspace: str | None) -> str | None:
        """A token for `job`, acting as `owner` in `workspace` only (None: a pipeline job,
        `<pipeline>@<id>`, in the workspaces `owner` may reach, reading shared repos only:
        kaon.core.users.decide); None when the owner is not a user (a job from before users
        existed)."""
        if self._store.get_user(owner) is None:
            return None
        name = f"pipeline job {job}" if PIPELINE_JOB in job else f"job {job[:8]}"
        _, secret = self.create_token(owner, name, workspace=workspace, job=job)
        return secret

    def revoke_job(self, job: str) -> None:
        self._store.delete_job_tokens(job)
        self._forget()

    def revoke_stale(self, running: set[str]) -> tuple[str, ...]:
        """Revoke the tokens of every job not in `running` (start-up after a stop)."""
        stale = tuple(sorted({t.job for t in self._store.list_tokens() if t.job} - running))
        for job in stale:
            self._store.delete_job_tokens(job)
        self._forget()
        return stale

    # roles -------------------------------------------------------------------------------
    def role(self, principal: Principal, workspace: str, *, fresh: bool = False) -> Role | None:
        """`principal`'s role in `workspace` (cached unless `fresh`)."""
        key = (workspace, str(principal.user))
        now = self._clock()
        with self._lock:
            hit = self._roles.get(key)
        if not fresh and hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        role = self._store.role(workspace, principal.user)
        with self._lock:
            if len(self._roles) >= _CACHE_MAX:
                self._roles.clear()
            self._roles[key] = (now, role)
        return role

    def check(self, principal: Principal, action: Action, workspace: str | None) -> None:
        """Forbidden (403) when `principal` may not do `action` in `workspace` (None: a shared
        repo); a workspace it has no role in answers as if it did not exist (404)."""
        role = None if workspace is None or principal.admin else self.role(principal, workspace)
        if decide(principal, action, workspace, role):
            return
        if workspace is not None and not principal.admin:  # a refusal is never from the cache:
            role = self.role(principal, workspace, fresh=True)  # a share applies at once
            if decide(principal, action, workspace, role):
                return
        if workspace is None and principal.pipeline_job and principal.workspace is None:
            raise Forbidden(
                f"{principal.describe()} may not {action.value} shared repos or pipelines: "
                "a pipeline job's output is what it writes to /pfs/out"
            )
        if workspace is None:
            raise Forbidden(f"{principal.describe()} may not {action.value} shared repos")
        if role is None or (principal.workspace not in (None, workspace)):
            raise WorkspaceNotFound(
                f"workspace {workspace!r} not found (or {principal.describe()} has no role in "
                f"it): its owner can run `kaon workspace share -n {workspace} --user "
                f"{principal.user} --role viewer`"
            )
        needed = Role.EDITOR if action is Action.WRITE else Role.OWNER
        raise Forbidden(
            f"{principal.describe()} is a {role.value} of workspace {workspace!r}; to "
            f"{action.value} it needs the {needed.value} role: ask an owner to run `kaon "
            f"workspace share -n {workspace} --user {principal.user} --role {needed.value}`"
        )

    def visible(self, principal: Principal, workspaces: Iterable[str]) -> list[str]:
        """The workspaces of `workspaces` that `principal` may read, in order."""
        if principal.workspace is not None:
            return [w for w in workspaces if w == principal.workspace]
        if principal.admin:
            return list(workspaces)
        mine = self._store.roles_of(principal.user)
        return [w for w in workspaces if w in mine]

    def share(self, workspace: str, user: str, role: Role) -> None:
        target = self.get(user)
        current = self._store.role(workspace, target.name)
        if current is Role.OWNER and role is not Role.OWNER:
            self._keep_an_owner(workspace, target.name)
        self._store.set_role(workspace, target.name, role)
        self._forget()

    def unshare(self, workspace: str, user: str) -> None:
        current = self._store.role(workspace, user)
        if current is None:
            raise NotFound(f"user {user!r} has no role in workspace {workspace!r}")
        if current is Role.OWNER:
            self._keep_an_owner(workspace, user)
        self._store.drop_role(workspace, user)
        self._forget()

    def _keep_an_owner(self, workspace: str, leaving: str) -> None:
        owners = [u for u, r in self._store.members(workspace) if r is Role.OWNER]
        if owners == [leaving]:
            raise Conflict(
                f"{leaving!r} is the last owner of workspace {workspace!r}: make another "
                "user owner first"
            )

    def roles_of(self, user: str) -> dict[str, Role]:
        """Every workspace `user` has a role in, with the role."""
        return self._store.roles_of(user)

    def members(self, workspace: str) -> list[tuple[UserName, Role]]:
        return self._store.members(workspace)

    def grant_creator(self, workspace: str, principal: Principal) -> None:
        """Whoever creates a workspace owns it."""
        self._store.set_role(workspace, principal.user, Role.OWNER)
        self._forget()

    # audit -------------------------------------------------------------------------------
    def record(self, *entries: AuditEntry) -> None:
        self._store.record(entries)

    def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return self._store.audit(query)


def _token_id() -> TokenId:
    return TokenId(secrets.token_hex(4))


def _safe_name(name: str) -> UserName:
    try:
        return user_name(name)
    except InvalidInput:
        return UserName("admin")
