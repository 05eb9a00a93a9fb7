"""Releases as pure data: names, versions, traffic, pending changes (kaon.core.releases)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kaon.core.endpoints import EndpointState
from kaon.core.errors import InvalidInput, InvalidTransition
from kaon.core.releases import (
    Move,
    Pending,
    Release,
    Traffic,
    canary_weight,
    release_name,
    split_versioned,
    version_label,
    versioned_name,
)
from kaon.testing.samples import endpoint


def test_names_and_versions() -> None:
    assert release_name("petset") == "petset" and version_label("c517ec") == "c517ec"
    for bad in ("api", "Petset", "p", "pet--set", "pet_set", "9pet", "pet-"):
        with pytest.raises(InvalidInput):
            release_name(bad)
    for bad in ("", "v-1", "V1", "a" * 33):
        with pytest.raises(InvalidInput):
            version_label(bad)
    assert versioned_name("pet-set", "c517ec") == "pet-set-c517ec"
    assert split_versioned("pet-set-c517ec") == ("pet-set", "c517ec")
    assert split_versioned("petset") is None
    for bad in (0, 100, 150, -1, True):
        with pytest.raises(InvalidInput, match="--canary"):
            canary_weight(bad)


def test_traffic_weights_pick_and_changes() -> None:
    for bad in ({}, {"a": 90}, {"a": 110, "b": -10}):
        with pytest.raises(InvalidInput):
            Traffic(bad)
    with pytest.raises(InvalidInput, match="both answer and be the shadow"):
        Traffic({"a": 100}, shadow="a")
    t = Traffic.only("a").split("b", 10)
    assert t == Traffic({"a": 90, "b": 10}) and t.canary and t.main == "a"
    assert [t.pick(r / 100) for r in (0, 89.9, 90, 99.99)] == ["a", "a", "b", "b"]
    picks = [t.pick(i / 10_000) for i in range(10_000)]
    assert picks.count("b") == 1000
    s = Traffic.only("a").shadowed("b")
    assert s.serving == ("a",) and s.versions == ("a", "b") and not s.canary
    assert Traffic.from_doc(s.to_doc()) == s


def test_release_changes_and_why_it_is_busy() -> None:
    r = Release("petset", "ws", 1.0, "me", Traffic.only("a"))
    assert r.busy == ""
    pending = Pending(Move.CANARY, ("b",), Traffic.only("a").split("b", 20), 2.0, "job1")
    waiting = replace(r, pending=pending)
    assert "canary change to version b is in progress" in waiting.busy
    done = waiting.applied(3.0)
    assert done.traffic == Traffic({"a": 80, "b": 20}) and done.previous == Traffic.only("a")
    assert (done.candidate, done.pending, done.job, done.updated) == ("b", None, "job1", 3.0)
    assert done.busy == "it serves a 80%, b 20%"
    assert Release.from_doc("petset", "ws", 1.0, waiting.to_doc()) == waiting
    back = replace(done, pending=Pending(Move.ROLLBACK, (), Traffic.only("a"), 4.0)).applied(5)
    assert back.traffic == Traffic.only("a") and back.previous is None and back.candidate is None


def test_a_killed_version_is_revived_and_inputs_compare() -> None:
    e = endpoint("petset-a", 1.0)
    with pytest.raises(InvalidTransition):
        e.revived()
    killed = e.moved(EndpointState.KILLED, reason="replaced by b")
    with pytest.raises(InvalidTransition):
        killed.moved(EndpointState.STARTING)  # only `revived` leaves KILLED
    revived = killed.revived()
    assert (revived.state, revived.reason) == (EndpointState.STARTING, "")
    assert e.same_inputs(replace(e, name="other", created=9.0, author="you"))
    assert not e.same_inputs(replace(e, replicas=3))
    assert not e.same_inputs(replace(e, model_id=None))
