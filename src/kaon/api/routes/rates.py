"""An endpoint's request rate, errors and latency over the last hour, as THIS server's gateway
answered them (kaon.api.ratehistory; the web UI's chart). `{endpoint}` is a release name,
a version's name or a wave-1 endpoint's name: one series per version."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request

from kaon.api.deps import platform
from kaon.api.ratehistory import RateHistory
from kaon.wire import RatePoint, RateSeries, RatesInfo
from kaon.wiring import Platform

router = APIRouter(tags=["serve"])


@router.get("/v1/endpoints/{endpoint}/rates", response_model=RatesInfo)
def rates(
    endpoint: str,
    request: Request,
    minutes: float = Query(60, gt=0, le=60, description="how far back (at most the hour kept)"),
    p: Platform = Depends(platform),
) -> RatesInfo:
    """Requests/s, errors/s, mean and p95 latency per version, one point every few seconds,
    counted by the server answering this request only (each server keeps its own last hour
    in memory; Prometheus scraping every server's /metrics has the whole platform's)."""
    release = p.serving.release(endpoint)
    versions = p.serving.versions(release.name)
    history: RateHistory | None = getattr(request.app.state, "rates", None)
    since = time.time() - minutes * 60
    series = [
        RateSeries(
            name=v.name,
            version=v.version,
            points=[
                RatePoint(
                    at=x.at,
                    requests=x.requests,
                    errors=x.errors,
                    mean_ms=x.mean_ms,
                    p95_ms=x.p95_ms,
                )
                for x in (history.series(v.name, since) if history is not None else [])
            ],
        )
        for v in versions
    ]
    every = history.every if history is not None else 0.0
    return RatesInfo(endpoint=release.name, server=p.cluster.id, every=every, series=series)
