"""Content contract: what every Content does (kaon.ports.content). A backend's tests provide
the fixtures `content` (the Content under test) and `trees` (two TreeRefs of the same store:
a commit holding CODE_FILES and one holding DATA_FILES, see kaon.testing.contracts.executor)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kaon.core.errors import NotFound
from kaon.core.ids import CommitId
from kaon.ports.content import Content, TreeRef
from kaon.testing.contracts.executor import CODE_FILES, DATA_FILES


def _files(root: Path) -> dict[str, bytes]:
    return {
        "/" + p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


class ContentContract:
    """A tree checked out whole or in part, byte for byte; a missing commit is NotFound."""

    def test_a_tree_is_checked_out_byte_for_byte(
        self, content: Content, trees: tuple[TreeRef, TreeRef], tmp_path: Path
    ) -> None:
        code, data = trees
        written = content.checkout(code, tmp_path / "new" / "code")  # a folder not made yet
        assert _files(tmp_path / "new" / "code") == CODE_FILES
        assert written == sum(len(b) for b in CODE_FILES.values())
        content.checkout(data, tmp_path / "data")
        assert _files(tmp_path / "data") == DATA_FILES

    def test_a_path_checks_out_that_folder_only(
        self, content: Content, trees: tuple[TreeRef, TreeRef], tmp_path: Path
    ) -> None:
        code, _ = trees
        content.checkout(dataclasses.replace(code, path="/proj"), tmp_path / "proj")
        expected = {k.removeprefix("/proj"): v for k, v in CODE_FILES.items()}
        assert _files(tmp_path / "proj") == expected

    def test_a_missing_commit_is_not_found(
        self, content: Content, trees: tuple[TreeRef, TreeRef], tmp_path: Path
    ) -> None:
        code, _ = trees
        with pytest.raises(NotFound):
            content.checkout(dataclasses.replace(code, commit=CommitId("f" * 32)), tmp_path / "x")
