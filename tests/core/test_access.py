"""The access decision: (key scope, repo's workspace) -> allowed or not."""

from __future__ import annotations

import pytest

from kaon.core.access import FULL, Scope, allows
from kaon.core.errors import InvalidInput


def test_a_full_key_reaches_every_repo() -> None:
    assert allows(FULL, None)
    assert allows(FULL, "w")
    assert allows(FULL, "other")


def test_a_workspace_key_reaches_the_shared_repos_and_its_own_workspace_only() -> None:
    scope = Scope("w")
    assert allows(scope, None)  # a shared repo: inputrepo, outputrepo
    assert allows(scope, "w")  # w-data, w-models, ...
    assert not allows(scope, "other")
    assert not allows(scope, "w2")


def test_scopes_round_trip_as_text() -> None:
    assert str(FULL) == "*" and Scope.parse("*") == FULL
    assert str(Scope("w")) == "workspace:w" and Scope.parse("workspace:w") == Scope("w")


@pytest.mark.parametrize("text", ["", "workspace:", "ws", "role:admin"])
def test_an_unknown_scope_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="unknown S3 key scope"):
        Scope.parse(text)
