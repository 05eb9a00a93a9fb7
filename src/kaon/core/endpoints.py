"""Endpoints: a served model (serve bundle + trained model) and its states (pure data)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidInput
from kaon.core.jobs import Bundle

_NAME = re.compile(r"^serve-[a-z0-9_]{1,40}-[0-9a-f]{6}\Z")
_BATCH = re.compile(r"^(\d+)(?:/(\d+(?:\.\d+)?)ms)?\Z")


class EndpointState(StrEnum):
    STARTING = "PIPELINE_STARTING"
    RUNNING = "PIPELINE_RUNNING"
    RESTARTING = "PIPELINE_RESTARTING"
    FAILURE = "PIPELINE_FAILURE"
    KILLED = "PIPELINE_KILLED"


@dataclass(frozen=True)
class Batching:
    max_size: int
    wait_ms: float

    def __str__(self) -> str:
        return f"{self.max_size}/{self.wait_ms:g}ms"


def parse_batch(text: str) -> Batching:
    """`--batch 32/5ms`: up to 32 requests per predict call, waiting at most 5 ms for them."""
    m = _BATCH.match(text.strip())
    if not m or int(m.group(1)) < 2:
        raise InvalidInput(f"invalid --batch {text!r}: use MAX/WAITms, e.g. 32/5ms (MAX >= 2)")
    return Batching(int(m.group(1)), float(m.group(2) or 5))


def new_endpoint_name(workspace: str) -> str:
    return f"serve-{workspace}-{secrets.token_hex(3)}"


def endpoint_name(value: str) -> str:
    if not _NAME.match(value):
        raise InvalidInput(
            f"invalid endpoint name {value!r}: expected serve-<workspace>-<6 hex> "
            "(see `kaon serve list`)"
        )
    return value


@dataclass(frozen=True)
class Endpoint:
    name: str
    workspace: str
    state: EndpointState
    created: float
    author: str
    source: Bundle
    model_id: str | None
    replicas: int = 1
    batch: Batching | None = None
    timeout: float = 30.0  # per request, seconds
    module: str = "model"  # the serve module, in `folder` of the bundle
    folder: str = ""
    served_commit: str | None = None  # bundle + model files, as served
    env: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    started: float | None = None
    variables: dict[str, str] = field(default_factory=dict)  # --env, given to every replica
    auth: bool = False  # --auth: prediction routes need a token that may read the workspace

    def moved(self, state: EndpointState, **changes: Any) -> Endpoint:
        return replace(self, state=state, **changes)

    @property
    def build_failed(self) -> bool:
        """Failed before any replica ran (the reason starts with "build")."""
        return self.state is EndpointState.FAILURE and self.reason.startswith("build")

    def to_doc(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "source": self.source.to_dict(),
            "model_id": self.model_id,
            "replicas": self.replicas,
            "batch": [self.batch.max_size, self.batch.wait_ms] if self.batch else None,
            "timeout": self.timeout,
            "module": self.module,
            "folder": self.folder,
            "served_commit": self.served_commit,
            "env": self.env,
            "reason": self.reason,
            "started": self.started,
            "variables": self.variables,
            "auth": self.auth,
        }

    @staticmethod
    def from_doc(
        name: str, workspace: str, state: str, created: float, doc: dict[str, Any]
    ) -> Endpoint:
        batch = doc.get("batch")
        return Endpoint(
            name=name,
            workspace=workspace,
            state=EndpointState(state),
            created=created,
            author=str(doc["author"]),
            source=Bundle.from_dict(doc["source"]),
            model_id=doc.get("model_id"),
            replicas=int(doc.get("replicas", 1)),
            batch=Batching(int(batch[0]), float(batch[1])) if batch else None,
            timeout=float(doc.get("timeout", 30.0)),
            module=str(doc.get("module", "model")),
            folder=str(doc.get("folder", "")),
            served_commit=doc.get("served_commit"),
            env=dict(doc.get("env", {})),
            reason=str(doc.get("reason", "")),
            started=doc.get("started"),
            variables=dict(doc.get("variables") or {}),
            auth=bool(doc.get("auth", False)),
        )
