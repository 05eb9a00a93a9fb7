"""/metrics per release and version, beside the forwarder's per-endpoint counters: who
answered (the traffic split as served), and what the shadow versions answered (status,
latency, agreement with the answer returned)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from kaon.services.endpointrun import Route

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def labels(route: Route) -> tuple[str, str]:
    """(release, version) of a route: a wave-1 endpoint is its own release, version ""."""
    return route.release or route.name, route.version


class VersionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._children: dict[tuple[str, str, str, int], Any] = {}
        self._answers = Counter(
            "kaon_version_requests",
            "Predictions answered, by release, version, protocol and status",
            ["release", "version", "protocol", "code"],
            registry=registry,
        )
        self._shadow = Counter(
            "kaon_shadow_requests",
            "Requests mirrored to a shadow version, by its status",
            ["release", "version", "code"],
            registry=registry,
        )
        self._agree = Counter(
            "kaon_shadow_agreements",
            "Shadow answers equal (agree=true) or not to the answer returned",
            ["release", "version", "agree"],
            registry=registry,
        )
        self._skipped = Counter(
            "kaon_shadow_skipped",
            "Requests not mirrored because too many mirrors were in flight",
            ["release", "version"],
            registry=registry,
        )
        self._latency = Histogram(
            "kaon_shadow_seconds",
            "Latency of the shadow version's answers",
            ["release", "version"],
            buckets=_BUCKETS,
            registry=registry,
        )

    def answered(self, route: Route, protocol: str, status: int) -> None:
        key = (route.name, route.version, protocol, status)
        child = self._children.get(key)  # the hot path: no label lookup after the first
        if child is None:
            release, version = labels(route)
            child = self._answers.labels(release, version, protocol, str(status))
            self._children[key] = child
        child.inc()

    def shadowed(self, route: Route, status: int, seconds: float, agree: bool) -> None:
        release, version = labels(route)
        self._shadow.labels(release, version, str(status)).inc()
        self._agree.labels(release, version, "true" if agree else "false").inc()
        self._latency.labels(release, version).observe(seconds)

    def skipped(self, route: Route) -> None:
        self._skipped.labels(*labels(route)).inc()
