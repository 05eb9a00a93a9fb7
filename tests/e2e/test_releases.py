"""Named, versioned endpoints through the real CLI, server and gateway: deploy --name
--version (idempotent, conflicts), a rolling update, a canary, promote, rollback (a drained
version started again), a shadow, versions, feedback, kill; and the bad input: an unknown
version, canary weights outside 1-99, promote with nothing to promote, an update while a
canary is pending, two deploys racing for one name."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon
from .test_build_failures import TYPO, tables
from .test_serve import bundles, post

pytestmark = pytest.mark.e2e

WAIT = 120.0  # generous: replicas start on a machine shared with other suites


@pytest.fixture(scope="module")
def trained(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Workspace `releases`: two models (two data commits), the serve bundle."""
    root = tmp_path_factory.mktemp("releases")
    train, data, serve = bundles(root)
    env = {"KAON_WORKSPACE": "releases"}
    kaon.ok("workspace", "create", "-n", "releases")
    models = []
    for rows in ("1\n", "1\n2\n"):
        (data / "features" / "x.csv").write_text(rows)
        job = json.loads(
            kaon.ok(
                "train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env
            )
        )
        models.append(job["trials"][0]["model_id"])
    base = kaon.server()["url"]  # type: ignore[index]
    return {"env": env, "models": models, "serve": str(serve), "base": base, "root": root}


def answered(base: str, name: str, n: int = 1) -> list[tuple[str, str]]:
    """(X-Kaon-Version, X-Kaon-Model-Id) of `n` predictions through /<name>/invocations."""
    out = []
    for _ in range(n):
        status, headers, doc = post(f"{base}/{name}/invocations", b'{"x": [1]}')
        assert status == 200 and doc["result"] == [3], (status, doc)
        out.append((headers["x-kaon-version"], headers["x-kaon-model-id"]))
    return out


def release(kaon: Kaon, name: str, env: dict[str, str]) -> dict[str, Any]:
    """The endpoint's versions (`serve versions --json`) by label."""
    found = json.loads(kaon.ok("serve", "versions", "-e", name, "--json", env=env))
    return {v["version"]: v for v in found}


def refused(kaon: Kaon, code: int, *args: str, env: dict[str, str], match: str) -> str:
    """Run, assert exit `code` with a last stderr line `Error: ...` holding `match` (a
    deploy notes its uploads first); return that line."""
    p = kaon.run(*args, env=env)
    lines = p.stderr.strip().splitlines()
    where = f"kaon {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
    assert p.returncode == code and "Traceback" not in p.stderr, where
    assert lines[-1].startswith("Error: ") and match in lines[-1], where
    return lines[-1]


