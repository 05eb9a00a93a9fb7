"""LocalExecutor: the executor port on this machine — a task is a supervised subprocess
(kaon.exec.process), inside bubblewrap where it can, with its inputs fetched to local disk.

Layout below `root` (the platform's `jobs` folder): a task runs in `<root>/<Task.key>/` — its
private inputs (`code/`), the output folder (`out/`), HOME (`home/`), TMPDIR (`tmp/`) and
`Task.files` — removed once the output sink has taken the outputs. Shared inputs are fetched
once per kept tree (kaon.exec.inputs) and bound read-only. The environment of a task's lock
comes from the EnvBuilder (cached: building it is `prepare`'s work, in the job's BUILDING
step). The platform's own folders (`hidden`) are hidden from the task. A shared input with
`select` or `empty_files` is seen through a view of the kept copy (`views/<name>`), and a task
with `pfs` gets Pachyderm's /pfs (kaon.exec.pfs): its inputs and `out` below `pfs/`;
`run_batch` runs many datums through one process (kaon.exec.batch). Task folders are removed
in the background (kaon.exec.reaper).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from kaon.core.backends import BackendHealth, BackendRole
from kaon.core.errors import InvalidInput
from kaon.core.units import human_size
from kaon.exec.batch import Batch, Views
from kaon.exec.inputs import InputCache, remove_tree
from kaon.exec.pfs import (
    BUBBLEWRAP,
    REWRITE,
    PfsLayout,
    build_view,
    configured_mode,
    normalise_links,
)
from kaon.exec.process import ProcessRunner, RunSpec
from kaon.exec.reaper import Trash
from kaon.ports.content import Content, TreeRef
from kaon.ports.envbuilder import EnvBuilder, Environment, EnvLock, LogSink
from kaon.ports.executor import DatumFeed, OutputSink, Place, RunResult, Task, Where

RESERVED = ("out", "home", "tmp", "inputs", "views", "pfs")  # a task folder's own names
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # a task's PATH after its environment when it sets none
logger = logging.getLogger("kaon.exec")


def local_health(role: BackendRole, sandboxed: bool) -> BackendHealth:
    """What the local executor and the local replicas say of this machine."""
    try:
        memory = human_size(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError):
        memory = "? bytes"
    sandbox = "bubblewrap sandbox" if sandboxed else "no sandbox (bubblewrap unavailable)"
    detail = f"{os.cpu_count() or 1} CPUs, {memory} RAM, {sandbox}"
    system = os.uname()
    return BackendHealth(role, "local", True, f"{system.sysname} {system.release}", detail)


@dataclass(frozen=True)
class Prepared:
    """A task laid out in its folder, ready to run."""

    spec: RunSpec
    layout: PfsLayout | None
    out: Path  # the output folder
    fetched: dict[str, Path]  # shared input → its fetched copy


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
        pfs_mode: str | None = None,
    ) -> None:
        self._root = root
        self._envs = envs
        self._runtime = runtime  # the kaon runtime (kaon.determinism), on PYTHONPATH
        self._hidden = hidden  # what user code must not see (the platform's home)
        self._runner = runner or ProcessRunner()
        self._inputs = InputCache(content, root / ".inputs")
        self._trash = Trash(root)  # task folders are removed in the background
        self._pfs_asked = configured_mode(pfs_mode)  # auto | bubblewrap | rewrite
        self._pfs_mode: str | None = None
        if self._pfs_asked == BUBBLEWRAP:  # asked for: refused at start where it cannot
            _ = self.pfs_mode

    @property
    def can_sandbox(self) -> bool:
        return self._runner.can_sandbox

    @property
    def pfs_mode(self) -> str:
        """ "bubblewrap" where it can bind /pfs here (probed once), else "rewrite"; asked for
        with KAON_PFS_MODE (`pfs_mode`): "bubblewrap" where it cannot is an error."""
        if self._pfs_mode is None:
            can = self._runner.can_mount
            if self._pfs_asked == BUBBLEWRAP and not can:
                raise InvalidInput(
                    "KAON_PFS_MODE=bubblewrap, but bubblewrap cannot mount /pfs here: "
                    "install bubblewrap with user namespaces, or use KAON_PFS_MODE=rewrite"
                )
            if self._pfs_asked == "auto" and not can and self._runner.can_sandbox:
                logger.warning(
                    "bubblewrap cannot mount /pfs here: pipeline datums run in %s mode", REWRITE
                )
            self._pfs_mode = BUBBLEWRAP if can and self._pfs_asked != REWRITE else REWRITE
        return self._pfs_mode

    def describe_memory(self, limit: int | None, default: bool = False) -> str:
        return self._runner.describe_memory(limit, default)

    def health(self) -> BackendHealth:
        """Tasks run here: this machine's CPUs, memory and sandbox."""
        return local_health(BackendRole.EXECUTOR, self.can_sandbox)

    def prepare(self, lock: EnvLock, log: LogSink, cancel: threading.Event) -> None:
        env = self._envs.ensure(lock, log, cancel)
        log(f"environment ready at {env.root}")

    def keep(self, trees: Sequence[TreeRef]) -> AbstractContextManager[None]:
        return self._inputs.keep(trees)

    def run(
        self, task: Task, log: LogSink, outputs: OutputSink, cancel: threading.Event
    ) -> RunResult:
        folder = self._folder(task)
        try:
            ready = self._prepare(task, folder, log, cancel)
            result = self._runner.run(ready.spec, log, cancel)
            if ready.layout is not None:
                normalise_links(ready.layout)
            outputs.deliver(ready.out, result)
            return result
        finally:
            self._trash.discard(folder)

    def run_batch(
        self, task: Task, feed: DatumFeed, log: LogSink, cancel: threading.Event
    ) -> RunResult:
        if not task.pfs:
            raise InvalidInput(f"task {task.key}: datum batching needs the /pfs layout (pfs)")
        folder = self._folder(task)
        try:
            ready = self._prepare(task, folder, log, cancel, batch=True)
            assert ready.layout is not None
            trees = {name: given.tree for name, given in task.inputs.items()}
            views = Views(ready.layout, ready.fetched, trees, self._inputs.shared)
            return Batch(self._runner, ready.spec, views, feed, log, cancel).run()
        finally:
            self._trash.discard(folder)

    def _folder(self, task: Task) -> Path:
        if not task.argv:
            raise InvalidInput("nothing to run: the command line is empty")
        clash = [n for n in (*task.inputs, *task.files) if n in RESERVED or "/" in n or not n]
        if clash:
            raise InvalidInput(f"task {task.key}: {clash[0]!r} cannot name an input or file")
        folder = self._root / task.key
        remove_tree(folder)
        folder.mkdir(parents=True)
        return folder

    def _prepare(
        self,
        task: Task,
        folder: Path,
        log: LogSink,
        cancel: threading.Event,
        batch: bool = False,
    ) -> Prepared:
        """Fetch the inputs, lay out the folders, resolve the Places: the run's RunSpec. A
        batch's /pfs/<name> are empty folders (Views fills them, datum by datum)."""
        layout = PfsLayout(folder / "pfs", self.pfs_mode == BUBBLEWRAP) if task.pfs else None
        inputs: dict[str, Path] = {}
        fetched: dict[str, Path] = {}
        shared: list[Path] = []
        for name, given in task.inputs.items():
            if given.private:
                if given.select or given.empty_files:
                    raise InvalidInput(f"task {task.key}: input {name!r} is private: no select")
                base = layout.root if layout is not None else folder
                inputs[name] = self._inputs.private(
                    given.tree, base / name, given.overlay, given.executable
                )
                if layout is not None:
                    layout.writable.add(name)
                continue
            fetched[name] = inputs[name] = self._inputs.shared(given.tree, folder / "inputs" / name)
            shared.append(fetched[name])
            if layout is not None and batch:
                inputs[name] = layout.root / name
                inputs[name].mkdir(parents=True)
                shared.append(inputs[name])
            elif given.select or given.empty_files or (layout is not None and not layout.mounted):
                base = layout.root if layout is not None else folder / "views"
                inputs[name] = build_view(
                    fetched[name], base / name, given.select, given.empty_files
                )
                shared.append(inputs[name])
            if layout is not None:
                layout.sources[name] = fetched[name]
        if layout is not None:
            layout.inputs = inputs
        out = layout.out if layout is not None else folder / "out"
        if layout is not None and task.pfs_out_pipe:  # a spout: /pfs/out is its pipe
            layout.pipe = Path(task.pfs_out_pipe)
            layout.place_pipe()
            out = folder / "out"
        for made in (out, folder / "home", folder / "tmp"):
            made.mkdir(parents=True)
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

        def text(value: str | Place) -> str:  # a literal /pfs rewritten where it must
            if layout is None or isinstance(value, Place):
                return path(value)
            return layout.rewrite(value)

        env = self._envs.ensure(task.lock, log, cancel) if task.lock else None
        variables = {name: text(value) for name, value in task.env.items()}
        variables |= self._own_variables(variables.get("PATH") or BASE_PATH, env, folder)
        if layout is not None:
            variables["PFS_DIR"] = layout.pfs_dir
        stdin = "".join(f"{text(line)}\n" for line in task.stdin).encode() if task.stdin else None
        spec = RunSpec(
            argv=tuple(text(a) for a in task.argv),
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
            mounts=layout.mounts() if layout is not None else (),
            stdin=stdin,
        )
        return Prepared(spec, layout, out, fetched)

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
        else:  # the platform's own Python (a pipeline without a source bundle): it may live
            # where the sandbox hides (a checkout under /tmp), so it is bound back
            found += [Path(sys.prefix), Path(os.path.realpath(sys.executable)).parents[1]]
        if self._runtime is not None:
            found.append(self._runtime)
        return tuple(found)
