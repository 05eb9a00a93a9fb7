"""Named, versioned endpoints through the real services (real replica processes): deploy
--name/--version, idempotence and conflicts, resolve, rolling update, canary, shadow,
promote, rollback with revive, kill, recover."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from kaon.config import ServerSettings
from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import Conflict, InvalidInput, NotFound
from kaon.core.jobs import Bundle
from kaon.core.releases import Release, Traffic
from kaon.testing.samples import run_threads
from kaon.wiring import Backends, Platform, build

from .test_serving import put, serve_bundle, wait_for
from .test_training import deploy as train
from .test_training import finished


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


def test_a_rolling_update_moves_traffic_when_ready_then_drains_the_old(
    platform: Platform, source: Bundle
) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    v2 = platform.serving.update("petset", "me", None, version="v2")
    assert v2.name == "petset-v2" and v2.state is EndpointState.STARTING
    assert v2.source == v1.source and v2.replicas == v1.replicas
    # until v2 is ready, v1 answers (the pending change is stored)
    release = platform.serving.release("petset")
    assert release.pending is not None or release.traffic == Traffic.only("v2")
    release = until(platform, "petset", Traffic.only("v2"))
    assert release.previous == Traffic.only("v1") and release.candidate is None
    assert answering(platform, "petset", 20) == {"v2"}
    old = wait_for(platform, v1.name, EndpointState.KILLED)
    assert old.reason == "replaced by v2" and old.served_commit  # its row stays
    assert platform.serving.status(v1.name) is None
    assert [v.version for v in platform.serving.versions("petset")] == ["v2", "v1"]
    assert platform.serving.resolve("petset", version="v1") is None  # drained: not routed
    assert platform.serving.get("petset").name == "petset-v2"


def test_an_update_that_never_becomes_ready_leaves_the_traffic(
    platform: Platform, source: Bundle, tmp_path: Path
) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    broken = "def load_ctx(d):\n    raise SystemExit(3)\n\ndef predict(p, c):\n    return 1\n"
    bad = put(platform, serve_bundle(tmp_path / "bad", broken))
    v2 = platform.serving.update("petset", "me", None, source=bad, version="v2")
    failed = wait_for(platform, v2.name, EndpointState.FAILURE, timeout=90)
    release = until(platform, "petset", Traffic.only("v1"))
    assert release.pending is None and release.previous is None
    assert failed.reason and platform.serving.get(v1.name).state is EndpointState.RUNNING
    assert answering(platform, "petset", 10) == {"v1"}
    # the next update is not blocked by it
    v3 = platform.serving.update("petset", "me", None, version="v3")
    until(platform, "petset", Traffic.only("v3"))
    assert platform.serving.get(v3.name).state is EndpointState.RUNNING


def test_canary_promote_and_bad_changes(platform: Platform, source: Bundle) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    with pytest.raises(InvalidInput, match="nothing to promote: endpoint petset serves only"):
        platform.serving.promote("petset")
    with pytest.raises(InvalidInput, match="nothing to roll back to"):
        platform.serving.rollback("petset")
    for bad in (0, 100, 150):
        with pytest.raises(InvalidInput, match="--canary"):
            platform.serving.update("petset", "me", None, canary=bad, version="v2")
    with pytest.raises(InvalidInput, match="not both"):
        platform.serving.update("petset", "me", None, canary=10, shadow=True, version="v2")
    platform.serving.update("petset", "me", None, canary=30, version="v2")
    release = until(platform, "petset", Traffic({"v1": 70, "v2": 30}))
    assert release.candidate == "v2" and release.previous == Traffic.only("v1")
    assert answering(platform, "petset", 300) == {"v1", "v2"}
    assert platform.serving.get(v1.name).state is EndpointState.RUNNING  # not drained
    with pytest.raises(Conflict, match="promote -e petset` or `kaon serve rollback"):
        platform.serving.update("petset", "me", None, version="v3")
    with pytest.raises(Conflict, match="answers 30 % of its requests"):
        platform.serving.kill("petset-v2")
    promoted = platform.serving.promote("petset-v2")  # a version's name names its release
    assert promoted.traffic == Traffic.only("v2") and promoted.previous == Traffic.only("v1")
    assert answering(platform, "petset", 20) == {"v2"}
    assert wait_for(platform, v1.name, EndpointState.KILLED).reason == "replaced by v2"


def test_shadow_is_mirrored_then_promoted(platform: Platform, source: Bundle) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, shadow=True, version="v2")
    release = until(platform, "petset", Traffic({"v1": 100}, shadow="v2"))
    assert release.candidate == "v2"
    choice = platform.serving.resolve("petset")
    assert choice is not None and choice.route.version == "v1"
    assert choice.shadow is not None and choice.shadow.name == "petset-v2"
    pinned = platform.serving.resolve("petset", version="v2")  # OIP /versions/v2
    assert pinned is not None and pinned.route.name == "petset-v2" and pinned.shadow is None
    assert platform.serving.promote("petset").traffic == Traffic.only("v2")
    choice = platform.serving.resolve("petset")
    assert choice is not None and choice.route.version == "v2" and choice.shadow is None


def test_rollback_revives_a_drained_version(platform: Platform, source: Bundle) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, version="v2")
    until(platform, "petset", Traffic.only("v2"))
    served = wait_for(platform, v1.name, EndpointState.KILLED).served_commit
    back = platform.serving.rollback("petset")
    assert back.pending is not None and back.traffic == Traffic.only("v2")  # v1 starting
    release = until(platform, "petset", Traffic.only("v1"))
    assert release.previous is None
    revived = wait_for(platform, v1.name, EndpointState.RUNNING)
    assert revived.served_commit == served  # the same served files, not rebuilt
    assert "restarting on served commit" in platform.serving.log_path(revived, "build").read_text()
    assert answering(platform, "petset", 20) == {"v1"}
    assert wait_for(platform, "petset-v2", EndpointState.KILLED).reason == "rolled back to v1"
    with pytest.raises(InvalidInput, match="nothing to roll back to"):
        platform.serving.rollback("petset")


def test_rollback_of_a_canary_and_of_a_pending_update(platform: Platform, source: Bundle) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, canary=10, version="v2")
    until(platform, "petset", Traffic({"v1": 90, "v2": 10}))
    release = platform.serving.rollback("petset")
    assert release.traffic == Traffic.only("v1") and release.candidate is None
    assert wait_for(platform, "petset-v2", EndpointState.KILLED).reason == "rolled back to v1"
    # a rollback while an update is still starting cancels it
    slow = platform.serving.update("petset", "me", None, version="v3")
    cancelled = platform.serving.rollback("petset")
    assert cancelled.pending is None and cancelled.traffic == Traffic.only("v1")
    assert platform.serving.get(slow.name).state is EndpointState.KILLED
    assert answering(platform, "petset", 10) == {"v1"}


def test_kill_a_release_or_one_version(platform: Platform, source: Bundle) -> None:
    v1 = deploy(platform, source)
    wait_for(platform, v1.name, EndpointState.RUNNING)
    platform.serving.update("petset", "me", None, shadow=True, version="v2")
    until(platform, "petset", Traffic({"v1": 100}, shadow="v2"))
    shadow = platform.serving.kill("petset-v2")  # the shadow alone: traffic keeps v1
    assert shadow.state is EndpointState.KILLED
    assert platform.serving.release("petset").traffic == Traffic.only("v1")
    assert platform.serving.get(v1.name).state is EndpointState.RUNNING
    platform.serving.update("petset", "me", None, canary=50, version="v3")
    until(platform, "petset", Traffic({"v1": 50, "v3": 50}))
    killed = platform.serving.kill("petset")  # every version
    assert killed.state is EndpointState.KILLED
    assert {v.state for v in platform.serving.versions("petset")} == {EndpointState.KILLED}
    assert platform.serving.resolve("petset") is None
    with pytest.raises(Conflict, match="was killed: deploy it again"):
        platform.serving.update("petset", "me", None, version="v4")
    # the name stays this workspace's: deploying it again starts it anew
    again = deploy(platform, source, version="v5")
    assert platform.serving.release("petset").traffic == Traffic.only("v5")
    wait_for(platform, again.name, EndpointState.RUNNING)
    # the only serving version killed by its name: the release dies
    assert platform.serving.kill(again.name).state is EndpointState.KILLED
    assert platform.serving.resolve("petset") is None


def _settings(home: Path) -> ServerSettings:
    return ServerSettings(
        home, f"sqlite:///{home}/kaon.db", f"file://{home}/objects", "127.0.0.1", 0
    )


def _home(tmp_path: Path, migrated_db: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(migrated_db, home / "kaon.db")
    return home


def test_releases_and_their_traffic_come_back_after_a_restart(
    tmp_path: Path, migrated_db: Path
) -> None:
    settings = _settings(_home(tmp_path, migrated_db))
    first = build(settings)
    first.start()
    try:
        source = put(first, serve_bundle(tmp_path / "svc"))
        v1 = deploy(first, source)
        wait_for(first, v1.name, EndpointState.RUNNING)
        first.serving.update("petset", "me", None, canary=20, version="v2")
        until(first, "petset", Traffic({"v1": 80, "v2": 20}))
        other = deploy(first, source, "other", "a")
        wait_for(first, other.name, EndpointState.RUNNING)
        first.serving.update("other", "me", None, version="b")
        until(first, "other", Traffic.only("b"))
        wait_for(first, "other-a", EndpointState.KILLED)
    finally:
        first.close()
    second = build(settings)
    second.start()
    try:
        assert second.serving.release("petset").traffic == Traffic({"v1": 80, "v2": 20})
        for name in ("petset-v1", "petset-v2", "other-b"):
            wait_for(second, name, EndpointState.RUNNING)
        assert second.serving.get("other-a").state is EndpointState.KILLED  # stays drained
        deadline = time.monotonic() + 30
        while answering(second, "petset", 200) != {"v1", "v2"}:  # routes ready one by one
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert answering(second, "other", 10) == {"b"}
        assert second.serving.promote("petset").traffic == Traffic.only("v2")
    finally:
        second.close()


def test_a_pending_update_resumes_and_an_old_endpoint_gets_a_release(
    tmp_path: Path, migrated_db: Path
) -> None:
    home = _home(tmp_path, migrated_db)
    first = build(_settings(home))
    first.start()
    try:
        source = put(first, serve_bundle(tmp_path / "svc"))
        v1 = deploy(first, source)
        wait_for(first, v1.name, EndpointState.RUNNING)
        old = first.serving.deploy("ws", "me", source, None)
        wait_for(first, old.name, EndpointState.RUNNING)
        v2 = first.serving.update("petset", "me", None, version="v2")
        assert first.serving.release("petset").pending is not None  # stopped before ready
    finally:
        first.close()
    with sqlite3.connect(home / "kaon.db") as db:  # as a database older than releases
        db.execute("DELETE FROM releases WHERE name = ?", (old.name,))
    second = build(_settings(home))
    second.start()
    try:
        until(second, "petset", Traffic.only("v2"))
        wait_for(second, v2.name, EndpointState.RUNNING)
        wait_for(second, v1.name, EndpointState.KILLED)
        release = second.serving.release(old.name)
        assert release.traffic == Traffic.only(old.version_label)
        wait_for(second, old.name, EndpointState.RUNNING)
        choice = second.serving.resolve(old.name)
        while choice is None:
            time.sleep(0.05)
            choice = second.serving.resolve(old.name)
        assert choice.route.name == old.name
    finally:
        second.close()


def test_the_default_version_is_the_models_data_commit(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    job, _, data = train(platform, tmp_path / "t", {"a": [1, 2]})
    job = finished(platform, job)
    first, second = (t.model_id for t in backends.jobs.list_trials(job.id))
    assert first and second
    source = put(platform, serve_bundle(tmp_path / "svc"))
    e = platform.serving.deploy("ws", "me", source, first, name="petset")
    assert e.version == data.commit[:6] and e.name == f"petset-{data.commit[:6]}"
    wait_for(platform, e.name, EndpointState.RUNNING)
    assert platform.serving.update("petset", "me", first).name == e.name  # serving already
    with pytest.raises(Conflict, match="choose another --version"):
        platform.serving.update("petset", "me", second)  # same data commit, other model
    v2 = platform.serving.update("petset", "me", second, version="v2")
    until(platform, "petset", Traffic.only("v2"))
    choice = platform.serving.resolve("petset", version=second)  # OIP: a model id pins it
    assert choice is not None and choice.route.name == v2.name
    wait_for(platform, e.name, EndpointState.KILLED)
    assert platform.serving.resolve("petset", version=first) is None  # drained
