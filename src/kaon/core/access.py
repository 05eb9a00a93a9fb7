"""What an S3 key may reach: its scope, and the one decision (scope, repo) -> allowed or not.

A key made by a user (`kaon auth s3-credentials`) reaches every repo: there is one user today.
A job's key is scoped to the job's workspace: the shared repos (those of no workspace) and its
own workspace's internal repos (`<ws>-data`, `<ws>-models`, …), nothing of another workspace.
The scope is stored with the key, as text, so that users and roles can widen it later.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core.errors import InvalidInput

_ALL = "*"
_WORKSPACE = "workspace:"


@dataclass(frozen=True)
class Scope:
    workspace: str | None = None  # None: every repo; else the shared repos and this workspace's

    @staticmethod
    def parse(text: str) -> Scope:
        if text == _ALL:
            return Scope()
        if text.startswith(_WORKSPACE) and len(text) > len(_WORKSPACE):
            return Scope(text[len(_WORKSPACE) :])
        raise InvalidInput(f"unknown S3 key scope {text!r}: '*' or 'workspace:<name>'")

    def __str__(self) -> str:
        return _ALL if self.workspace is None else _WORKSPACE + self.workspace


FULL = Scope()


def allows(scope: Scope, repo_workspace: str | None) -> bool:
    """Whether a key of `scope` may read and write a repo that is internal to `repo_workspace`
    (None: a shared repo, of no workspace)."""
    return scope.workspace is None or repo_workspace in (None, scope.workspace)
