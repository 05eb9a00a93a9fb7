"""NotebookStore: the notebooks of the metadata database; NotebookRunner: the supervised
JupyterLab processes that serve them (kaon.exec.notebooks on this machine).

The service prepares a notebook's folders (its working folder checked out of the source repo,
its data read-only) and says what runs (NotebookSpec); the runner starts JupyterLab on a unix
socket with base URL `/<name>/`, restarts it when it exits and answers where it listens once
it answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kaon.core.jobs import WorkspaceName
from kaon.core.notebooks import Notebook
from kaon.ports.envbuilder import Environment, LogSink


class NotebookStore(Protocol):
    def add_notebook(self, notebook: Notebook) -> None:
        """Record a new notebook; AlreadyExists when its name is taken, WorkspaceNotFound when
        its workspace is gone."""
        ...

    def save_notebook(self, notebook: Notebook) -> None:
        """Store the notebook's new state and document (an unknown name is ignored)."""
        ...

    def get_notebook(self, name: str) -> Notebook | None: ...

    def list_notebooks(self, workspace: WorkspaceName | None = None) -> list[Notebook]:
        """Newest first (then by name); all workspaces when `workspace` is None."""
        ...

    def delete_notebook(self, name: str) -> None:
        """Forget a (killed) notebook; its name may be used again. Idempotent."""
        ...


@dataclass(frozen=True)
class NotebookSpec:
    name: str  # its base URL is /<name>/
    env: Environment  # the bundle's requirements plus JupyterLab, built
    workdir: Path  # JupyterLab's root folder: what `save` commits
    run_dir: Path  # HOME, TMPDIR, the socket when its path is short enough
    token: str
    data: Path | None = None  # the data bundle, read-only
    data_repo: str = ""  # its repo: /pfs/<data_repo> in the sandbox
    variables: dict[str, str] = field(default_factory=dict)  # KAON_ENDPOINT, KAON_TOKEN...
    hidden: tuple[Path, ...] = ()  # the platform's folders, hidden where bubblewrap works
    memory: int | None = None  # bytes: its processes' (see NotebookRunner.describe_limits)
    cpu: float | None = None  # CPUs it may run on


@dataclass(frozen=True)
class NotebookStatus:
    ready: bool
    restarts: int
    last_error: str
    socket: str  # the unix socket it listens on


class NotebookRunner(Protocol):
    def start(self, spec: NotebookSpec, log: LogSink) -> None:
        """Start JupyterLab for `spec` in the background (restarting an earlier one)."""
        ...

    def stop(self, name: str) -> None:
        """Stop it (SIGTERM, then SIGKILL, its whole tree); idempotent."""
        ...

    def stop_all(self) -> None: ...

    def status(self, name: str) -> NotebookStatus | None:
        """None when this runner does not run `name`."""
        ...

    def describe_limits(self, cpu: float | None, memory: int | None) -> str:
        """How `cpu` and `memory` (bytes) are enforced here, in words ("" when neither is
        given): what a deploy tells its user, never a limit silently ignored."""
        ...
