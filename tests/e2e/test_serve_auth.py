"""`kaon serve deploy --auth` (issue 13): the endpoint's prediction routes then need a bearer
token of a principal that may read the endpoint's workspace; its health probes stay open; the
setting shows in `serve list`, survives a restart and `serve get` deploys it again with it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon
from .test_job_lifetime import deploy, poll
from .test_job_token import SILENT, running_token
from .test_serve import bundles

pytestmark = pytest.mark.e2e

INFER = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}


def call(
    url: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, body, headers, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read() or b"0")


@pytest.fixture(scope="module")
def guarded(lone: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lone.up()
    root = tmp_path_factory.mktemp("serve-auth")
    train, data, serve = bundles(root)
    env = {"KAON_WORKSPACE": "guarded"}
    lone.ok("workspace", "create", "-n", "guarded")
    job = json.loads(
        lone.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
    )
    model = job["trials"][0]["model_id"]
    out = lone.ok(
        "serve", "deploy", "-s", str(serve), "-m", model, "--auth", "--wait", "--json", env=env
    )
    endpoint = json.loads(out)
    assert endpoint["auth"] is True, endpoint
    return {"env": env, "model": model, "name": endpoint["name"], "root": root}


def base(kaon: Kaon) -> str:
    return str(kaon.server()["url"])  # type: ignore[index]


def test_prediction_routes_need_a_token_that_may_read_the_workspace(
    lone: Kaon, guarded: dict[str, Any], tmp_path: Path
) -> None:
    lone.up()
    url = f"{base(lone)}/{guarded['name']}"
    oip = f"{base(lone)}/v2/models/{guarded['name']}"
    platform = (lone.home / "token").read_text().strip()
    body = json.dumps({"x": [1, 2]}).encode()
    for token in (None, "", "kaon_not-a-token"):
        status, headers, doc = call(f"{url}/invocations", body, token)
        assert status == 401, (token, doc)
        assert "--auth" in doc["error"] and headers.get("www-authenticate") == "Bearer"
        assert call(f"{oip}/infer", json.dumps(INFER).encode(), token)[0] == 401
        assert call(oip, None, token)[0] == 401  # its metadata names the model
        assert call(f"{url}/feedback", b'{"request_id": "x", "truth": 1}', token)[0] == 401
    # the health probes stay open, and say nothing of the model
    status, headers, _ = call(f"{url}/ping")
    assert status == 200 and "x-kaon-model-id" not in headers
    assert call(f"{oip}/ready")[0] == 200

    status, headers, doc = call(f"{url}/invocations", body, platform)
    assert status == 200 and doc["result"] == [3, 6], doc
    assert headers["x-kaon-model-id"] == guarded["model"]
    feedback = json.dumps({"request_id": headers["x-request-id"], "truth": [3, 6]}).encode()
    assert call(f"{url}/feedback", feedback, platform)[0] == 201
    status, _, doc = call(f"{oip}/infer", json.dumps(INFER).encode(), platform)
    assert status == 200 and doc["outputs"][0]["data"] == [3, 6], doc
    assert call(oip, None, platform)[0] == 200

    # a job's token reaches its own workspace's endpoints, not another workspace's
    lone.ok("workspace", "create", "-n", "elsewhere")
    other = deploy(lone, {"KAON_WORKSPACE": "elsewhere"}, tmp_path / "o", SILENT)
    own = deploy(lone, guarded["env"], tmp_path / "g", SILENT)
    try:
        status, _, doc = call(f"{url}/invocations", body, running_token(lone, other)[1])
        assert status == 404, doc
        assert call(f"{url}/invocations", body, running_token(lone, own)[1])[0] == 200
    finally:
        lone.ok("train", "kill", "-j", other, env={"KAON_WORKSPACE": "elsewhere"})
        lone.ok("train", "kill", "-j", own, env=guarded["env"])

    # the SDK and CLI send the caller's token
    payload = tmp_path / "p.json"
    payload.write_text('{"x": [2]}')
    out = lone.ok("serve", "predict", "-e", guarded["name"], "-f", str(payload), env=guarded["env"])
    assert json.loads(out)["result"] == [6]


def test_serve_list_and_get_show_it(lone: Kaon, guarded: dict[str, Any], tmp_path: Path) -> None:
    lone.up()
    env = guarded["env"]
    listing = json.loads(lone.ok("serve", "list", "--json", env=env))
    assert [e["auth"] for e in listing if e["name"] == guarded["name"]] == [True]
    table = lone.ok("serve", "list", env=env)
    header = next(line for line in table.splitlines() if " name " in line)
    row = next(line for line in table.splitlines() if guarded["name"] in line)
    assert header.split("|")[-2].strip() == "auth" and row.split("|")[-2].strip() == "token"
    got = lone.run("serve", "get", "-e", guarded["name"], "-o", str(tmp_path / "got"), env=env)
    assert got.returncode == 0 and f"-m {guarded['model']} --auth`" in got.stderr, got


def test_it_survives_a_restart(lone: Kaon, guarded: dict[str, Any]) -> None:
    lone.up()
    lone.kill_server()
    lone.up()
    name = guarded["name"]

    def ready() -> bool:
        return call(f"{base(lone)}/{name}/ping")[0] == 200

    poll("the endpoint comes back", ready, timeout=120)
    body = json.dumps({"x": [1]}).encode()
    assert call(f"{base(lone)}/{name}/invocations", body)[0] == 401
    platform = (lone.home / "token").read_text().strip()
    assert call(f"{base(lone)}/{name}/invocations", body, platform)[0] == 200
