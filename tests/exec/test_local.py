"""LocalExecutor: the executor port on this machine, with real processes and a real store.

The service says what runs (trees by content address, an environment lock, Places for the
paths); the local backend fetches the inputs itself, once per kept tree, runs the task and
hands its output folder to the sink. What any executor does with a task is the contract suite
kaon.testing.contracts.executor, run on this backend by tests/contract/test_execution_contracts.py;
here: the local backend's own cache of kept trees and its sweep at start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import TreeRef
from kaon.services.content import StoreContent
from kaon.testing.contracts.executor import probe_task, run_task
from kaon.wiring import Platform


class Counting:
    """The store's Content, counting what it fetches."""

    def __init__(self, inner: StoreContent) -> None:
        self.inner = inner
        self.fetched: list[TreeRef] = []

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        self.fetched.append(tree)
        return self.inner.checkout(tree, dest)


@pytest.fixture
def content(platform: Platform) -> Counting:
    return Counting(StoreContent(platform.repos, platform.files))


def executor(content: Counting, root: Path) -> LocalExecutor:
    return LocalExecutor(content, root, UvEnvBuilder(root / "envs"), hidden=())


def test_kept_trees_are_fetched_once_for_all_tasks(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = executor(content, tmp_path / "jobs")
    code, data = trees
    with ex.keep([code, data]):
        for i in range(3):
            lines, _, result = run_task(ex, probe_task(code, data, f"j/trials/{i}"))
            assert result.exit_code == 0 and lines[2] == 'params {"a": 2}', lines
        assert sorted(content.fetched, key=repr) == sorted([code, data], key=repr)
        assert len(list((tmp_path / "jobs" / ".inputs").glob("*/*"))) == 2
    assert list((tmp_path / "jobs" / ".inputs").glob("*/*")) == []  # dropped at the end
    run_task(ex, probe_task(code, data, "j/trials/3"))  # not kept: fetched for the task alone
    assert len(content.fetched) == 4


def test_folders_of_a_dead_server_are_removed_at_start(content: Counting, tmp_path: Path) -> None:
    stale = tmp_path / "jobs" / ".inputs" / "999999999-dead" / "tree"
    stale.mkdir(parents=True)
    stale.chmod(0o500)
    executor(content, tmp_path / "jobs")
    assert not stale.parent.exists()
