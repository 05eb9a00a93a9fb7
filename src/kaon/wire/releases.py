"""Wire types of named, versioned endpoints (kaon.core.releases) and the feedback they
received (kaon.core.feedback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kaon.core.endpoints import EndpointState
from kaon.wire.base import Answer, doc


@dataclass(frozen=True)
class VersionInfo(Answer):
    """One row of `kaon serve versions`: VERSION MODEL TRAFFIC STATE CREATED."""

    endpoint: str  # the release (named endpoint)
    version: str
    name: str  # the version's own name, <endpoint>-<version> (a wave-1 row: the endpoint's)
    model_id: str | None
    traffic: int  # percent of requests it answers now
    shadow: bool  # requests are mirrored to it
    state: EndpointState
    created: float
    served_commit: str | None
    reason: str = ""
    job: str | None = field(default=None, metadata=doc("the job that deployed it, if any"))


@dataclass(frozen=True)
class ReleaseInfo(Answer):
    """A named endpoint: its traffic now, what rollback returns to, its versions."""

    name: str
    workspace: str
    created: float
    author: str
    url: str  # <host:port>/<name>/invocations
    traffic: dict[str, int]  # version -> percent
    shadow: str | None
    previous: dict[str, int] | None  # what `kaon serve rollback` returns to
    versions: list[VersionInfo]
    updated: float | None = None
    pending: str | None = field(
        default=None,
        metadata=doc(
            "a change waiting for versions to be ready (rolling, canary, shadow, rollback, "
            "deploy): the traffic moves when they are"
        ),
    )
    starting: list[str] = field(
        default_factory=list, metadata=doc("the versions the pending change waits for")
    )
    candidate: str | None = field(
        default=None, metadata=doc("the canary or shadow version `promote` gives 100 %")
    )


@dataclass(frozen=True)
class FeedbackInfo(Answer):
    """One feedback (`kaon serve feedback`): request, response, reward/truth, the version."""

    request_id: str
    endpoint: str
    version: str
    model_id: str | None
    received: float
    request: Any
    response: Any
    reward: float | None
    truth: Any
    protocol: str
    commit: str
