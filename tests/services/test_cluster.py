"""ClusterService: work one server does (`want`) passes to a live server when its holder stops
renewing, naming it (`lost`); a server's own late claims are never "taken over" by itself."""

from __future__ import annotations

import threading

from kaon.core.cluster import ClaimKind
from kaon.memory.cluster import MemoryClusterStore
from kaon.services.cluster import ClusterService


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pair() -> tuple[ClusterService, ClusterService, Clock]:
    store, clock = MemoryClusterStore(), Clock()
    a = ClusterService(store, "http://a:1", clock=clock, heartbeat=1.0, ttl=10.0)
    b = ClusterService(store, "http://b:2", clock=clock, heartbeat=1.0, ttl=10.0)
    a.beat_once()
    b.beat_once()
    return a, b, clock


def test_wanted_work_passes_to_a_live_server_when_its_holder_stops() -> None:
    a, b, clock = pair()
    assert a.claim(ClaimKind.PIPELINES, "scheduler")
    got: list[str] = []
    done = threading.Event()
    b.want(ClaimKind.PIPELINES, "scheduler", lambda key: (got.append(key), done.set()))
    b.beat_once()
    assert not got and b.taken(ClaimKind.PIPELINES, "scheduler")  # A holds it
    clock.now += 11.0  # A stopped renewing
    b.beat_once()
    assert done.wait(10)
    assert got == ["scheduler"] and b.owns(ClaimKind.PIPELINES, "scheduler")
    assert b.lost(ClaimKind.PIPELINES, "scheduler") == "server http://a:1"
    assert a.taken(ClaimKind.PIPELINES, "scheduler")


def test_wanted_work_given_up_cleanly_is_taken_at_the_next_beat() -> None:
    a, b, _ = pair()
    assert a.claim(ClaimKind.GC, "gc")
    done = threading.Event()
    b.want(ClaimKind.GC, "gc", lambda key: done.set())
    a.close()  # a clean stop: its claims are gone, not expired
    b.beat_once()
    assert done.wait(10) and b.owns(ClaimKind.GC, "gc")


def test_a_servers_own_late_claims_are_not_orphans_to_itself() -> None:
    a, _, clock = pair()
    assert a.claim(ClaimKind.JOB, "j1")
    taken: list[str] = []
    a.on_orphan(ClaimKind.JOB, taken.append)
    clock.now += 11.0  # A's beat came late: its claim expired, no one took it
    assert not a.taken(ClaimKind.JOB, "j1")
    a.beat_once()
    assert taken == [] and a.owns(ClaimKind.JOB, "j1")  # renewed, not taken over
