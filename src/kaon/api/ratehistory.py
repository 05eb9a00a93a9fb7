"""Request rate, errors and latency over the last hour, per endpoint, as THIS server's gateway
answered them: a bounded in-memory sampler of the forwarder's Prometheus counters
(kaon.api.forwarding: kaon_requests, kaon_request_errors, kaon_request_seconds).

Every EVERY seconds it reads the counters' totals per endpoint (a version's name, or a wave-1
endpoint's) and keeps the last KEEP samples of each (an hour); `series` turns consecutive
samples into points: requests/s, errors/s, mean and p95 latency (p95 interpolated in the
histogram's buckets, as Prometheus' histogram_quantile does). Nothing is stored: a restart
starts an empty history, and with several servers each knows only what it answered (GET
/v1/endpoints/{endpoint}/rates says which server answered). Prometheus scraping /metrics is
the way to a longer or platform-wide history.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

EVERY = 5.0  # s between two samples
KEEP = 720  # samples kept per endpoint: an hour
MAX_SERIES = 1000  # endpoints followed at once; more are not sampled (their /metrics are)


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    requests: float
    errors: float
    seconds: float  # total latency
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), +Inf last


@dataclass(frozen=True)
class Point:
    at: float
    requests: float  # per second
    errors: float  # per second
    mean_ms: float | None  # None: no request in the interval
    p95_ms: float | None


class RateHistory:
    def __init__(self, registry: CollectorRegistry, every: float = EVERY, keep: int = KEEP):
        self._registry = registry
        self.every = every
        self._keep = keep
        self._series: dict[str, deque[Sample]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last: float | None = None  # when the previous sample was taken

    # sampling --------------------------------------------------------------------------------
    def sample(self, now: float | None = None) -> None:
        """Read the counters once and keep one sample per endpoint."""
        at = time.time() if now is None else now
        requests: dict[str, float] = {}
        errors: dict[str, float] = {}
        seconds: dict[str, float] = {}
        buckets: dict[str, list[tuple[float, float]]] = {}
        for metric in self._registry.collect():
            if metric.name not in ("kaon_requests", "kaon_request_errors", "kaon_request_seconds"):
                continue
            for s in metric.samples:
                name = s.labels.get("endpoint")
                if name is None:
                    continue
                if s.name == "kaon_requests_total":
                    requests[name] = requests.get(name, 0.0) + s.value
                elif s.name == "kaon_request_errors_total":
                    errors[name] = s.value
                elif s.name == "kaon_request_seconds_sum":
                    seconds[name] = s.value
                elif s.name == "kaon_request_seconds_bucket":
                    bound = float(s.labels["le"])
                    buckets.setdefault(name, []).append((bound, s.value))
        for name, total in requests.items():
            kept = self._series.get(name)
            if kept is None:
                if len(self._series) >= MAX_SERIES:
                    continue
                kept = self._series[name] = deque(maxlen=self._keep)
                if self._last is not None:  # new since the last sample: it was at 0 then
                    kept.append(Sample(self._last, 0.0, 0.0, 0.0, ()))
            kept.append(
                Sample(
                    at,
                    total,
                    errors.get(name, 0.0),
                    seconds.get(name, 0.0),
                    tuple(sorted(buckets.get(name, []))),
                )
            )
        self._last = at

    def start(self) -> None:
        """Sample every `every` seconds on the running event loop (once; idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # reading ---------------------------------------------------------------------------------
    def series(self, name: str, since: float = 0.0) -> list[Point]:
        """Endpoint `name`'s points after `since` (epoch s), oldest first; [] if it never
        answered here (or answered only in the last sample)."""
        samples = [s for s in self._series.get(name, ()) if s.at >= since]
        return [_point(old, new) for old, new in itertools.pairwise(samples)]


def _point(old: Sample, new: Sample) -> Point:
    span = max(new.at - old.at, 1e-9)
    count = new.requests - old.requests
    mean = (new.seconds - old.seconds) / count * 1000 if count > 0 else None
    p95 = _quantile(0.95, old.buckets, new.buckets) if count > 0 else None
    return Point(
        at=new.at,
        requests=count / span,
        errors=(new.errors - old.errors) / span,
        mean_ms=mean,
        p95_ms=None if p95 is None else p95 * 1000,
    )


def _quantile(
    q: float, old: tuple[tuple[float, float], ...], new: tuple[tuple[float, float], ...]
) -> float | None:
    """The q-quantile of the observations between two cumulative histograms (seconds)."""
    before = dict(old)
    deltas = [(bound, count - before.get(bound, 0.0)) for bound, count in new]
    if not deltas or deltas[-1][1] <= 0:
        return None
    rank = q * deltas[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in deltas:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound, as Prometheus says
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower
