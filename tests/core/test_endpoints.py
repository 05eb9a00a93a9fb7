"""The endpoint lifecycle (kaon.core.endpoints): the moves allowed, why one failed, how rows
written before the failure kind was stored load, and replica addresses."""

from __future__ import annotations

import pytest

from kaon.core.endpoints import (
    Endpoint,
    EndpointFailure,
    EndpointState,
    socket_path,
    tcp_target,
    unix_address,
)
from kaon.core.errors import InvalidTransition
from kaon.core.jobs import Bundle, WorkspaceName

BUNDLE = Bundle("serve", "demo", "ws-source", "demo", "c1", "ab" * 32, "me", 10, 2)
STARTING = Endpoint(
    "serve-ws-abcdef", WorkspaceName("ws"), EndpointState.STARTING, 1.0, "me", BUNDLE, None
)
LIVE = [EndpointState.STARTING, EndpointState.RUNNING, EndpointState.RESTARTING]


def test_a_killed_endpoint_stays_killed() -> None:
    killed = STARTING.moved(EndpointState.KILLED, reason="killed by request")
    assert killed.moved(EndpointState.KILLED).state is EndpointState.KILLED  # a kill again
    for state in LIVE:
        with pytest.raises(InvalidTransition, match=r"cannot move to .*: it is PIPELINE_KILLED"):
            killed.moved(state)
    with pytest.raises(InvalidTransition):
        killed.failed(EndpointFailure.CRASH, "late")


def test_a_build_failure_is_final_a_crash_is_not() -> None:
    built = STARTING.build_failure("could not resolve the requirements")
    assert (built.failure, built.build_failed) == (EndpointFailure.BUILD, True)
    assert built.reason == "build failed: could not resolve the requirements"
    for state in LIVE:
        with pytest.raises(InvalidTransition, match="its build failed"):
            built.moved(state)
    assert built.moved(EndpointState.KILLED).failure is None
    crashed = STARTING.moved(EndpointState.RUNNING).failed(EndpointFailure.CRASH, "replica 0 died")
    assert (crashed.failure, crashed.build_failed) == (EndpointFailure.CRASH, False)
    assert (
        crashed.moved(EndpointState.FAILURE, reason="replica 1 died").failure
        is EndpointFailure.CRASH
    )
    back = crashed.moved(EndpointState.RUNNING)
    assert (back.state, back.failure) == (EndpointState.RUNNING, None)
    assert crashed.moved(EndpointState.STARTING).state is EndpointState.STARTING  # recovery


def test_a_move_to_failure_says_why() -> None:
    with pytest.raises(ValueError, match="needs its kind"):
        STARTING.moved(EndpointState.FAILURE, reason="?")
    assert STARTING.build_failure("build cancelled").reason == "build cancelled"


def test_the_kind_is_stored_and_old_rows_load_with_the_kind_their_reason_said() -> None:
    for endpoint in (
        STARTING,
        STARTING.build_failure("x"),
        STARTING.failed(EndpointFailure.CRASH, "replica 0 exited with code 1"),
    ):
        doc = endpoint.to_doc()
        loaded = Endpoint.from_doc(endpoint.name, "ws", endpoint.state.value, 1.0, doc)
        assert loaded == endpoint
    old = STARTING.to_doc()
    del old["failure"]
    for reason, kind in [
        ("build failed: internal error boom", EndpointFailure.BUILD),
        ("build cancelled", EndpointFailure.BUILD),
        ("replica 0 exited with code 3 before it was ready", EndpointFailure.CRASH),
    ]:
        row = old | {"reason": reason}
        loaded = Endpoint.from_doc(STARTING.name, "ws", "PIPELINE_FAILURE", 1.0, row)
        assert loaded.failure is kind
        assert loaded.build_failed is (kind is EndpointFailure.BUILD)
    running = Endpoint.from_doc(STARTING.name, "ws", "PIPELINE_RUNNING", 1.0, old)
    assert running.failure is None


def test_replica_addresses_name_their_transport() -> None:
    address = unix_address("/run/kaon/r0.sock")
    assert address == "unix:///run/kaon/r0.sock"
    assert socket_path(address) == "/run/kaon/r0.sock"
    assert tcp_target(address) is None
    assert tcp_target("tcp://10.0.0.7:8500") == ("10.0.0.7", 8500)
    assert socket_path("tcp://10.0.0.7:8500") is None
    for bad in ("/run/kaon/r0.sock", "http://h:80", "tcp://h", "tcp://h:port", "unix://rel"):
        assert socket_path(bad) is None and tcp_target(bad) is None
