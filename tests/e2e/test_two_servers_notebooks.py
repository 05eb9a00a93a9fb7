"""A notebook with two `kaon server` processes over one database and one store (issues 17, 19):
started through server A, it is used through server B as through A — B lists it ready, its
gateway opens the lab with the notebook's token (a wrong one: 403, HTTP and websocket), a
kernel cell runs over B's websocket, its logs, a save and a kill go through B to A (which
holds its working folder and process). When A dies, B says so: not ready, and 503 naming the
notebook and its gone server at `/<name>/lab` (taking it over is out of scope: its working
folder was on A's disk)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import Kaon
from .servers import Servers
from .test_notebooks import NOTEBOOK, READY_WAIT, put_notebook, run_cell, status, ws_refused

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CLUSTER = {"KAON_CLAIM_SECONDS": "3", "KAON_HEARTBEAT_SECONDS": "0.5"}
WS = "nbtwo"
ENV = {"KAON_WORKSPACE": WS}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with Servers(tmp_path_factory.mktemp("nbtwo"), 2, env=CLUSTER) as servers:
        yield servers


def listed(k: Kaon) -> dict[str, dict[str, Any]]:
    rows = json.loads(k.ok("notebook", "list", "--json", env=ENV))
    return {n["name"]: n for n in rows}


def ready_on(k: Kaon, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + READY_WAIT
    while True:
        n = listed(k)[name]
        if n["ready"]:
            return n
        assert n["state"] in ("BUILDING", "RUNNING") and time.monotonic() < deadline, n
        time.sleep(0.5)


def answer(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return int(r.status), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode("utf-8", "replace")


def test_a_notebook_started_through_a_is_used_through_b(pair: Servers) -> None:
    a, b = pair
    a.ok("workspace", "create", "-n", WS)
    deployed = {
        name: json.loads(a.ok("notebook", "deploy", "--name", name, "--json", env=ENV))
        for name in ("nb-two", "nb-orphan")
    }
    token = deployed["nb-two"]["token"]
    a_url, b_url = pair.urls()
    ready_on(a, "nb-two")
    ready_on(a, "nb-orphan")

    # B lists it as A does: ready, with its own URL
    seen = listed(b)["nb-two"]
    assert seen["state"] == "RUNNING" and seen["ready"] is True, seen
    assert seen["url"].endswith("/nb-two/lab")

    # B's gateway: the token opens the lab (A checks it), anything else is refused
    assert status(f"{b_url}/nb-two/lab?token={token}") == 200
    assert status(f"{b_url}/nb-two/lab?token=wrong") == 403
    assert status(f"{b_url}/nb-two/api/status", {"Authorization": "token wrong"}) == 403
    assert asyncio.run(ws_refused(b_url, "nb-two")) == 403
    out = asyncio.run(run_cell(b_url, "nb-two", token, "print(6 * 7)"))
    assert out.strip() == "42", out

    # its log (on A's disk), a save and a kill through B
    logs = b.ok("notebook", "logs", "-n", "nb-two", env=ENV)
    assert logs and logs == a.ok("notebook", "logs", "-n", "nb-two", env=ENV)
    put_notebook(b_url, "nb-two", token, "through-b.ipynb", NOTEBOOK)
    saved = json.loads(
        b.ok("notebook", "save", "-n", "nb-two", "-m", "through b", "--json", env=ENV)
    )
    assert saved["branch"] == "nb-two" and saved["notebook"]["unsaved"] is False, saved
    with a.client() as client:
        stored = json.loads(client.read(f"{WS}-source@nb-two:/through-b.ipynb"))
    assert stored["cells"][0]["source"] == ["print(6 * 7)"]
    b.ok("notebook", "kill", "-n", "nb-two", "-y", env=ENV)
    gone = listed(a)["nb-two"]
    assert gone["state"] == "KILLED" and gone["ready"] is False, gone
    assert status(f"{a_url}/nb-two/lab?token={token}") == 404  # A stopped its JupyterLab
    assert status(f"{b_url}/nb-two/lab?token={token}") == 404
    build = deployed["nb-two"]["notebook"]["build"]
    for args in (("logs", "-n", "nb-two"), ("build-logs", "-j", build)):  # kept on A's disk
        kept = a.ok("notebook", *args, env=ENV)
        assert kept and b.ok("notebook", *args, env=ENV) == kept, args

    # A dies: B says the notebook's server is gone (its working folder was on A's disk)
    orphan = deployed["nb-orphan"]["token"]
    assert status(f"{b_url}/nb-orphan/lab?token={orphan}") == 200
    a.kill_server()
    deadline = time.monotonic() + 60
    while True:
        code, text = answer(f"{b_url}/nb-orphan/lab?token={orphan}")
        if code == 503 and "is gone" in text:
            break
        # until A's claim expires, B's hop to A finds nothing answering: 503 too
        assert code == 503 and time.monotonic() < deadline, (code, text)
        time.sleep(0.5)
    assert "nb-orphan" in text and a_url in text, text
    lost = listed(b)["nb-orphan"]
    assert lost["state"] == "RUNNING" and lost["ready"] is False, lost
    assert "gone" in lost["reason"], lost

    # B restarted: its recovery leaves A's notebook alone (its token file is on A's disk)
    b.kill_server()
    b.up()
    lost = listed(b)["nb-orphan"]
    assert lost["state"] == "RUNNING" and "gone" in lost["reason"], lost
    # a kill through B ends it; its folder, on A's disk, is not kept
    done = b.run("notebook", "kill", "-n", "nb-orphan", "-y", env=ENV)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and "killed notebook nb-orphan" in said, said
    assert "last state is in" not in said, said
    killed = listed(b)["nb-orphan"]
    assert killed["state"] == "KILLED" and "gone" in killed["reason"], killed
