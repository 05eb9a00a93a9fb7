"""Who may read a pipeline's inputs: a pipeline reads a workspace's repo (its `feedback` repo,
say) only while its author may read that workspace; shared repos as any pipeline does.

Checked when the pipeline is created or updated (the caller's request) and again when each of
its jobs starts, as the author: a share taken back, or a user removed, stops the pipeline
reading at its next job (the job fails, saying why), as a Pachyderm pipeline runs with its
creator's rights."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kaon.core.errors import KaonError
from kaon.core.users import Action, Principal
from kaon.services.users import UserService


class InputAccess:
    def __init__(self, users: UserService, owner_of_repo: Callable[[str], str | None]) -> None:
        self._users = users
        self._owner_of_repo = owner_of_repo

    def check(self, who: Principal, repo: str) -> None:
        """Raise (Forbidden, WorkspaceNotFound) when `who` may not read input `repo`."""
        owner = self._owner_of_repo(repo)
        if owner is None:
            return
        try:
            self._users.check(who, Action.READ, owner)
        except KaonError as exc:
            raise type(exc)(
                f"input repo '{repo}' is workspace {owner!r}'s, which {who.describe()} may not "
                f"read: {exc.message}"
            ) from None

    def refused(self, author: str, repos: Iterable[str]) -> str | None:
        """Why the pipeline's `author` may not read one of `repos` now (None: every one may
        be read). A pipeline recorded without an author (before users) is not checked."""
        if not author:
            return None
        try:
            user = self._users.get(author)
        except KaonError:
            wanted = [r for r in repos if self._owner_of_repo(r) is not None]
            if not wanted:
                return None
            return (
                f"input repo '{wanted[0]}' is a workspace's and the pipeline's author "
                f"{author!r} is no user any more: update the pipeline as a user who may read it"
            )
        who = Principal(user.name, user.admin)
        for repo in repos:
            try:
                self.check(who, repo)
            except KaonError as exc:
                return f"{exc.message} (update the pipeline as a user who may read it)"
        return None
