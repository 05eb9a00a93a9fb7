"""Executor contract: what every executor backend does with a task (kaon.ports.executor).

A backend's tests provide the fixtures:
- `executor`: the Executor under test, its environments built by `env_builder`;
- `env_builder`: an EnvBuilder whose environments the executor runs tasks in;
- `trees`: (code, data) TreeRefs of two stored commits, code holding PROBE at /proj/train and
  {"a": 1} at /proj/params.json, data holding "1,2" at /rows.csv (see `PROBE`);
- `task_folder`: key → the folder where the backend runs the task of that key (its `out`
  and `home` below it), to check the paths a task is given.

`ExecutorContract` includes kaon.testing.contracts.pfs's `PfsContract` (Task.pfs, stdin,
views, symlinks of /pfs/out) and `BatchContract` (run_batch).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kaon.core.errors import InvalidInput, NotFound
from kaon.core.ids import CommitId, RepoName
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.executor import Executor, Input, Limits, Place, RunResult, Task
from kaon.testing.contracts.pfs import BatchContract, PfsContract

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
CODE_FILES = {"/proj/train": PROBE, "/proj/params.json": b'{"a": 1}'}
DATA_FILES = {"/rows.csv": b"1,2"}


class Outputs:
    """An OutputSink keeping what it was handed."""

    def __init__(self) -> None:
        self.delivered: list[tuple[dict[str, str], RunResult]] = []

    def deliver(self, folder: Path, result: RunResult) -> None:
        files = {
            str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()
        }
        self.delivered.append((files, result))


def probe_task(code: TreeRef, data: TreeRef, key: str, **env: str) -> Task:
    """PROBE run on `data` with a private, overlaid copy of `code`."""
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


def run_task(ex: Executor, t: Task) -> tuple[list[str], Outputs, RunResult]:
    lines: list[str] = []
    outputs = Outputs()
    result = ex.run(t, lines.append, outputs, threading.Event())
    return lines, outputs, result


class ExecutorContract(PfsContract, BatchContract):
    """Inputs by address, outputs to the sink on every run, bad tasks refused, the lock used."""

    def test_a_task_gets_its_inputs_by_address_and_hands_back_its_outputs(
        self,
        executor: Executor,
        trees: tuple[TreeRef, TreeRef],
        task_folder: Callable[[str], Path],
    ) -> None:
        lines, outputs, result = run_task(executor, probe_task(*trees, "j1/trials/0", GIVEN="yes"))
        assert result.exit_code == 0, lines
        folder = task_folder("j1/trials/0")
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

    def test_the_sink_gets_every_run_even_a_failed_one(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        lines, outputs, result = run_task(executor, probe_task(*trees, "j/trials/0", CODE="3"))
        assert result.exit_code == 3
        assert [r for _, r in outputs.delivered] == [result]
        missing = Task(
            key="j/trials/1",
            argv=("./nope",),
            workdir=Place.input("code"),
            inputs={"code": Input(trees[0], private=True)},
        )
        lines, outputs, result = run_task(executor, missing)
        assert result.exit_code == 127 and len(outputs.delivered) == 1, lines

    def test_bad_tasks_are_refused(
        self,
        executor: Executor,
        trees: tuple[TreeRef, TreeRef],
        task_folder: Callable[[str], Path],
    ) -> None:
        ex = executor
        with pytest.raises(InvalidInput, match="nothing to run"):
            run_task(ex, Task(key="k", argv=(), workdir=Place.output()))
        with pytest.raises(InvalidInput, match="'out' cannot name an input"):
            run_task(
                ex,
                Task(key="k", argv=("x",), workdir=Place.output(), inputs={"out": Input(trees[1])}),
            )
        gone = TreeRef(RepoName("data"), CommitId("0" * 64))
        with pytest.raises(NotFound):
            run_task(
                ex, Task(key="k", argv=("x",), workdir=Place.output(), inputs={"d": Input(gone)})
            )
        assert not task_folder("k").exists()

    def test_a_task_runs_in_its_locked_environment(
        self, executor: Executor, env_builder: EnvBuilder
    ) -> None:
        lock = env_builder.lock("", print, threading.Event())
        built: list[str] = []
        executor.prepare(lock, built.append, threading.Event())
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
        lines, _, result = run_task(executor, probe)
        assert result.exit_code == 0, lines
        prefix, env = json.loads(lines[-1])
        root = str(env_builder.ensure(lock, print, threading.Event()).root)
        assert os.path.realpath(prefix) == os.path.realpath(root)
        assert env["VIRTUAL_ENV"] == root and env["PATH"] == f"{root}/bin:/usr/bin:/bin"
        # PYTHONPATH: the kaon runtime, where the backend has one (see kaon.ports.executor)
        assert set(env) - {"LC_CTYPE", "PYTHONPATH"} == {
            "PATH",
            "VIRTUAL_ENV",
            "HOME",
            "TMPDIR",
            "KAON_X",
        }

    def test_cancel_kills_the_task_and_the_sink_still_gets_it(self, executor: Executor) -> None:
        cancel = threading.Event()
        lines: list[str] = []

        def log(line: str) -> None:  # the task is running once it printed: no race
            lines.append(line)
            cancel.set()

        outputs = Outputs()
        sleeper = Task(
            key="c",
            argv=("sh", "-c", "echo started; sleep 100 & wait"),
            workdir=Place.output(),
            env={"PATH": "/usr/bin:/bin"},
        )
        result = executor.run(sleeper, log, outputs, cancel)
        assert result.cancelled and not result.timed_out and result.exit_code is None, lines
        assert [r for _, r in outputs.delivered] == [result]
