"""LocalExecutor: the executor port on this machine, with real processes and a real store.

The service says what runs (trees by content address, an environment lock, Places for the
paths); the local backend fetches the inputs itself, once per kept tree, runs the task and
hands its output folder to the sink.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.core.ids import CommitId, RepoName
from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.ports.content import TreeRef
from kaon.ports.executor import Input, Limits, Place, RunResult, Task
from kaon.services.content import StoreContent
from kaon.wiring import Platform

PROBE = b"""#!/bin/sh
echo "argv $1"
echo "data $(cat "$KAON_DATA_DIR/rows.csv")"
echo "params $(cat params.json)"
echo "file $(cat "$HYPER")"
echo "given $GIVEN"
echo "home $HOME"
mkdir -p "$1/model" && echo trained > "$1/model/m.txt"
echo "data mode $(stat -c %a "$KAON_DATA_DIR/rows.csv")"
exit ${CODE:-0}
"""


class Counting:
    """The store's Content, counting what it fetches."""

    def __init__(self, inner: StoreContent) -> None:
        self.inner = inner
        self.fetched: list[TreeRef] = []

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        self.fetched.append(tree)
        return self.inner.checkout(tree, dest)


class Outputs:
    """An OutputSink keeping what it was handed."""

    def __init__(self) -> None:
        self.delivered: list[tuple[dict[str, str], RunResult]] = []

    def deliver(self, folder: Path, result: RunResult) -> None:
        files = {
            str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()
        }
        self.delivered.append((files, result))


@pytest.fixture
def trees(platform: Platform, seed: Any) -> tuple[TreeRef, TreeRef]:
    platform.repos.create_repo("code")
    platform.repos.create_repo("data")
    code = seed.commit("code", {"/proj/train": PROBE, "/proj/params.json": b'{"a": 1}'})
    data = seed.commit("data", {"/rows.csv": b"1,2"})
    return (
        TreeRef(RepoName("code"), CommitId(str(code.id))),
        TreeRef(RepoName("data"), CommitId(str(data.id))),
    )


@pytest.fixture
def content(platform: Platform) -> Counting:
    return Counting(StoreContent(platform.repos, platform.files))


def executor(content: Counting, root: Path) -> LocalExecutor:
    return LocalExecutor(content, root, UvEnvBuilder(root / "envs"), hidden=())


def task(code: TreeRef, data: TreeRef, key: str, **env: str) -> Task:
    return Task(
        key=key,
        argv=("./train", Place.output()),
        workdir=Place.input("code", "proj"),
        inputs={
            "code": Input(
                code,
                private=True,
                overlay={"proj/params.json": b'{"a": 2}'},
                executable=("proj/train",),
            ),
            "data": Input(data),
        },
        env={
            "PATH": "/usr/bin:/bin",
            "KAON_DATA_DIR": Place.input("data"),
            "HYPER": Place.file("h.json"),
            **env,
        },
        files={"h.json": b'{"lr": 0.1}'},
        labels={"job": "j", "trial": key},
    )


def run(ex: LocalExecutor, t: Task) -> tuple[list[str], Outputs, RunResult]:
    lines: list[str] = []
    outputs = Outputs()
    result = ex.run(t, lines.append, outputs, threading.Event())
    return lines, outputs, result


