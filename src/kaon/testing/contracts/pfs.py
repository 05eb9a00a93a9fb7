"""Executor contract, Pachyderm's part (kaon.ports.executor): Task.pfs, Task.stdin,
Input.select and Input.empty_files, the symlinks of /pfs/out (`PfsContract`), and datum
batching, `Executor.run_batch` (`BatchContract`). Both are part of
kaon.testing.contracts.executor.ExecutorContract, and runnable alone on a backend forced
into another /pfs mode. Fixtures: `executor` and `trees`, as there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kaon.ports.content import TreeRef
from kaon.ports.executor import BatchDatum, Executor, Input, Limits, Place, RunResult, Task


class Links:
    """An OutputSink keeping every path it was handed: a file's text, a symlink's target."""

    def __init__(self) -> None:
        self.delivered: list[dict[str, str]] = []

    def deliver(self, folder: Path, result: RunResult) -> None:
        found = {}
        for p in folder.rglob("*"):
            if p.is_symlink():
                found[str(p.relative_to(folder))] = f"-> {p.readlink()}"
            elif p.is_file():
                found[str(p.relative_to(folder))] = p.read_text()
        self.delivered.append(found)


def pfs_task(key: str, inputs: dict[str, Input], *lines: str, **env: str) -> Task:
    """`lines` run by /bin/sh from stdin, with Pachyderm's /pfs."""
    return Task(
        key=key,
        argv=("/bin/sh", "-e"),
        workdir=Place.output(),
        inputs=inputs,
        env={"PATH": "/usr/bin:/bin", **env},
        stdin=lines,
        pfs=True,
    )


def run_links(ex: Executor, t: Task) -> tuple[list[str], dict[str, str], RunResult]:
    lines: list[str] = []
    outputs = Links()
    result = ex.run(t, lines.append, outputs, threading.Event())
    assert len(outputs.delivered) == 1
    return lines, outputs.delivered[0], result


