"""The one access decision (kaon.core.users.decide)."""

from __future__ import annotations

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.users import Action, Principal, Role, UserName, decide, user_name

BOB = Principal(UserName("bob"))
ADMIN = Principal(UserName("root"), admin=True)
JOB = Principal(UserName("bob"), workspace="w", job="j" * 32)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (None, set()),
        (Role.VIEWER, {Action.READ}),
        (Role.EDITOR, {Action.READ, Action.WRITE}),
        (Role.OWNER, {Action.READ, Action.WRITE, Action.MANAGE}),
    ],
)
def test_roles_allow_what_they_say(role: Role | None, allowed: set[Action]) -> None:
    assert {a for a in Action if decide(BOB, a, "w", role)} == allowed


def test_an_admin_reaches_every_workspace() -> None:
    assert all(decide(ADMIN, a, "w", None) for a in Action)


def test_a_job_reaches_only_its_workspace_with_its_owners_rights() -> None:
    assert decide(JOB, Action.WRITE, "w", Role.EDITOR)
    assert not decide(JOB, Action.WRITE, "w", Role.VIEWER)
    assert not decide(JOB, Action.READ, "other", Role.OWNER)
    admin_job = Principal(UserName("root"), admin=True, workspace="w", job="j" * 32)
    assert not decide(admin_job, Action.READ, "other", None)
    assert decide(admin_job, Action.WRITE, "w", None)


def test_shared_repos_are_every_users_but_jobs_do_not_delete_them() -> None:
    assert decide(BOB, Action.WRITE, None, None)
    assert decide(BOB, Action.MANAGE, None, None)
    assert decide(JOB, Action.WRITE, None, None)
    assert not decide(JOB, Action.MANAGE, None, None)


def test_names_and_roles_are_validated() -> None:
    assert user_name("alice.b-2") == "alice.b-2"
    with pytest.raises(InvalidInput, match="invalid user name"):
        user_name("../x")
    assert Role.parse("Viewer") is Role.VIEWER
    with pytest.raises(InvalidInput, match="owner, editor, viewer"):
        Role.parse("god")
