"""`kaon serve update/promote/rollback/versions/feedback` and the release rows of `kaon serve
list`: what they print (pure functions over the API's answers) and the bad input they refuse
before anything is sent (the real CLI in a subprocess, with no server: none is started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kaon.cli.releaseview import (
    feedback_rows,
    listing,
    row_of,
    traffic_text,
    version_cell,
    version_rows,
)
from kaon.client.models import BundleInfo, EndpointInfo, FeedbackInfo, ReleaseInfo, VersionInfo
from kaon.client.releases import check_update
from kaon.core.endpoints import EndpointFailure, EndpointState
from kaon.core.errors import InvalidInput, NotFound

MODEL = "e23a2_9fd9d:b82151"
BUNDLE = BundleInfo("serve", "m", "ws-source", "m", "abc", "d" * 64, "ann", 10, 1, "/m:abc")


def version(
    release: str,
    label: str,
    state: EndpointState = EndpointState.RUNNING,
    created: float = 1.0,
    served: str | None = "c0ffee",
    failure: EndpointFailure | None = None,
) -> EndpointInfo:
    name = f"{release}-{label}" if label != "1" else release
    return EndpointInfo(
        name=name,
        workspace="ws",
        state=state,
        created=created,
        started=created,
        author="ann",
        source=BUNDLE,
        model_id=MODEL,
        replicas=1,
        ready=1,
        restarts=0,
        batch=None,
        timeout=30.0,
        url=f"127.0.0.1:5266/{name}/invocations",
        reason="",
        env={},
        variables={},
        served_commit=served,
        auth=False,
        failure=failure,
        release=release,
        version=label,
    )


class Traffic:
    """What `endpoint_release` answers: the traffic per release, and who was asked."""

    def __init__(self, traffic: dict[str, tuple[dict[str, int], str | None]]) -> None:
        self.traffic = traffic
        self.asked: list[str] = []

    def endpoint_release(self, name: str) -> ReleaseInfo:
        self.asked.append(name)
        if name not in self.traffic:
            raise NotFound(f"endpoint {name} not found")
        weights, shadow = self.traffic[name]
        return ReleaseInfo(name, "ws", 0.0, "ann", "u", weights, shadow, None, [], None)


def test_one_row_per_release_with_the_version_that_answers() -> None:
    rows = [
        version("petset", "c517ec", created=1),
        version("petset", "a1", EndpointState.KILLED, created=0.5),
        version("serve-ws-abc123", "1", created=2),
    ]
    asked = Traffic({})
    shown = listing(asked, rows, show_all=False)
    assert [(r.name, r.cell, r.main.version) for r in shown.up] == [
        ("petset", "c517ec", "c517ec"),
        ("serve-ws-abc123", "1", "1"),
    ]
    assert shown.up[0].created == 0.5 and [v.version for v in shown.up[0].versions] == ["c517ec"]
    assert shown.building == [] and shown.gone == [] and not shown.hidden
    assert asked.asked == []  # one live version each: no traffic asked for
    everything = listing(asked, rows, show_all=True)
    assert [v.version for v in everything.up[0].versions] == ["c517ec", "a1"]


def test_a_canary_and_a_shadow_show_their_shares() -> None:
    rows = [
        version("petset", "c517ec", created=1),
        version("petset", "d41d8c", created=2),
        version("petset", "e5", EndpointState.STARTING, created=3, served=None),
    ]
    asked = Traffic({"petset": ({"c517ec": 90, "d41d8c": 10}, None)})
    (row,) = listing(asked, rows, show_all=False).up
    assert row.cell.splitlines() == ["c517ec 90%", "d41d8c 10%", "e5 starting"]
    assert row.main.version == "c517ec" and asked.asked == ["petset"]
    cell, top = version_cell(rows[:2], {"c517ec": 100, "d41d8c": 0}, "d41d8c")
    assert cell.splitlines() == ["c517ec", "d41d8c shadow"] and top == "c517ec"


def test_a_release_gone_meanwhile_still_lists_its_versions() -> None:
    rows = [version("petset", "c517ec"), version("petset", "d41d8c", created=2)]
    kind, row = row_of("petset", rows, lambda name: None)
    assert kind == "up" and row.cell.splitlines() == ["c517ec running", "d41d8c running"]


def test_building_and_killed_releases() -> None:
    failed = version(
        "broken", "v1", EndpointState.FAILURE, served=None, failure=EndpointFailure.BUILD
    )
    killed = version("old", "v1", EndpointState.KILLED)
    shown = listing(Traffic({}), [failed, killed], show_all=False)
    assert [r.name for r in shown.building] == ["broken"] and shown.gone == [] and shown.hidden
    assert [r.name for r in listing(Traffic({}), [killed], show_all=True).gone] == ["old"]


def test_traffic_versions_and_feedback_tables() -> None:
    assert traffic_text({"a": 10, "b": 90}, None) == "b 90%, a 10%"
    assert traffic_text({"a": 100}, "b") == "a 100%, shadow b"
    v = VersionInfo("petset", "b", "petset-b", MODEL, 0, True, EndpointState.RUNNING, 0.0, "c")
    old = VersionInfo(
        "petset", "a", "petset-a", None, 0, False, EndpointState.KILLED, 0.0, "c", "replaced by b"
    )
    headers, rows = version_rows([v, old], now=120.0)
    assert headers == ["VERSION", "MODEL", "TRAFFIC", "STATE", "CREATED", "REASON"]
    assert rows[0][:4] == ["b", MODEL, "shadow", "PIPELINE_RUNNING"]
    assert rows[1][1:3] == ["-", "0%"] and rows[1][-1] == "replaced by b"
    f = FeedbackInfo(
        "r1", "petset", "b", MODEL, 0.0, {}, {}, 1.0, {"label": "x" * 80}, "seldon", ""
    )
    headers, rows = feedback_rows([f], now=5.0)
    assert headers[:4] == ["REQUEST", "VERSION", "REWARD", "TRUTH"]
    assert rows[0][:3] == ["r1", "b", "1"] and len(rows[0][3]) == 40 and rows[0][4] == "seldon"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_id": None, "source": None}, "nothing to update"),
        ({"canary": 0}, "--canary"),
        ({"canary": 100}, "--canary"),
        ({"canary": 150}, "--canary"),
        ({"canary": 10, "shadow": True}, "not both"),
        ({"version": "v-2"}, "invalid version"),
        ({"model_id": "nope"}, "invalid model id"),
    ],
)
def test_update_refuses_bad_input_before_sending(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "model_id": MODEL,
        "source": None,
        "canary": None,
        "shadow": False,
        "version": None,
    }
    with pytest.raises(InvalidInput, match=match):
        check_update(**(args | kwargs))  # type: ignore[arg-type]


def _kaon(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"KAON_HOME": str(home), "KAON_PORT": "0", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "kaon.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("update", "-e", "petset", "-m", MODEL, "--canary", "150"), "--canary 150"),
        (("update", "-e", "petset", "-m", MODEL, "--canary", "0"), "--canary 0"),
        (("update", "-e", "petset", "-m", MODEL, "--canary", "5", "--shadow"), "not both"),
        (("update", "-e", "petset"), "nothing to update"),
        (("deploy", "-s", ".", "--name", "Pet_Set"), "invalid endpoint name"),
        (("deploy", "-s", ".", "--name", "metrics"), "reserved"),
        (("feedback", "-e", "petset", "--limit", "0"), "--limit"),
    ],
)
def test_the_cli_refuses_bad_input_with_exit_2_and_starts_no_server(
    tmp_path: Path, args: tuple[str, ...], match: str
) -> None:
    p = _kaon(tmp_path, "serve", *args)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], p.stderr
    assert not (tmp_path / "server.json").exists()  # nothing was sent: no server was started
