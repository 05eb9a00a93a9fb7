"""LocalExecutor: the executor port on this machine — a task is a supervised subprocess
(kaon.exec.process), inside bubblewrap where it can, with its inputs fetched to local disk.

Layout below `root` (the platform's `jobs` folder): a task runs in `<root>/<Task.key>/` — its
private inputs (`code/`), the output folder (`out/`), HOME (`home/`), TMPDIR (`tmp/`) and
`Task.files` — removed once the output sink has taken the outputs. Shared inputs are fetched
once per kept tree (kaon.exec.inputs) and bound read-only. The environment of a task's lock
comes from the EnvBuilder (cached: building it is `prepare`'s work, in the job's BUILDING
step). The platform's own folders (`hidden`) are hidden from the task.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from kaon.core.errors import InvalidInput
from kaon.exec.inputs import InputCache, remove_tree
from kaon.exec.process import ProcessRunner, RunSpec
from kaon.ports.content import Content, TreeRef
from kaon.ports.envbuilder import EnvBuilder, Environment, EnvLock, LogSink
from kaon.ports.executor import OutputSink, Place, RunResult, Task, Where

RESERVED = ("out", "home", "tmp", "inputs")  # a task folder's own names
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # a task's PATH after its environment when it sets none


class LocalExecutor:
    """Executor over local subprocesses. One instance serves many threads."""

    def __init__(
        self,
        content: Content,
        root: Path,
        envs: EnvBuilder,
        *,
        runtime: Path | None = None,
        hidden: tuple[Path, ...] = (),
        runner: ProcessRunner | None = None,
    ) -> None:
        self._root = root
        self._envs = envs
        self._runtime = runtime  # the kaon runtime (kaon.determinism), on PYTHONPATH
        self._hidden = hidden  # what user code must not see (the platform's home)
        self._runner = runner or ProcessRunner()
        self._inputs = InputCache(content, root / ".inputs")

    @property
    def can_sandbox(self) -> bool:
        return self._runner.can_sandbox

    @property
    def pfs_mode(self) -> str:
        return "bubblewrap" if self._runner.can_sandbox else "rewrite"

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        return self._runner.describe_memory(limit, default)

    def prepare(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> None:
        env = self._envs.ensure(lock, log, cancel)
        log(f"environment ready at {env.root}")

    def keep(self, trees: Sequence[TreeRef]) -> AbstractContextManager[None]:
        return self._inputs.keep(trees)

    def run(
        self, task: Task, log: LogSink, outputs: OutputSink, cancel: threading.Event
    ) -> RunResult:
        if not task.argv:
            raise InvalidInput("nothing to run: the command line is empty")
        clash = [n for n in (*task.inputs, *task.files) if n in RESERVED or "/" in n or not n]
        if clash:
            raise InvalidInput(f"task {task.key}: {clash[0]!r} cannot name an input or file")
        folder = self._root / task.key
        remove_tree(folder)
        folder.mkdir(parents=True)
        try:
            return self._run(task, folder, log, outputs, cancel)
        finally:
            remove_tree(folder)

    def _run(
        self, task: Task, folder: Path, log: LogSink, outputs: OutputSink, cancel: threading.Event
    ) -> RunResult:
        inputs: dict[str, Path] = {}
        shared: list[Path] = []
        for name, given in task.inputs.items():
            if given.private:
                inputs[name] = self._inputs.private(
                    given.tree, folder / name, given.overlay, given.executable
                )
            else:
                inputs[name] = self._inputs.shared(given.tree, folder / "inputs" / name)
                shared.append(inputs[name])
        out = folder / "out"
        for made in (out, folder / "home", folder / "tmp"):
            made.mkdir()
        for name, data in task.files.items():
            (folder / name).write_bytes(data)

        def path(value: str | Place) -> str:
            if isinstance(value, str):
                return value
            if value.where is Where.INPUT:
                if value.name not in inputs:
                    raise InvalidInput(f"task {task.key}: no input {value.name!r}")
                base = inputs[value.name]
            else:
                base = out if value.where is Where.OUTPUT else folder / value.name
            return str(base / value.rel if value.rel else base)

        env = self._envs.ensure(task.lock, log, cancel) if task.lock else None
        variables = {name: path(value) for name, value in task.env.items()}
        variables |= self._own_variables(variables.get("PATH") or BASE_PATH, env, folder)
        spec = RunSpec(
            argv=tuple(path(a) for a in task.argv),
            cwd=Path(path(task.workdir)),
            env=variables,
            timeout=task.limits.timeout,
            read_only=(*shared, *self._visible(env)),
            writable=(folder,),
            sandbox=task.limits.sandbox,
            hidden=self._hidden,
            memory_bytes=task.limits.memory_bytes,
            memory_default=task.limits.memory_default,
            labels=dict(task.labels),
        )
        result = self._runner.run(spec, log, cancel)
        outputs.deliver(out, result)
        return result

    def _own_variables(self, path: str, env: Environment | None, folder: Path) -> dict[str, str]:
        """What the backend sets itself (the port's step 3)."""
        values = {"HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp"), "PATH": path}
        if env is not None:
            values |= {"PATH": f"{env.bin_dir}:{path}", "VIRTUAL_ENV": str(env.root)}
        if self._runtime is not None:  # `from kaon.determinism import seed_everything` works
            values["PYTHONPATH"] = str(self._runtime)
        return values

    def _visible(self, env: Environment | None) -> tuple[Path, ...]:
        """What a task reads besides its inputs: the environment, the interpreter it links to,
        the kaon runtime."""
        found: list[Path] = []
        if env is not None:
            found += [env.root, Path(os.path.realpath(env.python)).parents[1]]
        if self._runtime is not None:
            found.append(self._runtime)
        return tuple(found)
