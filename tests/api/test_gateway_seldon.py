"""Seldon's protocol on the gateway, over a real server and a real endpoint: every path form,
every SeldonMessage kind, meta with puid and version tags, feedback, errors in Seldon's
shape; and routing of the other gateway paths (any resolved name, reserved names, OIP
versions, X-Kaon-Version on every answer)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.helpers import Kaon

from .gatewayed import call, deploy, train_model

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    k = Kaon(tmp_path_factory.mktemp("kaon-gw"))
    try:
        k.up()
        model, serve = train_model(k, tmp_path_factory.mktemp("bundles"), "seldonws")
        endpoint = deploy(k, serve, model, "seldonws")
        base = k.server()["url"]  # type: ignore[index]
        yield {"kaon": k, "model": model, "name": endpoint["name"], "base": base, "serve": serve}
    finally:
        k.shutdown()


def paths(served: dict[str, Any], action: str = "predictions") -> list[str]:
    base, name = served["base"], served["name"]
    return [
        f"{base}/seldon/kubeflow/{name}/api/v0.1/{action}",
        f"{base}/seldon/kubeflow/{name}/api/v1.0/{action}",
        f"{base}/seldon/{name}/api/v1.0/{action}",
        f"{base}/{name}/api/v0.1/{action}",
        f"{base}/{name}/api/v1.0/{action}",
    ]


def test_every_path_form_answers_an_ndarray_with_meta(served: dict[str, Any]) -> None:
    for url in paths(served):
        status, headers, doc = call(url, {"data": {"names": [], "ndarray": [[1, 2], [3, 4]]}})
        assert status == 200, (url, doc)
        assert doc["data"]["ndarray"] == [[2, 4], [6, 8]]
        meta = doc["meta"]
        assert meta["puid"] == headers["x-request-id"] and len(meta["puid"]) == 32
        assert meta["requestPath"] == {served["name"]: served["model"]}
        assert meta["tags"]["model_id"] == served["model"]
        assert meta["tags"]["model_version"] == headers["x-kaon-version"] != ""
        assert headers["x-kaon-model-id"] == served["model"]


def test_each_message_kind_reaches_predict_decoded_and_comes_back_in_kind(
    served: dict[str, Any],
) -> None:
    url = paths(served)[0]
    tensor = {"data": {"names": ["a"], "tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}}
    status, _, doc = call(url, tensor)
    assert status == 200 and doc["data"]["tensor"] == {"shape": [2, 2], "values": [2, 4, 6, 8]}
    status, _, doc = call(url, {"strData": "petset"})
    assert status == 200 and doc["strData"] == "PETSET"
    status, _, doc = call(url, {"jsonData": {"x": [1]}})
    assert status == 200 and doc["jsonData"] == {"echo": {"x": [1]}}
    raw = base64.b64encode(b"\x00\xff").decode()
    status, _, doc = call(url, {"binData": raw})
    assert status == 200 and base64.b64decode(doc["binData"]) == b"bytes:00ff"


def test_bad_bodies_are_400_in_seldons_shape(served: dict[str, Any]) -> None:
    url = paths(served)[1]
    status, headers, doc = call(url, {"meta": {}})
    assert status == 400 and doc["status"]["status"] == "FAILURE"
    assert headers["x-kaon-version"] and headers["x-kaon-model-id"] == served["model"]
    assert "needs exactly one of data.ndarray" in doc["status"]["info"]
    status, _, doc = call(url, raw=b"not json")
    assert status == 400 and "not JSON" in doc["status"]["info"]
    status, _, doc = call(url, {"jsonData": {"boom": True}})  # the predictor raises
    assert status == 500 and "broke on purpose" in doc["status"]["info"]
    assert doc["status"]["reason"] == "MICROSERVICE_ERROR"


def test_unknown_names_versions_and_paths(served: dict[str, Any]) -> None:
    base, name = served["base"], served["name"]
    status, _, doc = call(f"{base}/seldon/kubeflow/nosuch/api/v1.0/predictions", {"strData": "x"})
    assert status == 404 and "no endpoint 'nosuch'" in doc["status"]["info"]
    status, _, doc = call(f"{base}/seldon/kubeflow/{name}/api/v2.0/predictions", {"strData": "x"})
    assert status == 404 and "unknown Seldon path" in doc["status"]["info"]
    status, _, doc = call(f"{base}/nosuch/invocations", {"x": [1]})
    assert status == 404 and "no endpoint 'nosuch'" in doc["error"]
    status, _, doc = call(f"{base}/v2/models/{name}/versions/zzz/infer", {"inputs": []})
    assert status == 404 and "has no version 'zzz'" in doc["error"]
    status, _, _ = call(f"{base}/v1/health", method="GET")  # reserved: the API answers
    assert status == 200


def test_oip_versions_route_to_that_version(served: dict[str, Any]) -> None:
    base, name = served["base"], served["name"]
    request = {
        "id": "r1",
        "inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}],
    }
    status, headers, doc = call(f"{base}/v2/models/{name}/infer", request)
    assert status == 200 and doc["outputs"][0]["data"] == [2, 4]
    version = headers["x-kaon-version"]
    for pinned in (version, served["model"]):
        status, _, doc = call(f"{base}/v2/models/{name}/versions/{pinned}/infer", request)
        assert status == 200 and doc["outputs"][0]["data"] == [2, 4], pinned


def test_kaos_answers_carry_the_version(served: dict[str, Any]) -> None:
    status, headers, doc = call(f"{served['base']}/{served['name']}/invocations", [1, 2])
    assert status == 200 and doc == [2, 4]
    assert headers["x-kaon-version"] and headers["x-kaon-model-id"] == served["model"]


def test_metrics_count_per_version_and_protocol(served: dict[str, Any]) -> None:
    call(paths(served)[0], {"strData": "m"})
    status, _, text = call(f"{served['base']}/metrics", method="GET")
    assert status == 200
    body = text.decode() if isinstance(text, bytes) else str(text)
    assert "kaon_version_requests_total{" in body
    line = next(
        ln
        for ln in body.splitlines()
        if ln.startswith("kaon_version_requests_total{") and 'protocol="seldon"' in ln
    )
    assert f'release="{served["name"]}"' in line and 'code="200"' in line


def test_seldon_feedback_is_stored_once_per_answer(served: dict[str, Any]) -> None:
    url = paths(served)[0]
    request = {"data": {"names": [], "ndarray": [[1, 2]]}}
    status, _, answer = call(url, request)
    assert status == 200
    puid = answer["meta"]["puid"]
    feedback = {"request": request, "response": answer, "reward": 1.0}
    feedback["truth"] = {"data": {"ndarray": [[2, 5]]}}
    for form in paths(served, "feedback")[:1]:
        status, headers, doc = call(form, feedback)
        assert status == 200, doc
        assert doc["meta"]["puid"] == puid and doc["meta"]["tags"]["commit"]
        assert doc["meta"]["tags"]["model_version"] == headers["x-kaon-version"]
    status, _, doc = call(paths(served, "feedback")[2], feedback)  # the same answer again
    assert status == 409 and "already has its feedback" in doc["status"]["info"]
    kaon: Kaon = served["kaon"]
    token = (kaon.home / "token").read_text().strip()
    status, _, records = call(
        f"{served['base']}/v1/endpoints/{served['name']}/feedback",
        method="GET",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 200, records
    mine = [r for r in records if r["request_id"] == puid]
    assert len(mine) == 1 and mine[0]["reward"] == 1.0 and mine[0]["truth"] == [[2, 5]]
    assert mine[0]["protocol"] == "seldon" and mine[0]["request"] == request
    assert mine[0]["response"]["meta"]["puid"] == puid


def test_seldon_feedback_refusals(served: dict[str, Any]) -> None:
    url = paths(served, "feedback")[1]
    status, _, doc = call(url, {"reward": 1})
    assert status == 400 and "response.meta.puid" in doc["status"]["info"]
    unknown = {"response": {"meta": {"puid": "f" * 32}}, "reward": 1}
    status, _, doc = call(url, unknown)
    assert status == 404 and "unknown puid" in doc["status"]["info"]
    status, _, answer = call(paths(served)[0], {"strData": "x"})
    status, _, doc = call(url, {"response": answer, "reward": "high"})
    assert status == 400 and '"reward" must be a number' in doc["status"]["info"]


def test_a_guarded_endpoint_takes_seldons_token_header(served: dict[str, Any]) -> None:
    kaon: Kaon = served["kaon"]
    guarded = deploy(kaon, served["serve"], served["model"], "seldonws", "--auth")["name"]
    url = f"{served['base']}/seldon/kubeflow/{guarded}/api/v1.0/predictions"
    body = {"data": {"ndarray": [1]}}
    status, headers, doc = call(url, body)
    assert status == 401 and doc["status"]["status"] == "FAILURE"
    assert "`X-Auth-Token: <token>`" in doc["status"]["info"]
    assert headers["www-authenticate"] == "Bearer"
    token = (kaon.home / "token").read_text().strip()
    for sent in ({"X-Auth-Token": token}, {"Authorization": f"Bearer {token}"}):
        status, _, doc = call(url, body, headers=sent)
        assert status == 200 and doc["data"]["ndarray"] == [2], sent
    status, _, doc = call(url, body, headers={"X-Auth-Token": "wrong-token-0123456789"})
    assert status == 401 and "unknown, expired or revoked" in doc["status"]["info"]
