"""Models are scoped to their workspace: the same content-addressed model id trained in two
workspaces is served, described and drawn from each one's own records (issue 12, item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon
from .test_serve import bundles, post

pytestmark = pytest.mark.e2e


def _train(kaon: Kaon, ws: str, train: Path, data: Path) -> dict[str, Any]:
    kaon.ok("workspace", "create", "-n", ws)
    out = kaon.ok(
        "train",
        "deploy",
        "-s",
        str(train),
        "-d",
        str(data),
        "--wait",
        "--json",
        env={"KAON_WORKSPACE": ws},
    )
    job: dict[str, Any] = json.loads(out)
    return job


def test_the_same_model_in_two_workspaces_is_served_and_drawn_from_each(
    kaon: Kaon, tmp_path: Path
) -> None:
    train, data, serve = bundles(tmp_path)
    first = _train(kaon, "twin_a", train, data)
    second = _train(kaon, "twin_b", train, data)
    model = first["trials"][0]["model_id"]
    assert second["trials"][0]["model_id"] == model  # content-addressed: the same id
    env = {"KAON_WORKSPACE": "twin_b"}

    # served from the second workspace: its own models repo has the files
    out = kaon.ok("serve", "deploy", "-s", str(serve), "-m", model, "--wait", "--json", env=env)
    endpoint = json.loads(out)
    assert endpoint["state"] == "PIPELINE_RUNNING", endpoint["reason"]
    base = kaon.server()["url"]  # type: ignore[index]
    status, _, doc = post(f"{base}/{endpoint['name']}/invocations", b'{"x": [2]}')
    assert status == 200 and doc["result"] == [6]

    # provenance of the model and of the endpoint: only this workspace's job
    prov = kaon.ok(
        "train", "provenance", "-m", model, "-o", str(tmp_path), "--format", "json", env=env
    )
    assert second["id"][:8] in prov and first["id"][:8] not in prov
    graph = json.loads((tmp_path / "twin_b" / "provenance" / f"model-{model}.json").read_text())
    jobs = {n["attrs"].get("job") for n in graph["nodes"] if n["kind"] == "job"}
    assert jobs == {second["id"]}
    drawn = kaon.ok(
        "serve",
        "provenance",
        "-e",
        endpoint["name"],
        "-o",
        str(tmp_path),
        "--format",
        "dot",
        env=env,
    )
    assert second["id"][:8] in drawn and first["id"][:8] not in drawn
    prov_a = kaon.ok(
        "train", "provenance", "-m", model, "-o", str(tmp_path), "--format", "dot",
        env={"KAON_WORKSPACE": "twin_a"},
    )  # fmt: skip
    assert first["id"][:8] in prov_a and second["id"][:8] not in prov_a
    # the serving in twin_b does not show up downstream of twin_a's data
    down = kaon.ok("data", "subvenance", first["data"]["commit"], env=env)
    assert endpoint["name"] not in down and first["id"][:8] in down


def test_serving_a_model_of_another_workspace_is_refused_up_front(
    kaon: Kaon, tmp_path: Path
) -> None:
    train, data, serve = bundles(tmp_path)
    job = _train(kaon, "owner_ws", train, data)
    model = job["trials"][0]["model_id"]
    kaon.ok("workspace", "create", "-n", "other_ws")
    env = {"KAON_WORKSPACE": "other_ws"}
    # one line on stderr (nothing was uploaded first), naming where the model is
    line = kaon.fails(4, "serve", "deploy", "-s", str(serve), "-m", model, env=env, match=model)
    assert "other_ws" in line and "owner_ws" in line
    with kaon.client() as c:
        assert c.list_endpoints("other_ws") == []
        assert all(b.head is None for b in c.list_branches("other_ws-source"))
    kaon.fails(
        4, "train", "provenance", "-m", model, "-o", str(tmp_path), env=env, match="owner_ws"
    )
    # never trained anywhere: says so
    line = kaon.fails(
        4,
        "serve",
        "deploy",
        "-s",
        str(serve),
        "-m",
        "abcde_abcde:abcdef",
        env=env,
        match="no model",
    )
    assert "owner_ws" not in line
