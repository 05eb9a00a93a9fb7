"""The bundle layout rules, the same for a local folder (client) and a stored tree (server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kaon.core.bundlelayout import (
    REQUIREMENTS,
    SERVE_MODULE,
    TRAIN,
    has_shebang,
    is_executable,
    requirements_candidates,
    shallowest,
)

Tree = Mapping[str, Any]  # name -> sub-tree, or None for a file


def listing(tree: Tree) -> list[tuple[str, Tree | None]]:
    return list(tree.items())


def test_the_shallowest_train_wins_in_name_order() -> None:
    tree: Tree = {"b": {"train": None}, "a": {"model": {"train": None}}, "README": None}
    assert shallowest(tree, listing, TRAIN) == ["b/"]
    assert shallowest({"train": None, "x": {"train": None}}, listing, TRAIN) == [""]


def test_two_at_one_depth_are_both_reported() -> None:
    tree: Tree = {"z": {"train": None}, "a": {"train": None}}
    assert shallowest(tree, listing, TRAIN) == ["a/", "z/"]


def test_hidden_folders_are_not_searched_and_folders_are_not_files() -> None:
    tree: Tree = {".venv": {"model.py": None}, "train": {"x": None}, "m": {"model.py": None}}
    assert shallowest(tree, listing, SERVE_MODULE) == ["m/"]
    assert shallowest(tree, listing, TRAIN) == []


def test_requirements_beside_the_code_then_at_the_root() -> None:
    assert requirements_candidates("mnist/model/") == ("mnist/model/requirements.txt", REQUIREMENTS)
    assert requirements_candidates("") == (REQUIREMENTS, REQUIREMENTS)


def test_executables() -> None:
    assert has_shebang(b"#!/usr/bin/env python3") and not has_shebang(b"import os")
    assert is_executable("train", b"") and is_executable("serve", b"")
    assert is_executable("tool.sh", b"#!") and not is_executable("params.json", b"{}")


def test_notebook_tools_are_added_once() -> None:
    from kaon.core.bundlelayout import runs_papermill, with_notebook_tools

    assert with_notebook_tools("") == "papermill\nipykernel\n"
    assert with_notebook_tools("numpy==2.0") == "numpy==2.0\npapermill\nipykernel\n"
    kept = "Papermill>=2.6 ; python_version>'3'\nipykernel[test]\n"
    assert with_notebook_tools(kept) == kept
    assert runs_papermill(["papermill", "a.ipynb", "/pfs/out/a.ipynb"])
    assert runs_papermill(["/env/bin/papermill", "a.ipynb", "b.ipynb"])
    assert runs_papermill(["python3", "-m", "papermill", "a.ipynb", "b.ipynb"])
    assert not runs_papermill(["python3", "papermill.py"])
    assert not runs_papermill([])
