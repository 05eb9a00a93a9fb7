"""UserService: zero-setup admin, tokens (hashed, expiring), roles and the access check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon.core.errors import Conflict, Forbidden, PermissionDenied, WorkspaceNotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.users import Action, Role
from kaon.db.database import Database
from kaon.ports.workspaces import Workspace
from kaon.services.users import CACHE_SECONDS, UserService

PLATFORM = "the-platform-token"


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(tmp_path: Path, clock: Clock) -> Iterator[UserService]:
    url = f"sqlite:///{tmp_path / 'kaon.db'}"
    db = Database(url)
    db.workspaces.create_workspace(Workspace(WorkspaceName("w"), 1.0, "root"))
    service = UserService(db.users, clock)
    service.bootstrap("root", PLATFORM)
    yield service
    db.close()


def test_the_platform_token_is_the_first_admins(users: UserService) -> None:
    who = users.authenticate(PLATFORM)
    assert (who.user, who.admin) == ("root", True)
    assert users.bootstrap("someone-else", PLATFORM).name == "root"  # idempotent
    users.bootstrap("x", "a-new-token-file")  # the file was replaced: the old token goes
    assert users.authenticate("a-new-token-file").user == "root"
    with pytest.raises(PermissionDenied, match="invalid token"):
        users.authenticate(PLATFORM)


def test_tokens_are_stored_hashed_and_expire(users: UserService, clock: Clock) -> None:
    _, first = users.add("bob")
    assert first.startswith("kaon_") and users.authenticate(first).user == "bob"
    token, secret = users.create_token("bob", "ci", expires_in=60)
    assert secret not in repr(users.tokens("bob"))
    clock.now += 61
    with pytest.raises(PermissionDenied, match=f"token {token.id} expired"):
        users.authenticate(secret)
    with pytest.raises(PermissionDenied, match="invalid token"):
        users.authenticate("")


def test_roles_decide_and_errors_say_what_to_do(users: UserService) -> None:
    _, bob_token = users.add("bob")
    bob = users.authenticate(bob_token)
    with pytest.raises(WorkspaceNotFound, match="share -n w --user bob --role viewer"):
        users.check(bob, Action.READ, "w")
    users.share("w", "bob", Role.VIEWER)
    users.check(bob, Action.READ, "w")
    with pytest.raises(Forbidden, match=r"viewer of workspace 'w'.*--role editor"):
        users.check(bob, Action.WRITE, "w")
    users.check(bob, Action.WRITE, None)  # shared repos are the team's
    assert users.visible(bob, ["w", "other"]) == ["w"]
    assert users.visible(users.authenticate(PLATFORM), ["w", "other"]) == ["w", "other"]


def test_a_job_token_acts_as_its_owner_in_its_workspace_only(users: UserService) -> None:
    users.add("bob")
    users.share("w", "bob", Role.EDITOR)
    secret = users.for_job("j" * 32, "bob", "w")
    assert secret is not None
    job = users.authenticate(secret)
    users.check(job, Action.WRITE, "w")
    with pytest.raises(WorkspaceNotFound):
        users.check(job, Action.READ, "other")
    assert users.revoke_stale(running=set()) == ("j" * 32,)
    with pytest.raises(PermissionDenied):
        users.authenticate(secret)


def test_the_last_owner_and_the_last_admin_stay(users: UserService) -> None:
    users.add("bob")
    users.share("w", "bob", Role.OWNER)
    with pytest.raises(Conflict, match="last owner"):
        users.unshare("w", "bob")
    with pytest.raises(Conflict, match="last owner"):
        users.share("w", "bob", Role.VIEWER)
    with pytest.raises(Conflict, match="last admin"):
        users.remove("root")
    users.remove("bob")
    assert [u.name for u in users.all()] == ["root"]


def test_a_share_made_elsewhere_applies_at_once_an_unshare_within_the_cache_time(
    users: UserService, tmp_path: Path, clock: Clock
) -> None:
    _, bob_token = users.add("bob")
    bob = users.authenticate(bob_token)
    second = Database(f"sqlite:///{tmp_path / 'kaon.db'}")  # a 2nd server's database
    other = UserService(second.users, clock)
    with pytest.raises(WorkspaceNotFound):
        users.check(bob, Action.READ, "w")
    other.share("w", "bob", Role.EDITOR)
    users.check(bob, Action.WRITE, "w")  # the refusal was not cached
    other.unshare("w", "bob")
    users.check(bob, Action.WRITE, "w")  # still cached on this server...
    clock.now += CACHE_SECONDS
    with pytest.raises(WorkspaceNotFound):  # ...for CACHE_SECONDS at most
        users.check(bob, Action.WRITE, "w")
    second.close()


def test_roles_of_a_user_and_the_token_of_a_secret(users: UserService) -> None:
    _, secret = users.add("cat")
    assert users.roles_of("cat") == {}
    users.share("w", "cat", Role.EDITOR)
    assert users.roles_of("cat") == {"w": Role.EDITOR}
    token = users.token_of(secret)
    assert token is not None and token.user == "cat"
    assert users.token_of("kaon_not-a-token") is None
    assert users.token_of("") is None
