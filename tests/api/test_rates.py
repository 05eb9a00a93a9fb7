"""GET /v1/endpoints/{endpoint}/rates and the SDK's endpoint_rates (real CLI, server, replicas):
a release's versions each get their series, the answers and errors this server's gateway
gave show as rates, bad input is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.helpers import Kaon
from kaon.core.errors import InvalidInput, NotFound

from .gatewayed import call, deploy, train_model

pytestmark = pytest.mark.e2e

WS = "ratesws"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    k = Kaon(tmp_path_factory.mktemp("kaon-rates"))
    try:
        k.up()
        model, serve = train_model(k, tmp_path_factory.mktemp("bundles"), WS)
        deploy(k, serve, model, WS, "--name", "ratepets", "--version", "v1")
        yield {"kaon": k, "base": k.server()["url"]}  # type: ignore[index]
    finally:
        k.shutdown()


def test_rates_count_this_servers_answers_per_version(served: dict[str, Any]) -> None:
    k, base = served["kaon"], served["base"]
    for _ in range(6):
        assert call(f"{base}/ratepets/invocations", [1, 2])[0] == 200
    assert call(f"{base}/ratepets/invocations", {"boom": True})[0] == 500
    with k.client() as client:
        deadline = time.monotonic() + 60  # the sampler takes a point every 5 s
        while True:
            rates = client.endpoint_rates("ratepets")
            points = [p for s in rates.series for p in s.points]
            if sum(p.requests for p in points) > 0 and sum(p.errors for p in points) > 0:
                break
            assert time.monotonic() < deadline, rates
            time.sleep(0.5)
        assert rates.endpoint == "ratepets" and rates.every == 5.0 and rates.server
        assert [(s.name, s.version) for s in rates.series] == [("ratepets-v1", "v1")]
        answered = sum(p.requests * rates.every for p in points)
        assert answered == pytest.approx(7, abs=0.5)  # 6 answers and 1 error, each once
        busy = [p for p in points if p.requests > 0]
        assert all(p.mean_ms is not None and p.p95_ms is not None for p in busy)
        assert all(p.mean_ms is None for p in points if p.requests == 0)
        assert client.endpoint_rates("ratepets-v1").series[0].name == "ratepets-v1"
        with pytest.raises(NotFound):
            client.endpoint_rates("nosuchpets")
        with pytest.raises(InvalidInput, match="at most 60"):
            client.endpoint_rates("ratepets", minutes=0)
    token = (k.home / "token").read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    status, _, doc = call(
        f"{base}/v1/endpoints/ratepets/rates?minutes=61", None, "GET", headers=auth
    )
    assert status in (400, 422) and "minutes" in str(doc)
    assert call(f"{base}/v1/endpoints/ratepets/rates", None, "GET")[0] == 401
