"""Endpoints: a served model (serve bundle + trained model), its states, the moves allowed
between them and why one failed (pure data).

    STARTING ──► RUNNING ◄──► RESTARTING          (the replicas' health; any of them ──► KILLED)
        │           │              │
        └──► FAILURE(BUILD)        └──► FAILURE(CRASH) ──► RUNNING / RESTARTING / STARTING

A build failure is final (only a kill moves it); replicas that keep crashing may still come
back. A platform restart moves every endpoint not killed and not build-failed to STARTING.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from kaon.core.errors import InvalidInput, InvalidTransition
from kaon.core.jobs import Bundle

_NAME = re.compile(r"^serve-[a-z0-9_]{1,40}-[0-9a-f]{6}\Z")
_BATCH = re.compile(r"^(\d+)(?:/(\d+(?:\.\d+)?)ms)?\Z")


class EndpointState(StrEnum):
    STARTING = "PIPELINE_STARTING"
    RUNNING = "PIPELINE_RUNNING"
    RESTARTING = "PIPELINE_RESTARTING"
    FAILURE = "PIPELINE_FAILURE"
    KILLED = "PIPELINE_KILLED"


class EndpointFailure(StrEnum):
    """Why an endpoint is in FAILURE."""

    BUILD = "build"  # before any replica ran (bundle, model, environment, start): final
    CRASH = "crash"  # its replicas keep failing: they are still restarted


_LIVE = frozenset(EndpointState) - {EndpointState.KILLED}
ALLOWED: dict[EndpointState, frozenset[EndpointState]] = {
    state: frozenset(EndpointState)
    for state in _LIVE  # recovery restarts any live state
} | {EndpointState.KILLED: frozenset({EndpointState.KILLED})}


def check_move(
    name: str, state: EndpointState, failure: EndpointFailure | None, to: EndpointState
) -> None:
    """Raise InvalidTransition unless an endpoint in `state` (failed for `failure`) may move to `to`."""
    final = state is EndpointState.FAILURE and failure is EndpointFailure.BUILD
    if to not in ALLOWED[state] or (
        final and to not in (EndpointState.FAILURE, EndpointState.KILLED)
    ):
        why = "its build failed" if final else f"it is {state.value}"
        raise InvalidTransition(f"endpoint {name} cannot move to {to.value}: {why}")


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
    failure: EndpointFailure | None = None  # set in FAILURE only
    release: str = ""  # the named endpoint this is a version of (kaon.core.releases); "" = name
    version: str = ""  # this version's label (c517ec); "" for a wave-1 row (shown as "1")
    job: str | None = None  # the job that deployed it (a pipeline's release stage), if any

    @property
    def release_name(self) -> str:
        """The release (named endpoint) this row is a version of."""
        return self.release or self.name

    @property
    def version_label(self) -> str:
        return self.version or "1"

    def moved(self, state: EndpointState, **changes: Any) -> Endpoint:
        """This endpoint in `state` (a move ALLOWED allows, else InvalidTransition); a move to FAILURE
        says why (`failure=`), any other move clears it."""
        check_move(self.name, self.state, self.failure, state)
        failure = changes.pop("failure", None)
        if state is EndpointState.FAILURE and failure is None:
            failure = self.failure
            if failure is None:
                raise ValueError(f"endpoint {self.name}: a move to FAILURE needs its kind")
        return replace(self, state=state, failure=failure, **changes)

    def revived(self) -> Endpoint:
        """This version started again (`kaon serve rollback` to a version drained earlier): the
        one move out of KILLED, to STARTING on the served commit and lock it keeps."""
        if self.state is not EndpointState.KILLED:
            raise InvalidTransition(f"endpoint {self.name} is {self.state.value}: not revived")
        return replace(self, state=EndpointState.STARTING, failure=None, reason="")

    @property
    def live(self) -> bool:
        """Not killed and not failed to build: its replicas run, or will."""
        return self.state is not EndpointState.KILLED and not self.build_failed

    def same_inputs(self, other: Endpoint) -> bool:
        """Whether `other` deploys what this version deploys (a redeploy is then idempotent):
        the model, the serve bundle's content (its digest: the same folder uploaded again is a
        new commit of the same bundle) and the replicas/batch/timeout/env/auth settings."""
        return (
            self.model_id == other.model_id
            and self.source.repo == other.source.repo
            and self.source.digest == other.source.digest
            and self.replicas == other.replicas
            and self.batch == other.batch
            and self.timeout == other.timeout
            and self.variables == other.variables
            and self.auth == other.auth
        )

    def failed(self, kind: EndpointFailure, reason: str) -> Endpoint:
        return self.moved(EndpointState.FAILURE, failure=kind, reason=reason)

    def build_failure(self, message: str) -> Endpoint:
        """FAILURE(BUILD), its reason saying so to its readers: "build failed: <message>"
        (a message about the build already, "build cancelled", as it is)."""
        said = message.startswith("build")
        return self.failed(EndpointFailure.BUILD, message if said else f"build failed: {message}")

    @property
    def build_failed(self) -> bool:
        """Failed before any replica ran: final, not restarted when the platform starts."""
        return self.state is EndpointState.FAILURE and self.failure is EndpointFailure.BUILD

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
            "failure": self.failure.value if self.failure else None,
            "release": self.release,
            "version": self.version,
            "job": self.job,
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
            failure=_failure(EndpointState(state), doc),
            release=str(doc.get("release") or ""),
            version=str(doc.get("version") or ""),
            job=doc.get("job"),
        )


def _failure(state: EndpointState, doc: dict[str, Any]) -> EndpointFailure | None:
    if state is not EndpointState.FAILURE:
        return None
    if doc.get("failure"):
        return EndpointFailure(doc["failure"])
    # a row written before the kind was stored: its reason said it ("build failed: ...")
    legacy_build = str(doc.get("reason", "")).startswith("build")
    return EndpointFailure.BUILD if legacy_build else EndpointFailure.CRASH


def unix_address(path: str) -> str:
    """The address of a replica listening on the Unix socket at `path` (absolute)."""
    return f"unix://{path}"


def socket_path(address: str) -> str | None:
    """The socket path of a `unix://` replica address, None for another scheme."""
    return address.removeprefix("unix://") if address.startswith("unix:///") else None


def tcp_target(address: str) -> tuple[str, int] | None:
    """(host, port) of a `tcp://host:port` replica address, None for another scheme."""
    if not address.startswith("tcp://"):
        return None
    url = urlsplit(address)
    try:
        port = url.port
    except ValueError:
        return None
    return (url.hostname, port) if url.hostname and port else None
