"""The endpoint page in Debian's Chromium: versions and traffic, replicas, a prediction from
the try-it form (edited JSON and an uploaded file), the rates chart, feedback received, a
deleted endpoint, the phone screen."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ..helpers import Kaon
from ..test_serve import post
from .conftest import PHONE, Ui, open_ui
from .served import served

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def made(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return served(kaon, tmp_path_factory.mktemp("uiserved"))


def headers_shown(ui: Ui) -> dict[str, str]:
    rows = ui.page.locator("#answer-headers tr")
    return {
        rows.nth(i).locator("th").text_content().strip(): rows.nth(i).locator("td").text_content()
        for i in range(rows.count())
    }


def test_open_the_endpoint_and_get_a_prediction_from_the_try_it_form(
    ui: Ui, made: dict[str, Any]
) -> None:
    name = made["endpoint"]
    response = ui.go(f"/ui/endpoints/{name}")
    assert response.status == 200 and ui.page.title() == f"Endpoint {name} · kaon"
    assert ui.page.inner_text("#state") == "PIPELINE_RUNNING"
    assert "1 of 1 ready" in ui.page.inner_text("#replicas")
    assert "v1: 100 %" in ui.page.inner_text("#traffic")
    versions = ui.page.inner_text("#versions")
    assert "v1" in versions and made["model"] in versions and "100 %" in versions
    ui.page.fill("#payload", "[1, 2]")
    ui.page.click("#tryit button[type=submit]")
    ui.page.wait_for_selector("#answer-status")
    assert ui.page.inner_text("#answer-status") == "HTTP 200"
    assert json.loads(ui.page.inner_text("#answer-body"))["result"] == [3, 6]
    shown = headers_shown(ui)
    assert shown["x-kaon-model-id"] == made["model"] and shown["x-kaon-version"] == "v1"
    assert len(shown["x-request-id"]) == 32
    ui.shot("endpoint-try-it")
    # an error answer is shown as it came, status and all
    ui.page.fill("#payload", json.dumps({"boom": True}))
    ui.page.click("#tryit button[type=submit]")
    # (a locator's wait: wait_for_function evaluates a string, which the page's CSP refuses)
    ui.page.locator("#answer-status", has_text="HTTP 500").wait_for()
    assert ui.page.inner_text("#answer-status") == "HTTP 500"
    assert "broke on purpose" in ui.page.inner_text("#answer-body")


def test_each_replica_is_shown_with_its_health_and_where_it_runs(
    ui: Ui, kaon: Kaon, made: dict[str, Any]
) -> None:
    name = made["endpoint"]
    with kaon.client() as c:
        info = c.get_endpoint(name)
    assert [(r.ready, r.server) for r in info.replica_list] == [(True, "")]
    address = info.replica_list[0].address
    assert address.startswith(("unix://", "tcp://")) and info.last_error == ""
    ui.go(f"/ui/endpoints/{name}")
    rows = ui.page.locator("#replica-list tbody tr")
    assert rows.count() == 1
    assert rows.nth(0).locator("td").all_inner_texts() == [
        "0",
        "ready",
        f"{address} on this server",
    ]
    assert ui.page.inner_text("#replica-notes").startswith("0 restarts in all")


def test_a_payload_file_is_uploaded_and_predicted(
    ui: Ui, made: dict[str, Any], tmp_path: Path
) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"x": [5]}))
    ui.go(f"/ui/endpoints/{made['endpoint']}")
    ui.page.set_input_files("#upload", str(payload))
    ui.page.click("#tryit button[type=submit]")
    ui.page.wait_for_selector("#answer-status")
    assert ui.page.inner_text("#answer-status") == "HTTP 200"
    assert json.loads(ui.page.inner_text("#answer-body"))["result"] == [15]


def test_the_rates_chart_shows_this_servers_requests(ui: Ui, made: dict[str, Any]) -> None:
    url = f"{made['base']}/{made['endpoint']}/invocations"
    for _ in range(5):
        assert post(url, b"[1]")[0] == 200
    deadline = time.monotonic() + 60  # a point every 5 s
    while True:
        ui.go(f"/ui/endpoints/{made['endpoint']}")
        doc = json.loads(ui.page.inner_text("#rates-data"))
        if any(p[1] > 0 for s in doc["series"] for p in s["points"]):
            break
        assert time.monotonic() < deadline, doc
        time.sleep(1)
    assert [s["version"] for s in doc["series"]] == ["v1"]
    assert ui.page.locator("#rate-chart canvas").count() >= 1
    assert ui.page.locator("#latency-chart canvas").count() >= 1
    drawn = ui.page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('rate-chart'))"
        ".getOption().series.map(s => [s.name, Math.max(0, ...s.data.map(p => p[1] || 0))])"
    )
    assert dict(drawn)["v1 requests/s"] > 0, drawn  # the chart plots what the API answered
    assert ui.page.locator("#no-rates").is_hidden()
    ui.shot("endpoint-rates")


def test_feedback_received_is_listed(ui: Ui, made: dict[str, Any]) -> None:
    base, name = made["base"], made["endpoint"]
    _, headers, _ = post(f"{base}/{name}/invocations", json.dumps([7]).encode())
    rid = headers["x-request-id"]
    doc = json.dumps({"request_id": rid, "truth": [21], "reward": 0.5}).encode()
    assert post(f"{base}/{name}/feedback", doc)[0] == 201
    ui.go(f"/ui/endpoints/{name}")
    listed = ui.page.inner_text("#feedback-list")
    assert rid[:12] in listed and "[21]" in listed and "0.5" in listed
    assert ui.page.input_value("#payload") == "[7]"  # the form starts from a real request


def test_on_a_phone_the_endpoint_page_is_usable(
    browser: Any, kaon: Kaon, made: dict[str, Any], tmp_path: Path
) -> None:
    phone = open_ui(browser, kaon, tmp_path / "screenshots", PHONE)
    try:
        phone.go(f"/ui/endpoints/{made['endpoint']}")
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.page.fill("#payload", "[2]")
        phone.page.click("#tryit button[type=submit]")
        phone.page.wait_for_selector("#answer-status")
        assert phone.page.inner_text("#answer-status") == "HTTP 200"
        phone.shot("endpoint-phone")
        assert phone.errors == []
    finally:
        phone.page.context.close()


def test_a_deleted_endpoint_is_a_clear_page(ui: Ui, kaon: Kaon, made: dict[str, Any]) -> None:
    env = made["env"]
    kaon.ok(
        "serve", "deploy", "-s", str(made["serve"]), "-m", made["model"], "--name", "uigone",
        "--wait", env=env,
    )  # fmt: skip
    kaon.ok("serve", "kill", "-e", "uigone", "-y", env=env)
    response = ui.go("/ui/endpoints/uigone")
    if response.status == 200:  # kept as killed: the page says so and predicts nothing
        assert "deleted" in ui.page.inner_text("#killed")
        assert ui.page.locator("#tryit button[type=submit]").is_disabled()
    else:
        assert response.status == 404 and "deleted" in ui.page.inner_text(".problem-page")
        ui.errors.clear()  # the browser logs the 404 as a failed resource
    assert "Traceback" not in ui.page.content()
    ui.shot("endpoint-deleted")
    response = ui.go("/ui/endpoints/neverwas")
    assert response.status == 404 and "neverwas" in ui.page.inner_text(".problem")
    ui.errors.clear()