def test_a_task_gets_its_inputs_by_address_and_hands_back_its_outputs(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = executor(content, tmp_path / "jobs")
    lines, outputs, result = run(ex, task(*trees, "j1/trials/0", GIVEN="yes"))
    assert result.exit_code == 0, lines
    folder = tmp_path / "jobs" / "j1" / "trials" / "0"
    assert lines[0] == f"argv {folder / 'out'}"
    assert lines[1:6] == [
        "data 1,2",
        'params {"a": 2}',  # the overlay, over the tree's own params.json
        'file {"lr": 0.1}',
        "given yes",
        f"home {folder / 'home'}",
    ]
    assert lines[6] == "data mode 400"  # a shared input is read-only
    assert outputs.delivered == [({"model/m.txt": "trained\n"}, result)]
    assert not folder.exists()  # the task's folder is gone once the sink took the outputs


def test_kept_trees_are_fetched_once_for_all_tasks(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = executor(content, tmp_path / "jobs")
    code, data = trees
    with ex.keep([code, data]):
        for i in range(3):
            lines, _, result = run(ex, task(code, data, f"j/trials/{i}"))
            assert result.exit_code == 0 and lines[2] == 'params {"a": 2}', lines
        assert sorted(content.fetched, key=repr) == sorted([code, data], key=repr)
        assert len(list((tmp_path / "jobs" / ".inputs").glob("*/*"))) == 2
    assert list((tmp_path / "jobs" / ".inputs").glob("*/*")) == []  # dropped at the end
    run(ex, task(code, data, "j/trials/3"))  # not kept: fetched for the task alone
    assert len(content.fetched) == 4


def test_the_sink_gets_every_run_even_a_failed_one(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = executor(content, tmp_path / "jobs")
    lines, outputs, result = run(ex, task(*trees, "j/trials/0", CODE="3"))
    assert result.exit_code == 3
    assert [r for _, r in outputs.delivered] == [result]
    missing = Task(
        key="j/trials/1",
        argv=("./nope",),
        workdir=Place.input("code"),
        inputs={"code": Input(trees[0], private=True)},
    )
    lines, outputs, result = run(ex, missing)
    assert result.exit_code == 127 and len(outputs.delivered) == 1, lines


def test_bad_tasks_are_refused(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    ex = executor(content, tmp_path / "jobs")
    with pytest.raises(InvalidInput, match="nothing to run"):
        run(ex, Task(key="k", argv=(), workdir=Place.output()))
    with pytest.raises(InvalidInput, match="'out' cannot name an input"):
        run(ex, Task(key="k", argv=("x",), workdir=Place.output(), inputs={"out": Input(trees[1])}))
    gone = TreeRef(RepoName("data"), CommitId("0" * 64))
    with pytest.raises(NotFound):
        run(ex, Task(key="k", argv=("x",), workdir=Place.output(), inputs={"d": Input(gone)}))
    assert not (tmp_path / "jobs" / "k").exists()


def test_a_task_runs_in_its_locked_environment(
    content: Counting, trees: tuple[TreeRef, TreeRef], tmp_path: Path
) -> None:
    envs = UvEnvBuilder(tmp_path / "envs", python=sys.executable)
    ex = LocalExecutor(content, tmp_path / "jobs", envs)
    lock = envs.lock("", print, threading.Event())
    built: list[str] = []
    ex.prepare(lock, built.append, threading.Event())
    assert built[-1].startswith("environment ready at ")
    probe = Task(
        key="e",
        argv=(
            "python",
            "-c",
            "import json, os, sys; print(json.dumps([sys.prefix, dict(os.environ)]))",
        ),
        workdir=Place.output(),
        lock=lock,
        env={"PATH": "/usr/bin:/bin", "KAON_X": "1"},
        limits=Limits(timeout=60),
    )
    lines, _, result = run(ex, probe)
    assert result.exit_code == 0, lines
    prefix, env = json.loads(lines[-1])
    root = str(envs.environment(lock.id).root)
    assert os.path.realpath(prefix) == os.path.realpath(root)
    assert env["VIRTUAL_ENV"] == root and env["PATH"] == f"{root}/bin:/usr/bin:/bin"
    assert set(env) - {"LC_CTYPE"} == {"PATH", "VIRTUAL_ENV", "HOME", "TMPDIR", "KAON_X"}


def test_folders_of_a_dead_server_are_removed_at_start(content: Counting, tmp_path: Path) -> None:
    stale = tmp_path / "jobs" / ".inputs" / "999999999-dead" / "tree"
    stale.mkdir(parents=True)
    stale.chmod(0o500)
    executor(content, tmp_path / "jobs")
    assert not stale.parent.exists()
