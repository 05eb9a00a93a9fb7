"""The gateway over named, versioned endpoints (real CLI, server, replicas): a release and
its `<release>-<version>` names route on every protocol, Seldon's namespace, OIP's
/versions/<v>, X-Kaon-Version, and a shadow version that is mirrored to — recorded, never
returned, never failing the answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import Kaon

from .gatewayed import SERVE, call, deploy, train_model

pytestmark = pytest.mark.e2e

WS = "releasews"
# the second version: triples instead of doubling, and breaks on a payload the first takes
SERVE_V2 = SERVE.replace('ctx["scale"]', "3").replace(
    'if payload == {"boom": True}:', 'if payload == {"boom": True} or payload == {"v2": "breaks"}:'
)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    k = Kaon(tmp_path_factory.mktemp("kaon-rel"))
    try:
        k.up()
        root = tmp_path_factory.mktemp("bundles")
        model, serve = train_model(k, root, WS)
        serve2 = root / "serve2"
        (serve2 / "demo" / "model").mkdir(parents=True)
        (serve2 / "demo" / "model" / "model.py").write_text(SERVE_V2)
        (serve2 / "demo" / "model" / "requirements.txt").write_text("")
        k.ok("workspace", "create", "-n", "otherws")
        deploy(k, serve, model, WS, "--name", "petset", "--version", "c517ec")
        base = k.server()["url"]  # type: ignore[index]
        yield {"kaon": k, "model": model, "serve2": serve2, "base": base}
    finally:
        k.shutdown()


def seldon(base: str, prefix: str, name: str, body: Any) -> tuple[int, dict[str, str], Any]:
    return call(f"{base}{prefix}/{name}/api/v0.1/predictions", body)


def metric(base: str, name: str, **labels: str) -> float:
    status, _, text = call(f"{base}/metrics", method="GET")
    assert status == 200
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_release_and_version_names_route_on_every_protocol(release: dict[str, Any]) -> None:
    base = release["base"]
    body = {"data": {"ndarray": [[1, 2]]}}
    for prefix in ("/seldon/kubeflow", f"/seldon/{WS}", "/seldon", ""):
        for name in ("petset", "petset-c517ec"):
            status, headers, doc = seldon(base, prefix, name, body)
            assert status == 200 and doc["data"]["ndarray"] == [[2, 4]], (prefix, name, doc)
            assert headers["x-kaon-version"] == "c517ec"
            assert doc["meta"]["tags"]["model_version"] == "c517ec"
    status, headers, doc = call(f"{base}/petset/invocations", [5])
    assert status == 200 and doc == [10] and headers["x-kaon-version"] == "c517ec"
    status, _, doc = call(f"{base}/v2/models/petset/versions/c517ec/infer", oip([1]))
    assert status == 200 and doc["outputs"][0]["data"] == [2]


def test_a_namespace_naming_another_workspace_is_404(release: dict[str, Any]) -> None:
    status, _, doc = seldon(release["base"], "/seldon/otherws", "petset", {"strData": "x"})
    assert status == 404 and doc["status"]["status"] == "FAILURE"
    assert "not in workspace 'otherws'" in doc["status"]["info"]


def test_unknown_version_is_404_everywhere(release: dict[str, Any]) -> None:
    base = release["base"]
    status, _, doc = call(f"{base}/v2/models/petset/versions/nope/infer", oip([1]))
    assert status == 404 and "has no version 'nope'" in doc["error"]
    status, _, doc = seldon(base, "/seldon/kubeflow", "petset-nope", {"strData": "x"})
    assert status == 404 and "petset-nope" in doc["status"]["info"]


def oip(data: list[Any]) -> dict[str, Any]:
    return {"inputs": [{"name": "x", "shape": [len(data)], "datatype": "INT64", "data": data}]}


def test_a_shadow_is_mirrored_recorded_and_never_answers(release: dict[str, Any]) -> None:
    k: Kaon = release["kaon"]
    base = release["base"]
    k.ok(
        "serve", "update", "-e", "petset", "-s", str(release["serve2"]), "-m", release["model"],
        "--shadow", "--version", "v2", "--wait", env={"KAON_WORKSPACE": WS},
    )  # fmt: skip
    before = metric(base, "kaon_shadow_requests_total", release="petset", version="v2")
    sent = 0
    for body in ({"data": {"ndarray": [[1]]}}, {"jsonData": {"v2": "breaks"}}):
        status, headers, doc = seldon(base, "/seldon/kubeflow", "petset", body)
        assert status == 200 and headers["x-kaon-version"] == "c517ec", doc
        sent += 1
    status, headers, doc = call(f"{base}/petset/invocations", [1, 1])
    assert status == 200 and doc == [2, 2] and headers["x-kaon-version"] == "c517ec"
    sent += 1
    deadline = time.monotonic() + 60  # mirrors are asynchronous: wait for them to land
    while metric(base, "kaon_shadow_requests_total", release="petset", version="v2") < before + 3:
        assert time.monotonic() < deadline, "the shadow never got the mirrored requests"
        time.sleep(0.2)
    assert metric(base, "kaon_shadow_requests_total", version="v2", code="500") >= 1
    assert metric(base, "kaon_shadow_agreements_total", version="v2", agree="false") >= 3
    log = shadow_log(k.home, "petset-v2")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {x["answered_by"] for x in lines} == {"c517ec"}
    assert sorted(x["status"] for x in lines[-sent:]) == [200, 200, 500]  # in any order
    assert {x["answer"] for x in lines[-sent:] if x["status"] == 200} == {"[[3]]", "[3,3]"}
    assert not any(x["agree"] for x in lines[-sent:])
    # an OIP request is mirrored too; its log line is the answer as a client would read it
    status, headers, doc = call(f"{base}/v2/models/petset/infer", oip([1]))
    assert status == 200 and headers["x-kaon-version"] == "c517ec", doc
    while metric(base, "kaon_shadow_requests_total", release="petset", version="v2") < before + 4:
        assert time.monotonic() < deadline + 60, "the shadow never got the mirrored OIP request"
        time.sleep(0.2)
    last = json.loads(shadow_log(k.home, "petset-v2").read_text().splitlines()[-1])
    shown = json.loads(last["answer"])
    assert shown["model_name"] == "petset-v2" and shown["outputs"][0]["data"] == [3], last
    # pinned to the shadow, OIP reaches it; then promote: v2 answers everything
    status, headers, doc = call(f"{base}/v2/models/petset/versions/v2/infer", oip([1]))
    assert status == 200 and doc["outputs"][0]["data"] == [3] and headers["x-kaon-version"] == "v2"
    k.ok("serve", "promote", "-e", "petset", env={"KAON_WORKSPACE": WS})
    status, headers, doc = seldon(base, "/seldon/kubeflow", "petset", {"data": {"ndarray": [1]}})
    assert status == 200 and doc["data"]["ndarray"] == [3] and headers["x-kaon-version"] == "v2"


def shadow_log(home: Path, version_name: str) -> Path:
    found = [p for p in home.rglob("shadow.log") if p.parent.name == version_name]
    assert len(found) == 1, found
    return found[0]


def test_a_canary_splits_answers_and_feedback_names_who_answered(release: dict[str, Any]) -> None:
    k: Kaon = release["kaon"]
    base = release["base"]
    serve1 = release["serve2"].parent / "serve"
    k.ok(
        "serve", "update", "-e", "petset", "-s", str(serve1), "-m", release["model"],
        "--canary", "50", "--version", "v3", "--wait", env={"KAON_WORKSPACE": WS},
    )  # fmt: skip
    seen: dict[str, str] = {}
    for _ in range(40):  # both answer: all 40 from one side has odds 2 in 2**40
        status, headers, doc = seldon(
            base, "/seldon/kubeflow", "petset", {"data": {"ndarray": [1]}}
        )
        assert status == 200 and doc["meta"]["tags"]["model_version"] == headers["x-kaon-version"]
        expected = {"v2": [3], "v3": [2]}.get(headers["x-kaon-version"])
        assert doc["data"]["ndarray"] == expected, (  # v2: promoted by the shadow test above
            headers,
            k.ok("serve", "versions", "-e", "petset", env={"KAON_WORKSPACE": WS}),
        )
        seen.setdefault(headers["x-kaon-version"], doc["meta"]["puid"])
    assert set(seen) == {"v2", "v3"}
    for version, puid in seen.items():
        feedback = {"response": {"meta": {"puid": puid}}, "reward": 1}
        status, _, doc = call(f"{base}/seldon/kubeflow/petset/api/v1.0/feedback", feedback)
        assert status == 200 and doc["meta"]["tags"]["model_version"] == version
    records = k.json("serve", "feedback", "-e", "petset")
    assert {r["request_id"]: r["version"] for r in records} == {p: v for v, p in seen.items()}
