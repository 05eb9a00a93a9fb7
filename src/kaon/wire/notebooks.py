"""Answers about notebooks (kaon.core.notebooks): a notebook, its deploy (with its token,
shown once), a save and a kill (where the working folder went)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaon.wire.base import Answer, doc


@dataclass(frozen=True)
class NotebookInfo(Answer):
    name: str
    workspace: str
    state: str = field(metadata=doc("BUILDING, RUNNING, FAILED or KILLED"))
    created: float
    author: str
    url: str = field(metadata=doc("<host>/<name>/lab: JupyterLab, with the notebook's token"))
    source: str = field(metadata=doc("the bundle it started from, /<branch>:<hash>"))
    source_branch: str
    data: str | None
    build: str = field(metadata=doc("its build's id: `kaon notebook build-logs -j <build>`"))
    ready: bool = field(metadata=doc("JupyterLab answers"))
    restarts: int
    unsaved: bool = field(metadata=doc("its working folder differs from its last save"))
    saved: str | None = None
    reason: str = ""
    cpu: float | None = None
    memory: int | None = None
    limits: str = field(
        default="",
        metadata=doc('how cpu and memory are enforced on its server ("": neither given)'),
    )
    reads: list[str] = field(
        default_factory=list,
        metadata=doc("repo@commit:/path its S3 key read (the first path per commit)"),
    )


@dataclass(frozen=True)
class NotebookDeployed(Answer):
    notebook: NotebookInfo
    token: str = field(metadata=doc("shown once: JupyterLab and the gateway ask for it"))


@dataclass(frozen=True)
class NotebookSaved(Answer):
    notebook: NotebookInfo
    repo: str
    branch: str
    commit: str
    bundle: str = field(metadata=doc("the saved bundle, /<branch>:<hash>"))


@dataclass(frozen=True)
class NotebookKilled(Answer):
    notebook: NotebookInfo
    kept: NotebookSaved | None = field(
        default=None, metadata=doc("where its last working folder was committed")
    )
