"""Named, versioned endpoints (pure data): a *release* is the endpoint name a user chose
(`kaon serve deploy --name petset`), its *versions* are deployments of one model id + serve
bundle + environment each (a row of the endpoints table, kaon.core.endpoints.Endpoint, whose
`name` is `<release>-<version>`, e.g. `petset-c517ec`, seed 001's deployment name), and its
*traffic* says which version answers which share of the requests, and which one is mirrored.

    deploy --name petset             Release petset, traffic {c517ec: 100}
    update -e petset -m M2           rolling: v2 starts; when ready, {v2: 100}; v1 drained
    update -e petset -m M2 --canary 10   {c517ec: 90, v2: 10}      promote → {v2: 100}
    update -e petset -m M2 --shadow      {c517ec: 100}, shadow v2   promote → {v2: 100}
    rollback -e petset               traffic back to `previous`

Release names are unique across the platform (the gateway routes `/<name>/...` without a
workspace); a version label has no '-' so `<release>-<version>` splits at its last '-'.
An endpoint deployed without --name is a release named `serve-<workspace>-<6 hex>` whose
first version's row keeps that name (so wave-1 endpoints stay as they were).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kaon.core.errors import InvalidInput

# names the gateway or API own: an endpoint called so would hide them
RESERVED = frozenset(
    {
        "api",
        "v1",
        "v2",
        "metrics",
        "seldon",
        "ui",
        "docs",
        "redoc",
        "openapi.json",
        "pipelines",
        "health",
        "s3",
        "static",
    }
)
_RELEASE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]\Z")
_VERSION = re.compile(r"^[a-z0-9][a-z0-9._]{0,31}\Z")


def release_name(value: str) -> str:
    """A valid `--name`: 2-40 of a-z 0-9 '-', starting with a letter, not a reserved word."""
    if not _RELEASE.match(value) or "--" in value:
        raise InvalidInput(
            f"invalid endpoint name {value!r}: use 2-40 characters a-z, 0-9 and '-', starting "
            "with a letter and ending with a letter or digit (e.g. petset)"
        )
    if value in RESERVED:
        raise InvalidInput(
            f"endpoint name {value!r} is reserved by the platform: choose another "
            f"(reserved: {', '.join(sorted(RESERVED))})"
        )
    return value


def version_label(value: str) -> str:
    """A valid `--version`: 1-32 of a-z 0-9 '.' '_' (no '-'), e.g. c517ec or 2.1."""
    if not _VERSION.match(value):
        raise InvalidInput(
            f"invalid version {value!r}: use 1-32 characters a-z, 0-9, '.' and '_' "
            "(no '-'), e.g. c517ec"
        )
    return value


def versioned_name(release: str, version: str) -> str:
    """The name of `version` of `release` as a deployment: `petset-c517ec`."""
    return f"{release}-{version}"


def split_versioned(name: str) -> tuple[str, str] | None:
    """(`release`, `version`) of a `<release>-<version>` name, None when it has no '-'."""
    release, sep, version = name.rpartition("-")
    return (release, version) if sep and release and version else None


def canary_weight(value: int) -> int:
    """A valid `--canary` percentage: 1-99 (0 or 100 is no canary: use update or rollback)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 100:
        raise InvalidInput(
            f"invalid --canary {value!r}: a percentage from 1 to 99 of the requests that go "
            "to the new version (for 100 use `kaon serve update` without --canary)"
        )
    return value


@dataclass(frozen=True)
class Traffic:
    """Who answers: version -> percent of requests (each 0-100, summing to 100), and the
    version requests are mirrored to (its answers recorded, not returned)."""

    weights: Mapping[str, int]
    shadow: str | None = None

    def __post_init__(self) -> None:
        if not self.weights or sum(self.weights.values()) != 100:
            raise InvalidInput(f"traffic weights must sum to 100: {dict(self.weights)}")
        if any(w < 0 or w > 100 for w in self.weights.values()):
            raise InvalidInput(f"traffic weights must be 0-100: {dict(self.weights)}")
        if self.shadow is not None and self.weights.get(self.shadow, 0) > 0:
            raise InvalidInput(f"version {self.shadow} cannot both answer and be the shadow")

    @staticmethod
    def only(version: str) -> Traffic:
        return Traffic({version: 100})

    @property
    def serving(self) -> tuple[str, ...]:
        """The versions that answer some requests, in a stable order."""
        return tuple(sorted(v for v, w in self.weights.items() if w > 0))

    @property
    def canary(self) -> bool:
        return len(self.serving) > 1

    @property
    def main(self) -> str:
        """The version answering the most requests (ties: the first in `serving` order)."""
        return max(self.serving, key=lambda v: self.weights[v])

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version it names: those that answer, then the shadow."""
        return self.serving + ((self.shadow,) if self.shadow else ())

    def split(self, version: str, percent: int) -> Traffic:
        """`version` (a canary) answers `percent` % of the requests, the main one the rest."""
        return Traffic({self.main: 100 - canary_weight(percent), version: percent})

    def shadowed(self, version: str) -> Traffic:
        return Traffic(self.weights, version)

    def pick(self, r: float) -> str:
        """The version that answers a request drawn as `r` in [0, 1)."""
        at = r * 100.0
        total = 0
        for version in self.serving:
            total += self.weights[version]
            if at < total:
                return version
        return self.serving[-1]

    def to_doc(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "shadow": self.shadow}

    @staticmethod
    def from_doc(doc: Mapping[str, Any]) -> Traffic:
        return Traffic({str(k): int(v) for k, v in doc["weights"].items()}, doc.get("shadow"))


class Move(StrEnum):
    """A change of a release's traffic that waits for versions to be ready."""

    ROLLING = "rolling"  # the new version takes 100 %, the others drain
    CANARY = "canary"  # the new version takes N %
    SHADOW = "shadow"  # the new version is mirrored to
    ROLLBACK = "rollback"  # back to `previous`, drained versions started again


