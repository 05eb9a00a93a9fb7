"""Named, versioned endpoints through the real services (real replica processes): deploy
--name/--version, idempotence and conflicts, resolve, rolling update, canary, shadow,
promote, rollback with revive, kill, recover."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import Conflict, InvalidInput, NotFound
from kaon.core.jobs import Bundle
from kaon.core.releases import Release, Traffic
from kaon.testing.samples import run_threads
from kaon.wiring import Platform

from .test_serving import put, serve_bundle, wait_for


def deploy(p: Platform, source: Bundle, name: str = "petset", version: str | None = "v1",
           **kw: object) -> Endpoint:  # fmt: skip
    return p.serving.deploy("ws", "me", source, None, name=name, version=version, **kw)  # type: ignore[arg-type]


def until(p: Platform, name: str, traffic: Traffic, timeout: float = 60) -> Release:
    """Release `name` once its traffic is `traffic` (and no change is pending)."""
    deadline = time.monotonic() + timeout
    while True:
        r = p.serving.release(name)
        if r.traffic == traffic and r.pending is None:
            return r
        assert time.monotonic() < deadline, r
        time.sleep(0.05)


def answering(p: Platform, name: str, draws: int = 1) -> set[str]:
    """The versions the gateway's resolve picked for `draws` requests to `name`."""
    seen = set()
    for _ in range(draws):
        choice = p.serving.resolve(name)
        assert choice is not None
        seen.add(choice.route.version)
    return seen


@pytest.fixture
def source(platform: Platform, tmp_path: Path) -> Bundle:
    return put(platform, serve_bundle(tmp_path / "svc"))


def test_deploy_with_a_name_and_version_resolves_by_name_and_version(
    platform: Platform, source: Bundle
) -> None:
    e = deploy(platform, source)
    assert (e.name, e.release_name, e.version_label) == ("petset-v1", "petset", "v1")
    wait_for(platform, e.name, EndpointState.RUNNING)
    release = platform.serving.release("petset")
    assert release.traffic == Traffic.only("v1") and release.workspace == "ws"
    assert platform.serving.release("petset-v1") == release
    assert platform.serving.get("petset").name == "petset-v1"  # access checks ask by name
    for name in ("petset", "petset-v1"):
        choice = platform.serving.resolve(name)
        assert choice is not None and choice.shadow is None
        assert (choice.route.name, choice.route.release, choice.route.version) == (
            "petset-v1",
            "petset",
            "v1",
        )
    assert platform.serving.resolve("petset", version="v1") is not None
    assert platform.serving.resolve("petset", version="v2") is None
    assert platform.serving.resolve("petset", namespace="kubeflow") is not None  # not a ws
    assert platform.serving.resolve("petset", namespace="ws") is not None
    platform.workspaces.create("other", "me")
    assert platform.serving.resolve("petset", namespace="other") is None  # not in it
    assert platform.serving.route("petset") is not None
    assert [v.name for v in platform.serving.versions("petset")] == ["petset-v1"]


def test_the_default_version_is_the_bundle_commit_prefix_and_redeploy_is_idempotent(
    platform: Platform, source: Bundle
) -> None:
    e = deploy(platform, source, version=None)
    assert e.version == source.commit[:6] and e.name == f"petset-{source.commit[:6]}"
    again = deploy(platform, source, version=None)
    assert again.name == e.name and again.created == e.created
    assert len(platform.serving.versions("petset")) == 1
    with pytest.raises(Conflict, match="another --version"):
        deploy(platform, source, version=None, replicas=2)  # same version, other inputs
    with pytest.raises(Conflict, match=r"kaon serve update -e petset"):
        deploy(platform, source, version="v2")
    assert len(platform.serving.versions("petset")) == 1


def test_a_deploy_without_a_name_is_its_own_release(platform: Platform, source: Bundle) -> None:
    e = platform.serving.deploy("ws", "me", source, None)
    assert e.name.startswith("serve-ws-") and e.release_name == e.name
    assert platform.serving.release(e.name).traffic == Traffic.only(source.commit[:6])
    wait_for(platform, e.name, EndpointState.RUNNING)
    choice = platform.serving.resolve(e.name)
    assert choice is not None and choice.route.name == e.name


def test_two_deploys_racing_for_one_name_have_one_winner(
    platform: Platform, source: Bundle
) -> None:
    won: list[Endpoint] = []
    errors = run_threads(4, lambda i: won.append(deploy(platform, source, "race", f"v{i}")))
    assert len(won) == 1 and len(errors) == 3
    assert all(isinstance(e, Conflict) for e in errors), errors
    assert [v.name for v in platform.serving.versions("race")] == [won[0].name]


def test_bad_and_taken_names(platform: Platform, source: Bundle) -> None:
    for bad in ("api", "seldon", "Bad_Name", "x", "-a"):
        with pytest.raises(InvalidInput):
            deploy(platform, source, bad)
    with pytest.raises(InvalidInput, match="invalid version"):
        deploy(platform, source, version="v-1")
    deploy(platform, source)
    with pytest.raises(Conflict, match="taken by version v1 of endpoint petset"):
        deploy(platform, source, "petset-v1")
    with pytest.raises(NotFound, match="kaon serve list"):
        platform.serving.release("nope")
