"""ScratchFolder: emptied at start-up, a fresh path per body."""

from __future__ import annotations

from pathlib import Path

from kaon.services.scratch import ScratchFolder


def test_reset_empties_the_folder_and_new_files_are_fresh(tmp_path: Path) -> None:
    scratch = ScratchFolder(tmp_path / "s3" / "tmp")
    scratch.reset()  # creates it
    left = scratch.new_file()
    left.write_bytes(b"a body a stop interrupted")
    assert scratch.new_file() != left and scratch.new_file().parent == scratch.root
    scratch.reset()
    assert scratch.root.is_dir() and list(scratch.root.iterdir()) == []
