"""Notebooks: a JupyterLab in a workspace's environment, its states and names (pure data).

    BUILDING ──► RUNNING ──► KILLED          (a crashed JupyterLab restarts: still RUNNING)
        └──────► FAILED ───► KILLED

A notebook answers at `<host>/<name>/lab` behind the platform's gateway, with a token of its
own (only its digest is stored here). Its working folder is saved as a commit of the
workspace's source repo (`kaon notebook save`); a kill keeps the last state in the branch
`recovery_branch(name)` first. Cells see the data bundle read-only and the SDK configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidInput
from kaon.core.jobs import Bundle
from kaon.core.releases import release_name

JUPYTERLAB = "jupyterlab==4.6.6"  # added to every notebook's requirements (the one pin)
DATA_ROOT = "/pfs"  # where the data bundle is under bubblewrap: /pfs/<data repo>
SKIPPED = frozenset({".ipynb_checkpoints", "__pycache__", ".virtual_documents", ".jupyter"})
_USER = re.compile(r"[^a-z0-9]+")
MAX_READS = 1000  # commits read through S3 kept per notebook


class NotebookState(StrEnum):
    BUILDING = "BUILDING"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    KILLED = "KILLED"


LIVE = frozenset({NotebookState.BUILDING, NotebookState.RUNNING})


@dataclass(frozen=True)
class Notebook:
    name: str
    workspace: str
    state: NotebookState
    created: float
    author: str
    source: Bundle  # what its working folder started from (a branch of the source repo)
    data: Bundle | None  # visible read-only in the cells
    build: str  # the id of its build (`kaon notebook build-logs -j <build>`)
    token_digest: str  # sha256 of its token (the token itself is shown once, kept by the runner)
    cpu: float | None = None
    memory: int | None = None  # bytes
    reason: str = ""
    saved: str | None = None  # the last commit `save` made (or the one it started from)
    env: dict[str, Any] = field(default_factory=dict)  # the lock it runs in (for recovery)
    reads: tuple[str, ...] = ()  # `repo@commit:/path` its S3 key read (the first per commit)
    server: str = ""  # the id of the server running it, holding its folder ("": before ids)
    server_url: str = ""  # that server's URL when it started it (named once it is gone)

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def moved(self, state: NotebookState, reason: str = "") -> Notebook:
        return replace(self, state=state, reason=reason)

    def to_doc(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "source": self.source.to_dict(),
            "data": self.data.to_dict() if self.data else None,
            "build": self.build,
            "token_digest": self.token_digest,
            "cpu": self.cpu,
            "memory": self.memory,
            "reason": self.reason,
            "saved": self.saved,
            "env": self.env,
            "reads": list(self.reads),
            "server": self.server,
            "server_url": self.server_url,
        }

    @staticmethod
    def from_doc(
        name: str, workspace: str, state: str, created: float, doc: dict[str, Any]
    ) -> Notebook:
        data = doc.get("data")
        return Notebook(
            name=name,
            workspace=workspace,
            state=NotebookState(state),
            created=created,
            author=str(doc["author"]),
            source=Bundle.from_dict(doc["source"]),
            data=Bundle.from_dict(data) if data else None,
            build=str(doc["build"]),
            token_digest=str(doc["token_digest"]),
            cpu=doc.get("cpu"),
            memory=doc.get("memory"),
            reason=str(doc.get("reason") or ""),
            saved=doc.get("saved"),
            env=dict(doc.get("env") or {}),
            reads=tuple(str(r) for r in doc.get("reads") or ()),
            server=str(doc.get("server") or ""),
            server_url=str(doc.get("server_url") or ""),
        )


def notebook_name(value: str) -> str:
    """A valid notebook name (`--name`): the rules of an endpoint's name (it shares the
    gateway's first path segment with them)."""
    try:
        return release_name(value)
    except InvalidInput as exc:
        raise InvalidInput(str(exc).replace("endpoint name", "notebook name")) from None


def default_name(workspace: str, user: str) -> str:
    """kaos' `notebook-<ws>-<user>` (the user without dots), cut to a valid name."""
    who = _USER.sub("-", user.lower()).strip("-") or "user"
    ws = _USER.sub("-", workspace.lower()).strip("-")
    return notebook_name(f"notebook-{ws}-{who}"[:40].rstrip("-"))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_build_id() -> str:
    return secrets.token_hex(4)


def recovery_branch(name: str) -> str:
    """Where a kill keeps a notebook's last working folder (a branch of the source repo)."""
    return f"{name}-last"[:63]


def strip_outputs(text: str) -> str:
    """A notebook's JSON without its cells' outputs and execution counts (what `save` commits
    unless --with-outputs); text that is not a notebook is returned as it is."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        return text
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Gate:
    """What the gateway needs to proxy a notebook: where it listens, its token's digest and
    the key its cookies are signed with (every server of the platform derives the same one
    from $KAON_HOME/secret.key, which they share)."""

    socket: str | None  # None while it is not answering
    token_digest: str
    state: NotebookState
    cookie_key: bytes = b""  # b"": no cookie is accepted


def cookie_key(secret: bytes) -> bytes:
    """The notebook gate's cookie signing key, derived from the server secret."""
    return hmac.new(secret, b"kaon notebook gate cookie", hashlib.sha256).digest()
