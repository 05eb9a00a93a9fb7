"""`plan -r` and symbolic links (what `kaon put file -r` sends): links leaving the folder and
linked folders are refused by name unless followed; a followed loop ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaon.client.localfiles import plan
from kaon.core.errors import InvalidInput


def test_a_link_to_an_ancestor_is_walked_once_when_followed(tmp_path: Path) -> None:
    (tmp_path / "top" / "sub").mkdir(parents=True)
    (tmp_path / "top" / "sub" / "f.txt").write_text("f")
    (tmp_path / "top" / "sub" / "up").symlink_to(tmp_path / "top")
    with pytest.raises(InvalidInput, match="sub/up is a symbolic link to the folder"):
        plan(tmp_path / "top", "/", True)
    files = plan(tmp_path / "top", "/", True, follow_links=True)
    assert [f.remote for f in files] == ["/sub/f.txt"]


def test_inside_links_and_dangling_ones(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_text("a")
    (tmp_path / "d" / "b").symlink_to("a")  # relative, inside
    (tmp_path / "d" / "gone").symlink_to("nowhere")  # dangling, inside: nothing to put
    assert [f.remote for f in plan(tmp_path / "d", "/", True)] == ["/a", "/b"]
    (tmp_path / "d" / "out").symlink_to("../outside.txt")
    (tmp_path / "outside.txt").write_text("o")
    with pytest.raises(InvalidInput, match="outside"):
        plan(tmp_path / "d", "/", True)
    assert len(plan(tmp_path / "d", "/", True, check_links=False)) == 3
