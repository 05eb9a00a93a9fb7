"""What `kaon notebook save` takes of a working folder (kaon.services.notebooksave): files in
order, Jupyter's folders and symlinks left out; the fingerprint ignores cells' outputs."""

from __future__ import annotations

import json
from pathlib import Path

from kaon.services.notebooksave import content, files_of, fingerprint


def notebook(source: str, outputs: list[dict[str, object]]) -> str:
    cell = {
        "cell_type": "code",
        "execution_count": 1 if outputs else None,
        "metadata": {},
        "outputs": outputs,
        "source": [source],
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_jupyters_folders_and_symlinks_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("b")
    (tmp_path / "a.ipynb").write_text(notebook("1", []))
    for junk in (".ipynb_checkpoints", "__pycache__", ".virtual_documents"):
        (tmp_path / junk).mkdir()
        (tmp_path / junk / "x").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a.ipynb")
    assert [rel for rel, _ in files_of(tmp_path)] == ["/a.ipynb", "/sub/b.py"]


def test_outputs_are_stripped_unless_kept(tmp_path: Path) -> None:
    out = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    path = tmp_path / "a.ipynb"
    path.write_text(notebook("print(1)", out))
    stripped = json.loads(content(path, outputs=False))
    assert stripped["cells"][0]["outputs"] == []
    assert json.loads(content(path, outputs=True))["cells"][0]["outputs"] == out
    other = tmp_path / "a.py"
    other.write_text('{"cells": []}')
    assert content(other, outputs=False) == b'{"cells": []}'  # only notebooks are edited


def test_the_fingerprint_sees_code_not_outputs(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    path.write_text(notebook("print(1)", []))
    before = fingerprint(tmp_path)
    path.write_text(notebook("print(1)", [{"output_type": "stream", "name": "x", "text": []}]))
    assert fingerprint(tmp_path) == before  # running a cell is no change
    path.write_text(notebook("print(2)", []))
    assert fingerprint(tmp_path) != before
    (tmp_path / "new.txt").write_text("")
    assert fingerprint(tmp_path) not in (before, "")
    assert fingerprint(tmp_path / "missing") == ""
