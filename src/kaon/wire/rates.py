"""Wire type of an endpoint's request rates over time, as one server's gateway answered them
(kaon.api.ratehistory: sampled in memory every few seconds, the last hour)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaon.wire.base import Answer, doc


@dataclass(frozen=True)
class RatePoint(Answer):
    at: float = field(metadata=doc("end of the interval, seconds since the epoch"))
    requests: float = field(metadata=doc("predictions per second"))
    errors: float = field(metadata=doc("failed predictions (status >= 400) per second"))
    mean_ms: float | None = field(metadata=doc("mean latency (none: no request)"))
    p95_ms: float | None = field(metadata=doc("95th percentile latency, from the buckets"))


@dataclass(frozen=True)
class RateSeries(Answer):
    name: str = field(metadata=doc("the version's name (or a wave-1 endpoint's)"))
    version: str = field(metadata=doc('its version label ("": a wave-1 endpoint)'))
    points: list[RatePoint]


@dataclass(frozen=True)
class RatesInfo(Answer):
    endpoint: str
    server: str = field(metadata=doc("the server that answered: only its own requests count"))
    every: float = field(metadata=doc("seconds between two samples"))
    series: list[RateSeries] = field(metadata=doc("one per version, newest version first"))
