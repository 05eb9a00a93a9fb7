"""Task folders dropped at once and removed in the background (kaon.exec.reaper)."""

from __future__ import annotations

from pathlib import Path

from kaon.exec.reaper import Reaper, Trash


def test_a_discarded_folder_is_gone_at_once_and_removed_later(tmp_path: Path) -> None:
    reaper = Reaper()
    trash = Trash(tmp_path, reaper)
    folder = tmp_path / "job" / "0"
    (folder / "out" / "deep").mkdir(parents=True)
    (folder / "out" / "deep" / "f").write_text("x")
    (folder / "out" / "deep").chmod(0o500)  # made read-only by the task
    trash.discard(folder)
    assert not folder.exists()
    reaper.drain()
    assert list((tmp_path / ".trash").rglob("*")) == [next((tmp_path / ".trash").iterdir())]
    trash.discard(tmp_path / "missing")  # nothing to do


def test_trash_of_a_dead_server_is_removed_at_start(tmp_path: Path) -> None:
    stale = tmp_path / ".trash" / "999999999-dead" / "0"
    stale.mkdir(parents=True)
    Trash(tmp_path, Reaper())
    assert not stale.parent.exists()
