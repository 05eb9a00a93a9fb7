"""How a bundle folder is named and laid out on upload: `train get`'s `<name>:<hash>` folders
come back as `<name>` (the same tree, so the same bundle id)."""

from __future__ import annotations

import os
from pathlib import Path

from kaon.client.bundles import bundle_files, layout, restore_modes


def tree(root: Path, *files: str) -> Path:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    return root


def remotes(folder: Path) -> list[str]:
    return sorted(f.remote for f in bundle_files(folder))


def test_a_plain_folder_is_named_by_its_single_top_folder(tmp_path: Path) -> None:
    src = tree(tmp_path / "model-train", "mnist/model/train")
    assert layout(src) == ("mnist", None, "mnist")
    assert remotes(src) == ["/mnist/model/train"]
    loose = tree(tmp_path / "proj", "train", "requirements.txt")
    assert layout(loose) == ("proj", None, "proj")


def test_the_hash_suffix_of_a_fetched_folder_is_dropped(tmp_path: Path) -> None:
    code = tree(tmp_path / "code", "mnist:6baa7/model/train", ".hidden")
    assert layout(code) == ("mnist", "mnist:6baa7", "mnist")
    assert remotes(code) == ["/.hidden", "/mnist/model/train"]
    inner = code / "mnist:6baa7"  # the fetched folder itself: becomes mnist/ again
    assert layout(inner) == ("mnist", "", "mnist")
    assert remotes(inner) == ["/mnist/model/train"]
    loose = tree(tmp_path / "get" / "proj:0a1b2c", "train", "requirements.txt")
    assert layout(loose) == ("proj", None, "proj")  # loose files stay at the root
    assert remotes(loose) == ["/requirements.txt", "/train"]
    odd = tree(tmp_path / "x", "notes:draft/a.txt")  # not a hash: kept as it is
    assert layout(odd)[1] is None and remotes(odd) == ["/notes:draft/a.txt"]


def test_restore_modes(tmp_path: Path) -> None:
    root = tree(tmp_path / "b", "m/train", "m/tool.sh", "m/params.json")
    (root / "m" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    restore_modes(root)
    assert os.access(root / "m" / "train", os.X_OK)
    assert os.access(root / "m" / "tool.sh", os.X_OK)
    assert not os.access(root / "m" / "params.json", os.X_OK)


def test_a_notebook_is_an_entry_point_when_there_is_no_train(tmp_path: Path) -> None:
    import pytest

    from kaon.client.bundles import check_source
    from kaon.core.errors import InvalidBundle

    code = tmp_path / "nb" / "model"
    code.mkdir(parents=True)
    (code / "requirements.txt").write_text("")
    (code / "train.ipynb").write_text('{"cells": [], "nbformat": 4}')
    assert check_source(tmp_path / "nb") == code / "train.ipynb"  # no #! or +x needed
    (code / "train.ipynb").write_text("not json")
    with pytest.raises(InvalidBundle, match="is not a notebook"):
        check_source(tmp_path / "nb")
    (code / "train").write_text("#!/bin/sh\n")
    (code / "train").chmod(0o755)
    assert check_source(tmp_path / "nb") == code / "train"  # a `train` file comes first
