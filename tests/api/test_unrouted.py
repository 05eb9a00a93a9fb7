"""What the gateway answers for an endpoint it has no route to (issue 12, item 4): 404 when
there is no such endpoint or it was killed, 503 pointing to the build log otherwise."""

from __future__ import annotations

from kaon.api.gateway import unrouted
from kaon.core.endpoints import Endpoint, EndpointFailure, EndpointState
from kaon.core.jobs import Bundle, WorkspaceName

NAME = "serve-ws-abcdef"
BUNDLE = Bundle("serve", "demo", "ws-source", "demo", "c1", "ab" * 32, "me", 10, 2)
STARTING = Endpoint(NAME, WorkspaceName("ws"), EndpointState.STARTING, 1.0, "me", BUNDLE, None)


def test_unknown_and_killed_endpoints_are_404() -> None:
    assert unrouted(NAME, None) == (404, f"no endpoint '{NAME}' here: see `kaon serve list`")
    status, message = unrouted(NAME, STARTING.moved(EndpointState.KILLED))
    assert status == 404 and "killed" in message and "--all" in message


def test_building_and_failed_builds_are_503_naming_build_logs() -> None:
    status, message = unrouted(NAME, STARTING)
    assert status == 503 and "PIPELINE_STARTING" in message
    assert f"`kaon serve build-logs -e {NAME}`" in message
    reason = "build failed: could not resolve the requirements:\nerror: bad line\n  caret"
    status, message = unrouted(NAME, STARTING.failed(EndpointFailure.BUILD, reason))
    assert status == 503 and f"`kaon serve build-logs -e {NAME}`" in message
    assert "could not resolve the requirements: error: bad line (see" in message
    assert "caret" not in message and "\n" not in message


def test_a_guarded_endpoint_does_not_tell_its_build_failure_to_anyone() -> None:
    reason = "build failed: could not resolve the requirements: secret-internal-package"
    guarded = STARTING.moved(
        EndpointState.FAILURE, failure=EndpointFailure.BUILD, reason=reason, auth=True
    )
    status, message = unrouted(NAME, guarded)
    assert status == 503 and "did not start" in message and "build-logs" in message
    assert "secret-internal-package" not in message
