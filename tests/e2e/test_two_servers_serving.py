"""Endpoints on two `kaon server` processes over one database and one store (issue 17): a
version deployed through A answers through B (through A's gateway: A runs its replicas), a
canary and a promote through B, a rollback and a rolling update through A, an --auth
endpoint's token checked on both, and when A is killed (kill -9) B takes its versions over
and answers again."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from .helpers import Kaon
from .servers import Servers
from .test_job_isolation import endpoint_processes
from .test_releases import WAIT, release, until
from .test_serve import bundles, post
from .test_serve_auth import call

pytestmark = pytest.mark.e2e

CLAIMS = {"KAON_CLAIM_SECONDS": "4", "KAON_HEARTBEAT_SECONDS": "1"}  # takeover in seconds


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with Servers(tmp_path_factory.mktemp("two-servers-serving"), 2, env=CLAIMS) as servers:
        yield servers


@pytest.fixture(scope="module")
def models(pair: Servers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Workspace `pair`: two models trained through A, the serve bundle."""
    a = pair[0]
    train, data, serve = bundles(tmp_path_factory.mktemp("serving-bundles"))
    env = {"KAON_WORKSPACE": "pair"}
    a.ok("workspace", "create", "-n", "pair")
    found = []
    for rows in ("1\n", "1\n2\n"):
        (data / "features" / "x.csv").write_text(rows)
        job = json.loads(
            a.ok("train", "deploy", "-s", str(train), "-d", str(data), "--wait", "--json", env=env)
        )
        found.append(job["trials"][0]["model_id"])
    return {"env": env, "models": found, "serve": str(serve)}


def base(k: Kaon) -> str:
    doc = k.server()
    assert doc is not None, f"no server runs in {k.home}"
    return str(doc["url"])


def answers(k: Kaon, name: str, n: int = 1) -> list[tuple[str, str]]:
    """(X-Kaon-Version, X-Kaon-Model-Id) of `n` predictions through server `k`; [] as soon as
    one is not a right answer (the caller polls)."""
    out = []
    for _ in range(n):
        status, headers, doc = post(f"{base(k)}/{name}/invocations", b'{"x": [1, 2]}')
        if status != 200:
            return []
        assert doc["result"] == [3, 6] and len(headers["x-request-id"]) == 32, doc
        out.append((headers["x-kaon-version"], headers["x-kaon-model-id"]))
    return out


def only(k: Kaon, name: str, version: str, model: str, n: int = 3) -> bool:
    return answers(k, name, n) == [(version, model)] * n


def test_a_guarded_endpoint_checks_the_token_on_either_server(
    pair: Servers, models: dict[str, Any]
) -> None:
    a, b = pair
    env, (m1, _) = models["env"], models["models"]
    a.ok(
        "serve",
        "deploy",
        "-s",
        models["serve"],
        "-m",
        m1,
        "--name",
        "guarded",
        "--auth",
        "--wait",
        env=env,
    )
    url = f"{base(b)}/guarded/invocations"
    # checked on B, then on A (the token passed on)
    until("B answers guarded", lambda: call(url, b'{"x": [1]}', pair.token)[0] == 200)
    status, headers, doc = call(url, b'{"x": [1]}', pair.token)
    assert status == 200 and doc["result"] == [3] and headers["x-kaon-model-id"] == m1
    assert call(url, b'{"x": [1]}')[0] == 401
    assert call(url, b'{"x": [1]}', "not-a-token")[0] == 401
    a.ok("serve", "kill", "-y", "-e", "guarded", env=env)
    until("guarded gone through B", lambda: call(url, b'{"x": [1]}')[0] == 404)


def test_feedback_through_either_server_finds_the_answer_it_is_about(
    pair: Servers, models: dict[str, Any]
) -> None:
    """Behind a load balancer, feedback may reach another server than the one that answered:
    it asks the other servers for the answer (request id → version, request, answer)."""
    a, b = pair
    env, (m1, _) = models["env"], models["models"]
    a.ok("serve", "deploy", "-s", models["serve"], "-m", m1, "--name", "fed", "--wait", env=env)
    until("B answers fed", lambda: answers(b, "fed") != [])
    rids = []
    for _ in range(2):  # answered by A's gateway
        status, headers, doc = post(f"{base(a)}/fed/invocations", b'{"x": [1, 2]}')
        assert status == 200, doc
        rids.append(headers["x-request-id"])
    body = json.dumps({"request_id": rids[0], "truth": [3, 6]}).encode()
    status, _, doc = post(f"{base(b)}/fed/feedback", body)  # reaches B
    assert status == 201, doc
    seldon = {"response": {"meta": {"puid": rids[1]}}, "reward": 1}
    status, _, doc = post(
        f"{base(b)}/seldon/pair/fed/api/v1.0/feedback", json.dumps(seldon).encode()
    )
    assert status == 200, doc
    again = post(f"{base(a)}/fed/feedback", body)  # one per request, wherever it is sent
    assert again[0] == 409, again
    unknown = json.dumps({"request_id": "0" * 32, "truth": 1}).encode()
    assert post(f"{base(b)}/fed/feedback", unknown)[0] == 404
    records = json.loads(b.ok("serve", "feedback", "-e", "fed", "--json", env=env))
    assert {r["request_id"] for r in records} == set(rids)
    assert len({r["version"] for r in records}) == 1  # the one version that answered
    stored = {r["request_id"]: r for r in records}[rids[0]]
    assert stored["request"] == {"x": [1, 2]} and stored["truth"] == [3, 6], stored
    a.ok("serve", "kill", "-y", "-e", "fed", env=env)


