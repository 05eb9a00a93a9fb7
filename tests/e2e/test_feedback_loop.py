"""Feedback as data, end to end through the real CLI, server and gateway: predictions and
their feedback land in the workspace's feedback repo (one file per request, with the request,
the answer and the version), `GET /v1/endpoints/{e}/feedback` lists them newest first, and a
retrain pipeline reading that repo with `trigger: {commits: 3}` runs after the 3rd feedback
only. A pipeline may read a workspace's repo only when its author may read the workspace."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon
from .test_serve import bundles, post
from .test_two_users import add_user

pytestmark = pytest.mark.e2e

WS = "loop"
RELEASE = "loopset"  # release names are unique on the (shared) platform

RETRAIN = """\
pipeline: {{name: {name}}}
description: retrain once enough feedback arrived
input:
  pfs:
    repo: {ws}-feedback
    branch: {branch}
    name: feedback
    glob: /
    trigger: {{commits: 3}}
transform:
  cmd: [sh, -c, "ls /pfs/feedback | wc -l | tr -d ' ' > /pfs/out/seen"]
"""


@pytest.fixture(scope="module")
def endpoint(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("loop")
    train, data, serve = bundles(root)
    env = {"KAON_WORKSPACE": WS}
    kaon.ok("workspace", "create", "-n", WS)
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    model = job["trials"][0]["model_id"]
    out = kaon.ok(
        "serve", "deploy", "-s", str(serve), "-m", model, "--name", RELEASE, "--version", "v1",
        "--wait", "--json", env=env,
    )  # fmt: skip
    doc = kaon.server()
    assert doc is not None
    assert json.loads(out)["name"] == f"{RELEASE}-v1"
    return {"env": env, "model": model, "name": RELEASE, "base": doc["url"], "root": root}


def predict_and_feed(base: str, name: str, x: int, reward: float) -> str:
    status, headers, answer = post(f"{base}/{name}/invocations", json.dumps({"x": [x]}).encode())
    assert status == 200 and answer["result"] == [3 * x]
    rid = headers["x-request-id"]
    body = json.dumps({"request_id": rid, "reward": reward, "truth": [3 * x]}).encode()
    status, _, doc = post(f"{base}/{name}/feedback", body)
    assert status == 201, doc
    return rid


def jobs(kaon: Kaon, pipeline: str) -> list[dict[str, Any]]:
    return list(json.loads(kaon.ok("list", "job", "-p", pipeline, "--json")))


def test_retrain_runs_after_the_third_feedback_only(
    kaon: Kaon, endpoint: dict[str, Any], tmp_path: Path
) -> None:
    base, name, release = endpoint["base"], endpoint["name"], endpoint["name"]
    spec = tmp_path / "retrain.yaml"
    spec.write_text(RETRAIN.format(name="retrain", ws=WS, branch=release))
    kaon.ok("create", "pipeline", "-f", str(spec))
    assert jobs(kaon, "retrain") == []  # no feedback yet

    rids = [predict_and_feed(base, name, 1, 1.0), predict_and_feed(base, name, 2, 0.0)]
    assert jobs(kaon, "retrain") == []  # 2 < 3: the trigger holds the job back
    rids.append(predict_and_feed(base, name, 3, 1.0))
    (job,) = jobs(kaon, "retrain")
    kaon.ok("wait", "commit", "retrain@master", "--timeout", "2m")
    assert kaon.ok("get", "file", "retrain@master:/seen").strip() == "3"
    done = json.loads(kaon.ok("inspect", "job", f"retrain@{job['id']}", "--json"))
    assert done["state"] == "JOB_SUCCESS", done

    rids.append(predict_and_feed(base, name, 4, 1.0))  # 1 since the last job: none
    assert len(jobs(kaon, "retrain")) == 1

    # each feedback is a file of its own, with the request, the answer and the version
    stored = json.loads(kaon.ok("get", "file", f"{WS}-feedback@{release}:/{rids[1]}.json"))
    assert stored["request"] == {"x": [2]} and stored["response"]["result"] == [6]
    assert (stored["reward"], stored["truth"], stored["endpoint"]) == (0.0, [6], release)
    assert stored["model_id"] == endpoint["model"] and stored["version"]

    # listed newest first (`kaon serve feedback`; a version's name: its answers only)
    env = endpoint["env"]
    docs = json.loads(kaon.ok("serve", "feedback", "-e", name, "--limit", "3", "--json", env=env))
    assert [d["request_id"] for d in docs] == rids[::-1][:3]
    assert docs[0]["request"] == {"x": [4]} and docs[0]["version"] == "v1" and docs[0]["commit"]
    mine = json.loads(kaon.ok("serve", "feedback", "-e", f"{name}-v1", "--json", env=env))
    assert [d["request_id"] for d in mine] == rids[::-1]
    table = kaon.ok("serve", "feedback", "-e", name, env=env)
    assert rids[-1][:12] in table or rids[-1] in table


def test_a_workspace_repo_is_an_input_only_for_who_may_read_it(
    kaon: Kaon, endpoint: dict[str, Any], tmp_path: Path
) -> None:
    ben = add_user(kaon, "ben-loop")
    spec = tmp_path / "steal.yaml"
    spec.write_text(RETRAIN.format(name="steal", ws=WS, branch=endpoint["name"]))
    ben.fails(4, "create", "pipeline", "-f", str(spec), match=f"input repo '{WS}-feedback'")
    assert "steal" not in kaon.ok("list", "pipeline")
    kaon.ok("workspace", "share", "-n", WS, "--user", "ben-loop", "--role", "viewer")
    ben.ok("create", "pipeline", "-f", str(spec))
    assert "steal" in kaon.ok("list", "pipeline")
    # the role is checked again each time a job starts: ben's pipeline reads nothing more once
    # ben may not read the workspace (as a Pachyderm pipeline runs with its creator's rights)
    kaon.ok("workspace", "unshare", "-n", WS, "--user", "ben-loop")
    job = json.loads(kaon.ok("run", "pipeline", "steal", "--json"))
    ended = poll_job(kaon, "steal", job["id"])
    assert ended["state"] == "JOB_FAILURE", ended
    assert f"input repo '{WS}-feedback'" in ended["reason"] and "ben-loop" in ended["reason"]
    kaon.ok("delete", "pipeline", "steal")


def poll_job(kaon: Kaon, pipeline: str, job: str, timeout: float = 120) -> dict[str, Any]:
    """The job once it ended (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [j for j in jobs(kaon, pipeline) if j["id"] == job]
        if found and found[0]["state"] in {"JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED"}:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"job {pipeline}@{job} did not end in {timeout} s")
