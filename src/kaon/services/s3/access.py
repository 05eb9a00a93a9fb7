"""Who an S3 key acts for, and the one check the gateway makes for every bucket a request names:
`UserService.check(principal, action, workspace)`, as the REST API does (kaon.core.users).

- A key made with `kaon auth s3-credentials` acts for the user who made it; a key from before
  users (no user recorded) is the first admin's.
- A job's key acts for the job's owner narrowed to the job's workspace: the shared repos and
  that workspace's, whatever else the owner may reach. A job whose author is no kaon user
  (deployed by an OS user name that is not one) has a key of no user: the first admin's,
  narrowed the same way — the shared repos and its own workspace, what every job's key
  reached before users existed; never another workspace.
- Unsigned requests (only with KAON_S3_ANONYMOUS=1, an explicitly open local platform) act as
  the first admin.

The workspace of a bucket is the one whose internal repo it is (`<ws>-data`, …; None: a shared
repo, every user's). A refusal is S3's AccessDenied (403) with the message the API would give.

Cost: every request is checked, so the principal of a key, the workspace of a repo and the role
of a (user, workspace) are cached for CACHE_SECONDS — but only to allow: a request the cache
would refuse is decided again from the database. A share takes effect at once; an unshare, a
removed user or a lost admin flag within CACHE_SECONDS (also across API servers sharing one
database). An admin's own key (not a job's) needs no lookup at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kaon.core.credentials import S3Credential
from kaon.core.errors import Forbidden, NotFound, PermissionDenied, WorkspaceNotFound
from kaon.core.users import Action, Principal, Role, UserName, decide
from kaon.services.pipelines.s3access import check_pipeline_key
from kaon.services.users import UserService
from kaon.services.workspaces import WorkspaceService

CACHE_SECONDS = 2.0
_MAX_ENTRIES = 10_000  # per cache; cleared when full


def _key(who: S3Credential | None) -> str:
    return "" if who is None else who.access_key


class _Cache:
    """Values that expire `ttl` seconds after they were put."""

    def __init__(self, clock: Callable[[], float], ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._items: dict[object, tuple[object, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> tuple[bool, object]:
        with self._lock:
            found = self._items.get(key)
        if found is None or found[1] <= self._clock():
            return False, None
        return True, found[0]

    def put(self, key: object, value: object) -> None:
        with self._lock:
            if len(self._items) >= _MAX_ENTRIES:
                self._items.clear()
            self._items[key] = (value, self._clock() + self._ttl)


class S3Access:
    def __init__(
        self,
        users: UserService,
        workspaces: WorkspaceService,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = CACHE_SECONDS,
    ) -> None:
        self._users = users
        self._workspaces = workspaces
        self._principals = _Cache(clock, ttl)  # access key ("" anonymous) -> Principal
        self._owners = _Cache(clock, ttl)  # repo -> its workspace (internal repos only)
        self._roles = _Cache(clock, ttl)  # (user, workspace) -> Role | None

    # who ---------------------------------------------------------------------------------
    def principal(self, who: S3Credential | None) -> Principal:
        """The principal `who` (None: an anonymous request) acts as, read from the database;
        AccessDenied when the key's user no longer exists."""
        if who is None:  # the explicitly open mode: everything, as before users
            principal = Principal(self._first_admin() or UserName("anonymous"), admin=True)
        else:
            principal = self._of_key(who, who.user or self._first_admin())
        self._principals.put(_key(who), principal)
        return principal

    def _of_key(self, who: S3Credential, name: str | None) -> Principal:
        if name is None:  # a key from before users on a platform whose API never started
            raise PermissionDenied(
                "Access Denied: this platform has no admin yet: start its API once "
                "(`kaon up`), which makes the first user the admin"
            )
        try:
            user = self._users.get(name)
        except NotFound:
            raise PermissionDenied(
                f"Access Denied: user {name!r}, whom this key acts for, no longer exists: "
                "create a key as an existing user with `kaon auth s3-credentials`"
            ) from None
        return Principal(user.name, user.admin, who.workspace, who.job)

    def _first_admin(self) -> UserName | None:
        admins = sorted((u.created, u.name) for u in self._users.all() if u.admin)
        return admins[0][1] if admins else None

    # the check ---------------------------------------------------------------------------
    def check(self, who: S3Credential | None, action: Action, repo: str) -> None:
        """AccessDenied (PermissionDenied, 403) unless `who` may do `action` on `repo`."""
        if who is not None and who.job is not None:  # a pipeline job's key: reads only
            check_pipeline_key(who, action, repo)
        principal = self._cached_principal(who)
        if principal.admin and principal.workspace is None:  # an admin's own key: everything
            return
        workspace = self._owner(repo)
        if self._cached_decision(principal, action, workspace):
            return
        self._decide(self.principal(who), action, self._owner(repo, fresh=True))

    def can(self, who: S3Credential | None, action: Action, workspace: str | None) -> bool:
        """Whether `who` may do `action` in `workspace` (None: the shared repos): listings."""
        if self._cached_decision(self._cached_principal(who), action, workspace):
            return True
        try:
            self._decide(self.principal(who), action, workspace)
        except PermissionDenied:
            return False
        return True

    def _decide(self, principal: Principal, action: Action, workspace: str | None) -> None:
        """The decision from the database (the cache refused): AccessDenied, or the role is
        remembered."""
        if principal.workspace is not None and workspace not in (None, principal.workspace):
            raise PermissionDenied(
                f"Access Denied: {principal.describe()} reaches only the shared repos and "
                f"those of workspace {principal.workspace!r}"
            )
        try:
            self._users.check(principal, action, workspace)
        except (WorkspaceNotFound, Forbidden) as exc:
            raise PermissionDenied(f"Access Denied: {exc.message}") from None
        if workspace is not None and not principal.admin:
            self._roles.put((principal.user, workspace), self._users.role(principal, workspace))

    # the caches (to allow only) ----------------------------------------------------------
    def _cached_principal(self, who: S3Credential | None) -> Principal:
        hit, value = self._principals.get(_key(who))
        if hit:
            assert isinstance(value, Principal)
            return value
        return self.principal(who)

    def _owner(self, repo: str, fresh: bool = False) -> str | None:
        hit, value = (False, None) if fresh else self._owners.get(repo)
        if hit:
            assert isinstance(value, str)
            return value
        owner = self._workspaces.owner_of_repo(repo)
        if owner is not None:  # a shared repo may become a workspace's: never cached
            self._owners.put(repo, owner)
        return owner

    def _cached_decision(self, principal: Principal, action: Action, workspace: str | None) -> bool:
        role: Role | None = None
        if workspace is not None and not principal.admin:
            hit, value = self._roles.get((principal.user, workspace))
            if not hit:
                return False
            assert value is None or isinstance(value, Role)
            role = value
        return decide(principal, action, workspace, role)
