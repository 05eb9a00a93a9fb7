"""The gateway's in-memory rate history (kaon.api.ratehistory) over the real forwarder's
counters: rates per interval, errors, latency, bounded, per endpoint."""

from __future__ import annotations

import asyncio

import pytest

from kaon.api.forwarding import Forwarder
from kaon.api.ratehistory import RateHistory, _quantile
from kaon.services.endpointrun import Route


def _route(name: str) -> Route:
    # no ready replica: the forwarder answers 503 at once, and counts it like any answer
    return Route(name, "ws", None, (), None, 5.0)


def _predict(forwarder: Forwarder, name: str, times: int) -> None:
    async def run() -> None:
        for _ in range(times):
            status, _ = await forwarder.predict(_route(name), "application/json", b"{}")
            assert status == 503

    asyncio.run(run())


def test_points_are_rates_between_samples_per_endpoint() -> None:
    forwarder = Forwarder(lambda endpoint, address: False)
    history = RateHistory(forwarder.registry, every=5.0, keep=720)
    _predict(forwarder, "pets-v1", 1)  # before the first sample: not in any interval
    history.sample(now=1000.0)
    _predict(forwarder, "pets-v1", 10)
    _predict(forwarder, "other", 3)
    history.sample(now=1005.0)
    history.sample(now=1010.0)  # nothing in between
    first, second = history.series("pets-v1")
    assert (first.at, first.requests, first.errors) == (1005.0, 2.0, 2.0)  # 10 in 5 s
    assert first.mean_ms is not None and first.p95_ms is not None
    assert 0 <= first.mean_ms <= 1.0 and 0 <= first.p95_ms <= 1.0  # all under 1 ms
    assert (second.requests, second.errors, second.mean_ms, second.p95_ms) == (0, 0, None, None)
    assert [p.requests for p in history.series("other")] == [0.6, 0.0]
    assert history.series("pets-v1", since=1005.0)[0].at == 1010.0
    assert history.series("nothing") == []


def test_the_history_is_bounded() -> None:
    forwarder = Forwarder(lambda endpoint, address: False)
    history = RateHistory(forwarder.registry, every=5.0, keep=4)
    for i in range(10):
        _predict(forwarder, "pets-v1", 1)
        history.sample(now=float(i))
    points = history.series("pets-v1")
    assert [p.at for p in points] == [7.0, 8.0, 9.0]  # the last 4 samples: 3 intervals


def test_p95_interpolates_in_the_buckets_as_prometheus_does() -> None:
    old = ((0.1, 0.0), (0.2, 0.0), (float("inf"), 0.0))
    new = ((0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0))
    assert _quantile(0.95, old, new) == pytest.approx(0.19)
    beyond = ((0.1, 0.0), (0.2, 0.0), (float("inf"), 10.0))
    assert _quantile(0.95, old, beyond) == 0.2  # past the last finite bucket: its bound
    assert _quantile(0.95, old, old) is None


def test_sampling_runs_on_the_loop_until_closed() -> None:
    forwarder = Forwarder(lambda endpoint, address: False)
    history = RateHistory(forwarder.registry, every=0.01, keep=720)

    async def run() -> int:
        await forwarder.predict(_route("pets-v1"), "application/json", b"{}")
        history.start()
        history.start()  # once
        while len(history.series("pets-v1")) < 2:
            await asyncio.sleep(0.01)
        await history.close()
        return len(history.series("pets-v1"))

    count = asyncio.run(run())
    assert count == len(history.series("pets-v1"))  # closed: no more samples