class PfsContract:
    """Pachyderm's layout: /pfs/<input> and /pfs/out, whichever way the backend gives it."""

    def test_literal_pfs_paths_work_in_argv_stdin_and_variables(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        assert executor.pfs_mode in ("bubblewrap", "rewrite")
        task = pfs_task(
            "p/datums/0",
            {"data": Input(trees[1])},
            "cat /pfs/data/rows.csv; echo",
            "cd /pfs && ls",
            'echo "$WHERE" "$PFS_DIR"',
            "echo made > /pfs/out/a.txt",
            WHERE="/pfs/out/a.txt",
        )
        lines, delivered, result = run_links(executor, task)
        assert result.exit_code == 0, lines
        assert lines[:3] == ["1,2", "data", "out"]
        where, pfs_dir = lines[3].split(" ")
        assert where == f"{pfs_dir}/out/a.txt"
        assert (pfs_dir == "/pfs") == (executor.pfs_mode == "bubblewrap")
        assert delivered == {"a.txt": "made\n"}
        argv = Task(
            key="p/datums/1",
            argv=("/bin/sh", "-c", "cat /pfs/data/rows.csv > /pfs/out/copy"),
            workdir=Place.output(),
            inputs={"data": Input(trees[1])},
            env={"PATH": "/usr/bin:/bin"},
            pfs=True,
        )
        lines, delivered, result = run_links(executor, argv)
        assert result.exit_code == 0, lines
        assert delivered == {"copy": "1,2"}

    def test_a_view_shows_only_the_selected_paths(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        listing = ("cd /pfs/code && find . | sort",)
        one = {"code": Input(code, select=("/proj/params.json",))}
        lines, _, result = run_links(executor, pfs_task("v/datums/0", one, *listing))
        assert result.exit_code == 0, lines
        assert lines == [".", "./proj", "./proj/params.json"]
        folder = {"code": Input(code, select=("/proj",))}
        lines, _, result = run_links(executor, pfs_task("v/datums/1", folder, *listing))
        assert lines == [".", "./proj", "./proj/params.json", "./proj/train"], lines
        whole = {"code": Input(code, select=("/",))}
        lines, _, result = run_links(executor, pfs_task("v/datums/2", whole, *listing))
        assert lines == [".", "./proj", "./proj/params.json", "./proj/train"], lines
        with executor.keep([code]):  # a view of the kept copy, without /pfs too
            for i in range(2):
                plain = Task(
                    key=f"v/trials/{i}",
                    argv=("/bin/sh", "-c", "find . | sort; cat proj/params.json"),
                    workdir=Place.input("code"),
                    inputs={"code": Input(code, select=("proj/params.json",))},
                    env={"PATH": "/usr/bin:/bin"},
                )
                lines, _, result = run_links(executor, plain)
                assert lines == [".", "./proj", "./proj/params.json", '{"a": 1}'], lines

    def test_empty_files_have_names_and_no_content(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        inputs = {"data": Input(trees[1], empty_files=True)}
        task = pfs_task("e/datums/0", inputs, "wc -c < /pfs/data/rows.csv", "ls /pfs/data")
        lines, _, result = run_links(executor, task)
        assert result.exit_code == 0, lines
        assert lines == ["0", "rows.csv"]

    def test_stdin_lines_reach_the_process_then_it_is_closed(self, executor: Executor) -> None:
        task = Task(
            key="s/0",
            argv=("cat",),
            workdir=Place.output(),
            env={"PATH": "/usr/bin:/bin"},
            stdin=("one", "two /pfs/x", Place.output("x")),  # no pfs: nothing is rewritten
        )
        lines, _, result = run_links(executor, task)
        assert result.exit_code == 0 and lines[:2] == ["one", "two /pfs/x"], lines
        assert lines[2].endswith("/out/x") and lines[2].startswith("/")  # a Place, resolved
        lines, _, result = run_links(
            executor,
            Task(key="s/1", argv=("cat",), workdir=Place.output(), env={"PATH": "/usr/bin:/bin"}),
        )
        assert result.exit_code == 0 and lines == []  # no stdin: /dev/null

    def test_symlinks_into_an_input_are_given_as_pfs_paths(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        task = pfs_task(
            "l/datums/0",
            {"data": Input(trees[1]), "code": Input(trees[0], select=("/proj",))},
            "ln -s /pfs/data/rows.csv /pfs/out/absolute",
            "mkdir /pfs/out/sub && ln -s ../../code/proj/params.json /pfs/out/sub/relative",
            'ln -s "$(cd /pfs/code/proj && pwd -P)/train" /pfs/out/resolved',
            "ln -s /nowhere/at/all /pfs/out/dangling",
            "ln -s a.txt /pfs/out/inside && echo x > /pfs/out/a.txt",
            "ln -s /etc/hostname /pfs/out/elsewhere",
        )
        lines, delivered, result = run_links(executor, task)
        assert result.exit_code == 0, lines
        assert delivered == {
            "absolute": "-> /pfs/data/rows.csv",
            "sub/relative": "-> /pfs/code/proj/params.json",
            "resolved": "-> /pfs/code/proj/train",
            "dangling": "-> /nowhere/at/all",
            "inside": "-> a.txt",
            "a.txt": "x\n",
            "elsewhere": "-> /etc/hostname",
        }


BATCHER = """
import os
from kaon.runtime.datums import next_datum
me = os.urandom(8).hex()  # this process (a pid may repeat in a new pid namespace)
while (datum := next_datum()) is not None:
    found = [os.path.join(top, f) for top, _, fs in os.walk("/pfs/code") for f in fs]
    files = sorted("/" + os.path.relpath(f, "/pfs/code") for f in found)
    print("datum", datum["PACH_DATUM_ID"], os.environ["PACH_DATUM_ID"], *files)
    if datum["PACH_DATUM_ID"] == "bad":
        raise SystemExit(3)
    with open(f"/pfs/out/{datum['PACH_DATUM_ID']}", "w") as f:
        f.write(me)
print("no more")
"""


class Feed:
    """A DatumFeed of `datums` (key → select of the code tree), each with its own sink and
    log, recording what it was told."""

    def __init__(self, code: TreeRef, datums: dict[str, tuple[str, ...]]) -> None:
        self.todo = [
            BatchDatum(
                key,
                {"code": Input(code, select=select)},
                Links(),
                env={"PACH_DATUM_ID": key},
                log=self._log(key),
            )
            for key, select in datums.items()
        ]
        self.all = list(self.todo)
        self.logs: dict[str, list[str]] = {key: [] for key in datums}
        self.finished_: list[tuple[str, int | None, bool]] = []

    def _log(self, key: str) -> Callable[[str], None]:
        return lambda line: self.logs[key].append(line)

    def next_datum(self) -> BatchDatum | None:
        return self.todo.pop(0) if self.todo else None

    def finished(self, datum: BatchDatum, result: RunResult) -> None:
        assert isinstance(datum.outputs, Links) and len(datum.outputs.delivered) == 1
        self.finished_.append((datum.key, result.exit_code, result.cancelled))

    def outputs(self, key: str) -> dict[str, str]:
        for datum in self.all:
            if datum.key == key:
                assert isinstance(datum.outputs, Links)
                return datum.outputs.delivered[0]
        raise KeyError(key)


def batch_task(key: str, code: TreeRef, *argv: str, stdin: tuple[str, ...] = ()) -> Task:
    return Task(
        key=key,
        argv=argv or (sys.executable, "-c", BATCHER),
        workdir=Place.output(),
        inputs={"code": Input(code)},
        env={"PATH": "/usr/bin:/bin"},
        stdin=stdin,
        pfs=True,
    )


class BatchContract:
    """Datum batching: one long-lived process asks for datum after datum."""

    def run_feed(self, ex: Executor, task: Task, feed: Feed) -> tuple[list[str], RunResult]:
        lines: list[str] = []
        result = ex.run_batch(task, feed, lines.append, threading.Event())
        return lines, result

    def test_one_process_handles_the_datums_each_seeing_its_own_view(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"a": ("/proj/train",), "b": ("/proj/params.json",), "c": ()})
        lines, result = self.run_feed(executor, batch_task("bt/0", code), feed)
        assert result.exit_code == 0 and not result.cancelled, (lines, feed.logs)
        assert feed.finished_ == [("a", 0, False), ("b", 0, False), ("c", 0, False)]
        assert feed.logs == {
            "a": ["datum a a /proj/train"],
            "b": ["datum b b /proj/params.json"],
            "c": ["datum c c /proj/params.json /proj/train"],
        }, (lines, feed.logs)
        assert lines == ["no more"]
        process = {key: feed.outputs(key)[key] for key in "abc"}
        assert len(set(process.values())) == 1, process  # one process for all three
        assert feed.outputs("b") == {"b": process["b"]}  # /pfs/out emptied between datums

    def test_a_failing_datum_fails_alone_and_the_rest_go_to_a_new_process(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"a": (), "bad": (), "c": (), "d": ()})
        lines, result = self.run_feed(executor, batch_task("bt/1", code), feed)
        assert result.exit_code == 0, (lines, feed.logs)
        assert feed.finished_ == [
            ("a", 0, False),
            ("bad", 3, False),
            ("c", 0, False),
            ("d", 0, False),
        ]
        assert feed.outputs("bad") == {}
        first, second = feed.outputs("a")["a"], feed.outputs("c")["c"]
        assert first != second and feed.outputs("d")["d"] == second

    def test_a_shell_asks_with_kaon_next_datum(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"x": ("/proj/train",), "y": ("/proj/params.json",)})
        script = (
            "me=$(od -An -N8 -tx8 /dev/urandom)",  # $$ may repeat in a new pid namespace
            'while d=$(kaon-next-datum); do eval "$d"; '
            'echo "$PACH_DATUM_ID $(ls /pfs/code/proj)"; echo $me > /pfs/out/pid; '
            "ln -s /pfs/code/proj/* /pfs/out/; done",
            "echo finished",
        )
        lines, result = self.run_feed(
            executor, batch_task("bt/2", code, "/bin/sh", stdin=script), feed
        )
        assert result.exit_code == 0, (lines, feed.logs)
        assert feed.logs == {"x": ["x train"], "y": ["y params.json"]}, (lines, feed.logs)
        assert lines == ["finished"]
        assert feed.outputs("x")["pid"] == feed.outputs("y")["pid"]
        assert feed.outputs("x")["train"] == "-> /pfs/code/proj/train"  # links normalised
        assert feed.outputs("y")["params.json"] == "-> /pfs/code/proj/params.json"
        assert "train" not in feed.outputs("y")

    def test_code_that_never_asks_fails_every_datum(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"a": (), "b": ()})
        self.run_feed(executor, batch_task("bt/3", code, "/bin/true"), feed)
        assert [(k, code != 0) for k, code, _ in feed.finished_] == [("a", True), ("b", True)]
        assert all("next_datum" in log[0] for log in feed.logs.values()), feed.logs

    def test_cancel_kills_the_batch_process(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        cancel = threading.Event()
        feed = Feed(code, {"slow": (), "never": ()})
        feed.logs["slow"] = _Setter(cancel)
        script = ("d=$(kaon-next-datum); echo started; sleep 100 & wait",)
        task = batch_task("bt/4", code, "/bin/sh", stdin=script)
        result = executor.run_batch(task, feed, print, cancel)
        assert result.cancelled and result.exit_code is None
        assert feed.finished_ == [("slow", None, True)]  # "never" was never handed out
        assert [d.key for d in feed.todo] == ["never"]

    def test_a_datum_past_its_timeout_fails_and_the_rest_continue(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"slow": (), "quick": ()})
        script = (
            'while d=$(kaon-next-datum); do eval "$d"; '
            '[ "$PACH_DATUM_ID" = slow ] && sleep 100; echo ok > /pfs/out/done; done',
        )
        task = replace(
            batch_task("bt/5", code, "/bin/sh", stdin=script), limits=Limits(timeout=0.5)
        )
        lines, result = self.run_feed(executor, task, feed)
        assert feed.finished_ == [("slow", None, False), ("quick", 0, False)], lines
        assert feed.logs["slow"] == ["timed out after 0.5 s: stopping the process and its children"]
        assert feed.outputs("quick") == {"done": "ok\n"}
        assert result.exit_code == 0

    def test_a_datum_whose_view_cannot_be_made_fails_without_the_process(
        self, executor: Executor, trees: tuple[TreeRef, TreeRef]
    ) -> None:
        code = trees[0]
        feed = Feed(code, {"a": (), "gone": ("/no/such/path",), "c": ()})
        lines, result = self.run_feed(executor, batch_task("bt/6", code), feed)
        assert result.exit_code == 0
        assert feed.finished_ == [("a", 0, False), ("gone", 1, False), ("c", 0, False)], lines
        assert "/no/such/path" in feed.logs["gone"][0]
        assert feed.outputs("a")["a"] == feed.outputs("c")["c"]  # the same process


class _Setter(list[str]):
    """A log that sets `cancel` at its first line (the process runs then: no race)."""

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self.cancel = cancel

    def append(self, line: str) -> None:
        super().append(line)
        self.cancel.set()
