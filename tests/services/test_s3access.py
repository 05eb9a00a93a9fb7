"""S3Access: who an S3 key acts for and the check every gateway request makes through it
(kaon.core.users): a user's key has its user's roles, a job's key its owner's narrowed to the
job's workspace, a key from before users the first admin's; refusals are AccessDenied."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kaon.api.s3.errors import s3_code
from kaon.core.credentials import S3Credential
from kaon.core.errors import PermissionDenied
from kaon.core.users import Action, Principal, Role, UserName
from kaon.services.s3.access import CACHE_SECONDS, S3Access
from kaon.wiring import Platform

READ, WRITE, MANAGE = Action.READ, Action.WRITE, Action.MANAGE
JOB = "0123abcd" * 4


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    p: Platform
    access: S3Access
    clock: Clock
    alice: S3Credential  # owns workspace wa
    bob: S3Credential  # owns workspace wb

    def denied(self, who: S3Credential | None, action: Action, repo: str) -> str:
        with pytest.raises(PermissionDenied) as caught:
            self.access.check(who, action, repo)
        assert s3_code(caught.value) == ("AccessDenied", 403)
        return caught.value.message


@pytest.fixture
def w(platform: Platform) -> World:
    users = platform.users
    users.bootstrap("root", "the-platform-token")
    for name, ws in (("alice", "wa"), ("bob", "wb")):
        users.add(name)
        platform.workspaces.create(ws, name)
        users.grant_creator(ws, Principal(UserName(name)))
    platform.repos.create_repo("inputrepo", "shared")
    keys = platform.credentials
    clock = Clock()
    access = S3Access(users, platform.workspaces, clock)
    return World(
        platform, access, clock, keys.issue("alice", user="alice"), keys.issue("bob", user="bob")
    )


def test_a_users_key_reaches_only_the_workspaces_where_the_user_has_a_role(w: World) -> None:
    w.access.check(w.alice, WRITE, "wa-data")
    w.access.check(w.alice, MANAGE, "wa-models")
    message = w.denied(w.bob, READ, "wa-data")
    assert "no role" in message and "alice" not in message  # nothing the API would not say
    w.denied(w.bob, WRITE, "wa-models")
    for action in (READ, WRITE):  # shared repos are every user's
        w.access.check(w.bob, action, "inputrepo")
        w.access.check(w.bob, action, "a-bucket-to-create")


def test_a_share_takes_effect_at_once_even_after_a_refusal(w: World) -> None:
    w.denied(w.bob, READ, "wa-data")
    w.p.users.share("wa", "bob", Role.VIEWER)
    w.access.check(w.bob, READ, "wa-data")  # no waiting for a cache: refusals are re-decided
    assert "viewer" in w.denied(w.bob, WRITE, "wa-data")
    w.p.users.share("wa", "bob", Role.EDITOR)
    w.access.check(w.bob, WRITE, "wa-data")
    w.denied(w.bob, MANAGE, "wa-data")


def test_an_unshare_reaches_the_gateway_within_the_cache_time(w: World) -> None:
    w.p.users.share("wa", "bob", Role.EDITOR)
    w.access.check(w.bob, WRITE, "wa-data")
    w.p.users.unshare("wa", "bob")
    w.clock.now += CACHE_SECONDS + 0.1
    w.denied(w.bob, READ, "wa-data")


def test_a_key_of_a_removed_user_is_refused(w: World) -> None:
    w.access.check(w.bob, READ, "inputrepo")
    w.p.users.remove("bob")
    w.clock.now += CACHE_SECONDS + 0.1
    assert "no longer exists" in w.denied(w.bob, READ, "inputrepo")


def test_a_jobs_key_acts_as_its_owner_narrowed_to_the_jobs_workspace(w: World) -> None:
    w.p.users.share("wa", "bob", Role.EDITOR)  # bob may write wa himself, his job in wb may not
    w.p.credentials.endpoint = "http://127.0.0.1:1"
    env = w.p.credentials.for_job(JOB, "bob", "wb")
    assert env is not None
    key = w.p.credentials.get(env.access_key)
    assert (key.user, key.workspace, key.job) == ("bob", "wb", JOB)
    w.access.check(key, WRITE, "wb-data")
    w.access.check(key, WRITE, "inputrepo")
    for action in (READ, WRITE):
        message = w.denied(key, action, "wa-data")
        assert "reaches only the shared repos and those of workspace 'wb'" in message
    w.denied(key, MANAGE, "inputrepo")
    w.access.check(w.bob, WRITE, "wa-data")


def test_a_job_of_no_user_reaches_its_own_workspace_and_the_shared_repos(w: World) -> None:
    """A job whose author is no kaon user (deployed by an OS user name that is not one): its
    key acts for no user, narrowed to the job's workspace like every job's key."""
    w.p.credentials.endpoint = "http://127.0.0.1:1"
    env = w.p.credentials.for_job(JOB, "someone-else", "wb")
    assert env is not None
    key = w.p.credentials.get(env.access_key)
    assert (key.user, key.workspace) == (None, "wb")
    w.access.check(key, WRITE, "wb-data")
    w.access.check(key, READ, "inputrepo")
    w.denied(key, READ, "wa-data")


def test_keys_from_before_users_and_anonymous_requests_are_the_admins(w: World) -> None:
    legacy = w.p.credentials.issue("old")
    assert legacy.user is None
    for who in (legacy, None):
        w.access.check(who, MANAGE, "wa-data")
        w.access.check(who, WRITE, "wb-models")
    assert w.access.principal(None) == Principal(UserName("root"), admin=True)


def test_the_admin_reaches_every_workspace(w: World) -> None:
    root = w.p.credentials.issue("root", user="root")
    w.access.check(root, MANAGE, "wa-data")
    assert w.access.can(root, READ, "wb")


def test_can_answers_for_listings(w: World) -> None:
    assert w.access.can(w.bob, READ, None)
    assert w.access.can(w.bob, READ, "wb") and not w.access.can(w.bob, READ, "wa")
    w.p.users.share("wa", "bob", Role.VIEWER)
    assert w.access.can(w.bob, READ, "wa") and not w.access.can(w.bob, WRITE, "wa")