@dataclass(frozen=True)
class Pending:
    """A traffic change waiting for `versions` to be ready: then traffic becomes `target`."""

    move: Move
    versions: tuple[str, ...]  # the versions started for it
    target: Traffic
    since: float
    job: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "move": self.move.value,
            "versions": list(self.versions),
            "target": self.target.to_doc(),
            "since": self.since,
            "job": self.job,
        }

    @staticmethod
    def from_doc(doc: Mapping[str, Any]) -> Pending:
        return Pending(
            Move(doc["move"]),
            tuple(str(v) for v in doc["versions"]),
            Traffic.from_doc(doc["target"]),
            float(doc["since"]),
            doc.get("job"),
        )


@dataclass(frozen=True)
class Release:
    """A named endpoint: its versions' traffic, and what `rollback` returns to."""

    name: str
    workspace: str
    created: float
    author: str
    traffic: Traffic
    previous: Traffic | None = None
    updated: float | None = None
    job: str | None = None  # the job (a pipeline's release stage) that last changed it
    extra: Mapping[str, Any] = field(default_factory=dict)
    pending: Pending | None = None  # a change waiting for its versions to be ready
    candidate: str | None = None  # the canary or shadow version `promote` gives 100 %

    def routed(self, traffic: Traffic, when: float) -> Release:
        """This release with `traffic` now, the current one kept for rollback."""
        return replace(self, traffic=traffic, previous=self.traffic, updated=when)

    @property
    def busy(self) -> str:
        """Why a new change must wait ("" when it need not): a pending one, or a canary or
        shadow not promoted or rolled back yet."""
        if self.pending is not None:
            started = ", ".join(self.pending.versions)
            return f"a {self.pending.move.value} change to version {started} is in progress"
        if self.candidate is not None or self.traffic.canary or self.traffic.shadow:
            split = ", ".join(f"{v} {w}%" for v, w in sorted(self.traffic.weights.items()))
            shadow = f", shadow {self.traffic.shadow}" if self.traffic.shadow else ""
            return f"it serves {split}{shadow}"
        return ""

    def applied(self, when: float) -> Release:
        """The pending change done: its target traffic now. A canary or shadow becomes the
        candidate; a rollback keeps no previous (what it undid is drained)."""
        p = self.pending
        assert p is not None
        if p.move is Move.ROLLBACK:
            moved = replace(self, traffic=p.target, previous=None, updated=when)
        else:
            moved = self.routed(p.target, when)
        candidate = p.versions[0] if p.move in (Move.CANARY, Move.SHADOW) else None
        return replace(moved, pending=None, candidate=candidate, job=p.job or self.job)

    def to_doc(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "traffic": self.traffic.to_doc(),
            "previous": self.previous.to_doc() if self.previous else None,
            "updated": self.updated,
            "job": self.job,
            "extra": dict(self.extra),
            "pending": self.pending.to_doc() if self.pending else None,
            "candidate": self.candidate,
        }

    @staticmethod
    def from_doc(name: str, workspace: str, created: float, doc: Mapping[str, Any]) -> Release:
        prev = doc.get("previous")
        pending = doc.get("pending")
        return Release(
            name=name,
            workspace=workspace,
            created=created,
            author=str(doc.get("author", "")),
            traffic=Traffic.from_doc(doc["traffic"]),
            previous=Traffic.from_doc(prev) if prev else None,
            updated=doc.get("updated"),
            job=doc.get("job"),
            extra=dict(doc.get("extra") or {}),
            pending=Pending.from_doc(pending) if pending else None,
            candidate=doc.get("candidate"),
        )
