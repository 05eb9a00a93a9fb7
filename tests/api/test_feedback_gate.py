"""The feedback rate limit per endpoint (a token bucket), on an injected clock."""

from __future__ import annotations

from kaon.api.feedback import FeedbackGate, FeedbackLimits


def test_a_burst_passes_then_one_per_refill() -> None:
    now = [0.0]
    gate = FeedbackGate(FeedbackLimits(count=3, period=60.0), clock=lambda: now[0])
    assert [gate.admit("e") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert gate.admit("e") == 20.0  # one token every 60/3 s
    assert gate.admit("other") == 0.0  # per endpoint
    now[0] = 19.0
    assert gate.admit("e") == 1.0
    now[0] = 20.0
    assert gate.admit("e") == 0.0 and gate.admit("e") > 0
    now[0] = 10_000.0  # refills up to the burst, not beyond
    assert [gate.admit("e") for _ in range(4)].count(0.0) == 3