def ours(pair: Servers, name: str) -> list[Any]:
    """The live processes of endpoint `name` run by `pair` (their HOME is in its servers'
    homes): another run of this test on the machine has its own `duo`."""
    root = f"{pair.root}/"
    found = []
    for proc in endpoint_processes(name):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("HOME", "").startswith(root):
                found.append(proc)
    return found


def test_any_server_serves_and_changes_endpoints_and_a_dead_ones_are_taken_over(
    pair: Servers, models: dict[str, Any]
) -> None:
    a, b = pair
    env, serve = models["env"], models["serve"]
    m1, m2 = models["models"]

    # deployed through A (A runs its replicas): B answers it, through A's gateway
    deploy = ("serve", "deploy", "-s", serve, "--name", "duo", "--wait", "--json")
    first = json.loads(a.ok(*deploy, "-m", m1, "--version", "v1", env=env))
    assert (first["name"], first["state"]) == ("duo-v1", "PIPELINE_RUNNING")
    assert only(a, "duo", "v1", m1)
    assert ours(pair, "duo-v1"), "no replica process of duo-v1 found"  # what is waited gone
    until("B answers duo through A", lambda: only(b, "duo", "v1", m1))
    assert only(b, "duo-v1", "v1", m1)
    status, headers, doc = post(f"{base(b)}/duo/invocations", b'{"boom": true}')
    assert status == 500 and "broke on purpose" in doc["error"]  # A's replica's error, as is
    assert headers["x-kaon-version"] == "v1"

    def listed_through_b() -> tuple[str, int]:
        rows = json.loads(b.ok("serve", "list", "--json", env=env))
        row = next(r for r in rows if r["name"] == "duo-v1")
        return row["state"], row["ready"]

    # the ready count comes from A's placement row, which A refreshes every sync
    until("B lists duo-v1 ready", lambda: listed_through_b() == ("PIPELINE_RUNNING", 1))
    logs = until(  # A keeps the log: B sends the request there
        "A's log through B",
        lambda: "broke on purpose" in b.ok("serve", "logs", "-e", "duo", env=env),
    )
    assert logs
    request = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}
    status, headers, doc = post(f"{base(b)}/v2/models/duo/infer", json.dumps(request).encode())
    assert status == 200 and doc["outputs"][0]["data"] == [3, 6], doc
    assert doc["model_version"] == m1 and headers["x-kaon-version"] == "v1"

    # a canary through B (B runs v2): both servers split the traffic; promoted through B
    b.ok(
        "serve",
        "update",
        "-e",
        "duo",
        "-m",
        m2,
        "--version",
        "v2",
        "--canary",
        "50",
        "--wait",
        env=env,
    )
    for k in (a, b):
        seen = until(
            f"both versions through {k.home.name}",
            lambda k=k: {v for v, _ in answers(k, "duo", 20)} == {"v1", "v2"},
        )
        assert seen
    mix = Counter(answers(a, "duo", 10))
    assert set(mix) <= {("v1", m1), ("v2", m2)}
    b.ok("serve", "promote", "-e", "duo", env=env)
    for k in (a, b):
        until(f"v2 only through {k.home.name}", lambda k=k: only(k, "duo", "v2", m2, 5))
    until(  # drained through B, v1's replicas stopped by A
        "v1 drained", lambda: release(a, "duo", env)["v1"]["state"] == "PIPELINE_KILLED"
    )
    until("v1's replicas stopped on A", lambda: not ours(pair, "duo-v1"))

    # rolled back through A (v1 started again there); v2 drains, stopped by B
    a.ok("serve", "rollback", "-e", "duo", env=env)
    for k in (a, b):
        until(f"v1 again through {k.home.name}", lambda k=k: only(k, "duo", "v1", m1, 5))
    until("v2's replicas stopped on B", lambda: not ours(pair, "duo-v2"))

    # a rolling update through A (A runs v3): B follows
    a.ok("serve", "update", "-e", "duo", "-m", m1, "--version", "v3", "--wait", env=env)
    for k in (a, b):
        until(f"v3 through {k.home.name}", lambda k=k: only(k, "duo", "v3", m1, 5))
    versions = release(b, "duo", env)
    assert versions["v3"]["traffic"] == 100 and versions["v3"]["state"] == "PIPELINE_RUNNING"

    # A dies: its claims expire, B starts v3 from its served commit and answers
    a.kill_server()
    until("B took v3 over", lambda: only(b, "duo", "v3", m1), timeout=WAIT)
    assert only(b, "duo-v3", "v3", m1)
    versions = release(b, "duo", env)
    assert versions["v3"]["state"] == "PIPELINE_RUNNING" and versions["v3"]["traffic"] == 100
    assert versions["v2"]["state"] == "PIPELINE_KILLED"


def test_the_path_between_servers_is_not_a_public_one(pair: Servers) -> None:
    b = pair[1]
    status, _, doc = post(f"{base(b)}/_kaon/replica/duo-v3", b'{"x": [1]}')
    assert status == 404 and "between kaon servers" in doc["error"]
    status, _, doc = call(f"{base(b)}/_kaon/answer/{'0' * 32}")  # GET, no hop header
    assert status == 404 and "between kaon servers" in doc["error"]
