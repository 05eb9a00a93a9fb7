"""StoreContent: the Content port over this platform's repos (see kaon.ports.content)."""

from __future__ import annotations

from pathlib import Path

from kaon.core.address import Ref
from kaon.ports.content import TreeRef
from kaon.services.files import FileService
from kaon.services.localfs import checkout
from kaon.services.repos import RepoService


class StoreContent:
    def __init__(self, repos: RepoService, files: FileService) -> None:
        self._repos = repos
        self._files = files

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        commit = self._repos.resolve_required(tree.repo, Ref(tree.commit))
        return checkout(self._files, commit, tree.path, dest)