def until(what: str, check: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_named_endpoint_update_canary_promote_rollback_shadow(
    kaon: Kaon, trained: dict[str, Any]
) -> None:
    env, base, serve = trained["env"], trained["base"], trained["serve"]
    m1, m2 = trained["models"]
    deploy = ("serve", "deploy", "-s", serve, "--name", "rel-pets", "--wait", "--json")

    # deploy --name --version: the endpoint and the version answer, each named
    first = json.loads(kaon.ok(*deploy, "-m", m1, "--version", "v1", env=env))
    assert (first["name"], first["release"], first["version"]) == ("rel-pets-v1", "rel-pets", "v1")
    assert first["state"] == "PIPELINE_RUNNING"
    assert answered(base, "rel-pets") == [("v1", m1)]
    assert answered(base, "rel-pets-v1") == [("v1", m1)]
    # the same inputs again: the same version, nothing new started
    again = json.loads(kaon.ok(*deploy, "-m", m1, "--version", "v1", env=env))
    assert again["name"] == "rel-pets-v1" and list(release(kaon, "rel-pets", env)) == ["v1"]
    # the name with another model: refused, pointing to update
    line = refused(kaon, 5, *deploy, "-m", m2, env=env, match="kaon serve update -e rel-pets")
    assert "rel-pets" in line
    rows = tables(kaon.ok("serve", "list", env=env))["RUNNING"]
    row = next(r for r in rows if r["name"] == "rel-pets")
    assert row["version"] == "v1" and row["url"].endswith("/rel-pets/invocations")

    # a rolling update: v2 takes everything once ready, v1 drains and stops
    out = kaon.ok("serve", "update", "-e", "rel-pets", "-m", m2, "--version", "v2", "--wait")
    assert out == ""
    assert answered(base, "rel-pets", 5) == [("v2", m2)] * 5
    drained = until(
        "v1 drained", lambda: release(kaon, "rel-pets", env)["v1"]["state"] == "PIPELINE_KILLED"
    )
    assert drained
    versions = release(kaon, "rel-pets", env)
    assert list(versions) == ["v2", "v1"]  # newest first
    assert versions["v2"]["traffic"] == 100 and versions["v1"]["traffic"] == 0
    assert "replaced by v2" in versions["v1"]["reason"]
    shown = kaon.ok("serve", "versions", "-e", "rel-pets", env=env)
    assert shown.splitlines()[0].split() == [
        "VERSION",
        "MODEL",
        "TRAFFIC",
        "STATE",
        "CREATED",
        "REASON",
    ]

    # rollback: v1 is started again from what it served; the traffic moves once it is ready
    back = json.loads(kaon.ok("serve", "rollback", "-e", "rel-pets", "--json", env=env))
    assert back["name"] == "rel-pets"
    until("v1 back", lambda: answered(base, "rel-pets") == [("v1", m1)])
    # v2 drains and stops as v1 did (until then `serve list` shows "v2 draining" in its cell)
    until("v2 drained", lambda: release(kaon, "rel-pets", env)["v2"]["state"] == "PIPELINE_KILLED")
    kaon.fails(2, "serve", "rollback", "-e", "rel-pets", env=env, match="nothing to roll back")

    # a canary: 10 % to v3 (the model of v2 under a new label), until promoted
    p = kaon.run(
        "serve",
        "update",
        "-e",
        "rel-pets",
        "-m",
        m2,
        "--version",
        "v3",
        "--canary",
        "10",
        "--wait",
        env=env,
    )
    assert p.returncode == 0 and "rel-pets: v1 90%, v3 10%" in p.stderr, p.stderr
    seen = {v for v, _ in answered(base, "rel-pets", 300)}
    assert seen == {"v1", "v3"}  # P(no v3 in 300 draws at 10 %) < 1e-13
    assert answered(base, "rel-pets-v3", 3) == [("v3", m2)] * 3  # a version by its name
    cell = tables(kaon.ok("serve", "list", env=env))["RUNNING"]
    assert next(r for r in cell if r["name"] == "rel-pets")["version"] == "v1 90% v3 10%"
    kaon.fails(
        5,
        "serve",
        "update",
        "-e",
        "rel-pets",
        "-m",
        m1,
        "--version",
        "v4",
        env=env,
        match="promote",
    )
    promoted = json.loads(kaon.ok("serve", "promote", "-e", "rel-pets", "--json", env=env))
    assert promoted["traffic"] == {"v3": 100} and promoted["shadow"] is None
    assert answered(base, "rel-pets", 5) == [("v3", m2)] * 5
    payload = trained["root"] / "payload.json"
    payload.write_text('{"x": [1]}')
    p = kaon.run("serve", "predict", "-e", "rel-pets", "-f", str(payload), env=env)
    assert p.returncode == 0 and f"model {m2}, version v3, request " in p.stderr, p.stderr
    assert "loading model" in kaon.ok("serve", "logs", "-e", "rel-pets", env=env)
    got = trained["root"] / "got"
    p = kaon.run("serve", "get", "-e", "rel-pets", "-o", str(got), env=env)
    assert p.returncode == 0 and "`kaon serve update -e rel-pets -s " in p.stderr, p.stderr
    assert (got / "releases" / "rel-pets-v3").is_dir()
    kaon.fails(2, "serve", "promote", "-e", "rel-pets", env=env, match="nothing to promote")

    # a shadow: v4 gets a copy of the requests, v3 still answers them all
    kaon.ok(
        "serve",
        "update",
        "-e",
        "rel-pets",
        "-m",
        m1,
        "--version",
        "v4",
        "--shadow",
        "--wait",
        env=env,
    )
    info = json.loads(kaon.ok("serve", "versions", "-e", "rel-pets", "--json", env=env))
    assert [(v["version"], v["traffic"], v["shadow"]) for v in info][:2] == [
        ("v4", 0, True),
        ("v3", 100, False),
    ]
    assert answered(base, "rel-pets", 5) == [("v3", m2)] * 5
    listed = tables(kaon.ok("serve", "list", env=env))["RUNNING"]
    assert next(r for r in listed if r["name"] == "rel-pets")["version"] == "v3 v4 shadow"
    kaon.ok("serve", "promote", "-e", "rel-pets", env=env)
    assert answered(base, "rel-pets", 3) == [("v4", m1)] * 3

    # feedback on an answer: listed with the version that answered it
    _, headers, _ = post(f"{base}/rel-pets/invocations", b'{"x": [2]}')
    rid = headers["x-request-id"]
    body = json.dumps({"request_id": rid, "reward": 1.0}).encode()
    assert post(f"{base}/rel-pets/feedback", body)[0] == 201
    got = json.loads(kaon.ok("serve", "feedback", "-e", "rel-pets", "--json", env=env))
    assert [(f["request_id"], f["version"], f["reward"]) for f in got] == [(rid, "v4", 1.0)]
    table = kaon.ok("serve", "feedback", "-e", "rel-pets", env=env).splitlines()
    assert table[0].split()[:3] == ["REQUEST", "VERSION", "REWARD"]
    assert table[1].split()[:3] == [rid, "v4", "1"]

    # kill: every version stops; the endpoint leaves the list, --all shows it
    kaon.ok("serve", "kill", "-e", "rel-pets", "-y", env=env)
    assert "rel-pets" not in kaon.ok("serve", "list", env=env)
    gone = tables(kaon.ok("serve", "list", "--all", env=env))["KILLED"]
    assert [r["state"] for r in gone if r["name"] == "rel-pets"] == ["PIPELINE_KILLED"]
    states = {v: i["state"] for v, i in release(kaon, "rel-pets", env).items()}
    assert set(states) == {"v1", "v2", "v3", "v4"}
    assert set(states.values()) == {"PIPELINE_KILLED"}


def test_bad_input(kaon: Kaon, trained: dict[str, Any], tmp_path: Path) -> None:
    env, base, serve = trained["env"], trained["base"], trained["serve"]
    m1, m2 = trained["models"]
    made = kaon.ok(
        "serve",
        "deploy",
        "-s",
        serve,
        "-m",
        m1,
        "--name",
        "rel-bad",
        "--version",
        "a1",
        "--wait",
        "--json",
        env=env,
    )
    assert json.loads(made)["state"] == "PIPELINE_RUNNING"

    # unknown endpoints and versions
    kaon.fails(4, "serve", "versions", "-e", "rel-bad-zz9", env=env, match="rel-bad-zz9")
    kaon.fails(4, "serve", "update", "-e", "rel-nope", "-m", m2, env=env, match="rel-nope")
    kaon.fails(4, "serve", "feedback", "-e", "rel-nope", env=env, match="rel-nope")
    status, _, doc = post(f"{base}/v2/models/rel-bad/versions/zz9/infer", b'{"inputs": []}')
    assert status == 404 and "error" in doc
    status, _, doc = post(f"{base}/rel-bad-zz9/invocations", b'{"x": [1]}')
    assert status == 404 and "error" in doc

    # canary weights outside 1-99: refused by the CLI, and by the API for other clients
    for weight in ("0", "100", "150", "-5"):
        kaon.fails(
            2,
            "serve",
            "update",
            "-e",
            "rel-bad",
            "-m",
            m2,
            "--canary",
            weight,
            env=env,
            match="--canary",
        )
    with kaon.client() as c:
        for weight in (0, 100, 150):
            with pytest.raises(Exception, match="canary") as err:
                c._json(
                    "POST",
                    "/v1/endpoints/rel-bad/versions",
                    json_body={"model_id": m2, "canary": weight},
                )
            assert type(err.value).__name__ == "InvalidInput"
        with pytest.raises(Exception, match="not both"):
            c._json(
                "POST",
                "/v1/endpoints/rel-bad/versions",
                json_body={"model_id": m2, "canary": 10, "shadow": True},
            )
    kaon.fails(2, "serve", "update", "-e", "rel-bad", env=env, match="nothing to update")
    kaon.fails(2, "serve", "deploy", "-s", serve, "--name", "v1", env=env, match="reserved")
    kaon.fails(
        2,
        "serve",
        "deploy",
        "-s",
        serve,
        "--name",
        "rel-bad",
        "--version",
        "a-1",
        env=env,
        match="invalid version",
    )

    # a new version that fails to build: exit 1 saying so, the traffic stays where it was
    broken = tmp_path / "broken"
    (broken / "demo" / "model").mkdir(parents=True)
    (broken / "demo" / "model" / "model.py").write_text(
        (Path(serve) / "demo" / "model" / "model.py").read_text()
    )
    (broken / "demo" / "model" / "requirements.txt").write_text(TYPO)
    line = refused(
        kaon,
        1,
        "serve",
        "update",
        "-e",
        "rel-bad",
        "-m",
        m2,
        "-s",
        str(broken),
        "--version",
        "x9",
        "--wait",
        env=env,
        match="version x9 of rel-bad did not start",
    )
    assert "traffic is unchanged (a1 100%" in line and "build-logs -e rel-bad-x9" in line
    assert answered(base, "rel-bad", 3) == [("a1", m1)] * 3
    assert release(kaon, "rel-bad", env)["x9"]["state"] == "PIPELINE_FAILURE"

    # promote with nothing to promote; an update while a canary is pending
    kaon.fails(2, "serve", "promote", "-e", "rel-bad", env=env, match="nothing to promote")
    kaon.ok(
        "serve",
        "update",
        "-e",
        "rel-bad",
        "-m",
        m2,
        "--version",
        "b2",
        "--canary",
        "20",
        "--wait",
        env=env,
    )
    line = kaon.fails(
        5,
        "serve",
        "update",
        "-e",
        "rel-bad",
        "-m",
        m1,
        "--version",
        "c3",
        "--shadow",
        env=env,
        match="kaon serve promote -e rel-bad",
    )
    assert "rollback" in line
    assert set(release(kaon, "rel-bad", env)) == {"a1", "b2", "x9"}  # nothing was started
    # the same version label with other inputs
    kaon.ok("serve", "rollback", "-e", "rel-bad", env=env)
    kaon.fails(
        5,
        "serve",
        "update",
        "-e",
        "rel-bad",
        "-m",
        m1,
        "--version",
        "b2",
        env=env,
        match="--version",
    )
    kaon.ok("serve", "kill", "-e", "rel-bad", "-y", env=env)


def test_two_deploys_racing_for_one_name(kaon: Kaon, trained: dict[str, Any]) -> None:
    env, serve = trained["env"], trained["serve"]
    results: dict[str, Any] = {}

    def deploy(model: str, label: str) -> None:
        results[label] = kaon.run(
            "serve",
            "deploy",
            "-s",
            serve,
            "-m",
            model,
            "--name",
            "rel-race",
            "--version",
            label,
            "--json",
            env=env,
        )

    threads = [
        threading.Thread(target=deploy, args=(m, label))
        for m, label in zip(trained["models"], ("r1", "r2"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(p.returncode for p in results.values())
    assert codes == [0, 5], {k: (p.returncode, p.stderr) for k, p in results.items()}
    winner = next(label for label, p in results.items() if p.returncode == 0)
    loser = results[{"r1": "r2", "r2": "r1"}[winner]]
    last = loser.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: endpoint rel-race ") and "Traceback" not in loser.stderr
    assert list(release(kaon, "rel-race", env)) == [winner]  # one version: the winner's
    kaon.ok("serve", "kill", "-e", "rel-race", "-y", env=env)
