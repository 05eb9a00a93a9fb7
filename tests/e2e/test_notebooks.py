"""Notebooks (issue 19): the real CLI against a real server. A notebook deploys on the built-in
template with a data bundle; a cell runs through JupyterLab's kernel API (REST + websocket)
over the platform's gateway with the notebook's token, reads the data (read-only) and calls
the SDK as the notebook's own token; a wrong token gets 403 (HTTP and websocket); `save`
commits the folder without outputs; `kill` asks when there are unsaved changes and keeps the
last state in `<name>-last`; a bad requirement fails the build and shows in build-logs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from kaon.client import JobState
from kaon.client.models import BundleInfo

from .helpers import Kaon
from .test_notebook_entry import TRAIN
from .test_notebook_entry import notebook as train_notebook
from .test_serve import SERVE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # a cold environment: ~90 packages

WS = "nbs"
READY_WAIT = 600.0  # a cold environment: JupyterLab's ~90 packages


def wait_notebook(k: Kaon, name: str, states: tuple[str, ...] = ("RUNNING",)) -> dict[str, Any]:
    deadline = time.monotonic() + READY_WAIT
    while True:
        found = {n["name"]: n for n in k.json("notebook", "list")}
        n = found[name]
        if n["state"] in states and (n["ready"] or n["state"] != "RUNNING"):
            return n
        assert n["state"] != "FAILED" or "FAILED" in states, n
        assert time.monotonic() < deadline, f"notebook {name} not ready: {n}"
        time.sleep(0.5)


def status(url: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def run_cell(base: str, name: str, token: str, code: str) -> str:
    """Start a kernel (REST), execute `code` on its websocket channel, return its output."""
    auth = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(timeout=120) as c:
        r = await c.post(f"{base}/{name}/api/kernels", headers=auth, json={"name": "python3"})
        r.raise_for_status()
        kernel = r.json()["id"]
    url = base.replace("http://", "ws://") + f"/{name}/api/kernels/{kernel}/channels"
    out: list[str] = []
    async with connect(f"{url}?token={token}", max_size=None) as ws:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
        await ws.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": content | {"user_expressions": {}, "stop_on_error": True},
                }
            )
        )
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 300))
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                out.append(m["content"]["text"])
            elif m["msg_type"] == "error":
                out.append(f"ERROR {m['content']['ename']}: {m['content']['evalue']}")
            elif m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return "".join(out)


async def ws_refused(base: str, name: str) -> int:
    url = base.replace("http://", "ws://") + f"/{name}/api/kernels/x/channels?token=wrong"
    try:
        async with connect(url):
            return 101
    except InvalidStatus as exc:
        return int(exc.response.status_code)


CELL = """
import json, os, pathlib
from kaon.client import Client
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
try:
    (data / "new.txt").write_text("x")
    wrote = "yes"
except OSError as exc:
    wrote = type(exc).__name__
with Client.from_env() as c:
    me = c.whoami()
print("RESULT " + json.dumps({"rows": (data / "rows.csv").read_text(), "wrote": wrote,
      "user": me.user, "job": me.job, "workspace": me.workspace,
      "s3": [os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]}))
"""

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 7,
            "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
            "source": ["print(6 * 7)"],
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


TRAIN_NOTEBOOK = train_notebook(TRAIN, parameters='alpha = 1.0\nlabel = "nb"\n')


def put_notebook(base: str, name: str, token: str, path: str, doc: dict[str, Any]) -> None:
    body = json.dumps({"type": "notebook", "format": "json", "content": doc}).encode()
    req = urllib.request.Request(
        f"{base}/{name}/api/contents/{path}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status in (200, 201)


def test_notebook_deploy_run_save_kill(kaon: Kaon, tmp_path: Path) -> None:
    k = kaon
    k.ok("workspace", "create", "-n", WS)
    data = tmp_path / "tables"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    done = k.json("notebook", "deploy", "-d", str(data), "--name", "nb-e2e")
    name, token = done["notebook"]["name"], done["token"]
    assert name == "nb-e2e" and done["notebook"]["state"] == "BUILDING" and len(token) >= 24
    found = wait_notebook(k, name)
    base = k.server()["url"]  # type: ignore[index]
    assert found["url"].endswith(f"/{name}/lab")

    # the gateway: the token (or its cookie) opens the lab, anything else is refused
    assert status(f"{base}/{name}/lab?token={token}") == 200
    assert status(f"{base}/{name}/lab?token=wrong") == 403
    assert status(f"{base}/{name}/lab") == 403
    assert status(f"{base}/{name}/api/status", {"Authorization": "token wrong"}) == 403
    assert asyncio.run(ws_refused(base, name)) == 403

    # the cookie the gateway sets opens the lab; one forged from what the database holds
    # (the token's digest) or with another expiry does not
    with urllib.request.urlopen(f"{base}/{name}/lab?token={token}", timeout=60) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith(f"kaon-notebook-{name}=")
    assert status(f"{base}/{name}/lab", {"Cookie": cookie}) == 200
    digest = hashlib.sha256(token.encode()).hexdigest()
    forged = hashlib.sha256(f"cookie:{digest}".encode()).hexdigest()
    assert status(f"{base}/{name}/lab", {"Cookie": f"kaon-notebook-{name}={forged}"}) == 403
    expires, _, mac = cookie.partition("=")[2].partition(".")
    later = f"kaon-notebook-{name}={int(expires) + 3600}.{mac}"
    assert status(f"{base}/{name}/lab", {"Cookie": later}) == 403

    # an endpoint may not take a live notebook's name (the gateway routes /<name>/ to it)
    serve = tmp_path / "serve" / "demo" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE)
    (serve / "requirements.txt").write_text("")
    refused = k.run(
        "serve", "deploy", "-s", str(tmp_path / "serve"), "--name", name,
        env={"KAON_WORKSPACE": WS},
    )  # fmt: skip
    assert refused.returncode == 5, refused.stderr
    assert f"Error: '{name}' is a notebook's name" in refused.stderr.splitlines()[-1]

    # a cell over the kernel websocket: the data (read-only), the SDK as the notebook's token
    out = asyncio.run(run_cell(base, name, token, CELL))
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    seen = json.loads(line.removeprefix("RESULT "))
    assert seen["rows"] == "a,b\n1,2\n"
    assert seen["wrote"] in ("PermissionError", "OSError")
    assert seen["workspace"] == WS and seen["job"] == f"notebook-{name}"

    # the notebook's S3 key (in its environment): what it reads is recorded in its record.
    # The data branch moves on first: what it reads is not the commit it was deployed with
    (tmp_path / "more.csv").write_text("c\n3\n")
    k.ok("put", "file", f"{WS}-data@tables:/more.csv", "-f", str(tmp_path / "more.csv"))
    endpoint, key, secret = seen["s3"]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    body = s3.get_object(Bucket=f"tables.{WS}-data", Key="rows.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"
    reads = {n["name"]: n for n in k.json("notebook", "list")}[name]["reads"]
    assert [r.split("@")[0] for r in reads] == [f"{WS}-data"] and reads[0].endswith(":/rows.csv")

    # ... and recorded as provenance, as a job's reads are: data commit → used → notebook
    graph = k.json("notebook", "provenance", "-n", name)
    notebook_node = next(n for n in graph["nodes"] if n["kind"] == "notebook")
    assert notebook_node["label"] == name
    read = [n for n in graph["nodes"] if n["attrs"].get("via") == "s3"]
    assert [(n["kind"], n["attrs"]["repo"], n["attrs"]["path"]) for n in read] == [
        ("data", f"{WS}-data", "/rows.csv")
    ]
    edge = {"src": read[0]["id"], "dst": notebook_node["id"], "kind": "used"}
    assert edge in graph["edges"]
    assert read[0]["attrs"]["commit"] == reads[0].split("@")[1].split(":")[0]
    below = k.json("data", "subvenance", f"{WS}-data@{read[0]['attrs']['commit']}")
    assert notebook_node["id"] in {n["id"] for n in below["nodes"]}

    # a notebook with outputs: unsaved, then saved without its outputs
    put_notebook(base, name, token, "analysis.ipynb", NOTEBOOK)
    assert wait_notebook(k, name)["unsaved"] is True
    saved = k.json("notebook", "save", "-n", name, "-m", "first analysis")
    assert saved["branch"] == name and saved["notebook"]["unsaved"] is False
    client = k.client()
    stored = json.loads(client.read(f"{WS}-source@{name}:/analysis.ipynb"))
    assert stored["cells"][0]["outputs"] == [] and stored["cells"][0]["execution_count"] is None
    assert stored["cells"][0]["source"] == ["print(6 * 7)"]
    assert client.read(f"{WS}-source@{name}:/example.ipynb")  # the template's own notebook

    # the saved commit came from the notebook: a model trained from it shows what it read
    put_notebook(base, name, token, "train.ipynb", json.loads(TRAIN_NOTEBOOK))
    trained_from = k.json("notebook", "save", "-n", name, "-m", "a training notebook")
    graph = k.json("notebook", "provenance", "-n", name)
    code = next(n for n in graph["nodes"] if n["attrs"].get("commit") == trained_from["commit"])
    assert code["kind"] == "code"
    assert {"src": notebook_node["id"], "dst": code["id"], "kind": "produced"} in graph["edges"]
    bundle = BundleInfo(
        "source", name, f"{WS}-source", name, trained_from["commit"], "", "", 0, 0, ""
    )
    job = client.wait(client.train(WS, source=bundle), timeout=READY_WAIT)
    assert job.state == JobState.SUCCESS, job
    model = job.trials[0].model_id
    assert model is not None
    ancestry = client.provenance(WS, model).graph
    assert notebook_node["id"] in ancestry and code["id"] in ancestry
    assert read[0]["id"] in ancestry  # the data the notebook read through S3
    assert any(e.src == read[0]["id"] and e.dst == notebook_node["id"] for e in ancestry.edges)

    # unsaved changes: kill asks (no terminal: refused), -y kills; the last state is kept
    changed = json.loads(json.dumps(NOTEBOOK))
    changed["cells"][0]["source"] = ["print('changed')"]
    put_notebook(base, name, token, "analysis.ipynb", changed)
    k.fails(1, "notebook", "kill", "-n", name, match="aborted")
    assert wait_notebook(k, name)["state"] == "RUNNING"
    k.ok("notebook", "kill", "-n", name, "-y")
    gone = {n["name"]: n for n in k.json("notebook", "list")}[name]
    assert gone["state"] == "KILLED" and f"{name}-last" in gone["reason"]
    last = json.loads(client.read(f"{WS}-source@{name}-last:/analysis.ipynb"))
    assert last["cells"][0]["source"] == ["print('changed')"]
    assert last["cells"][0]["outputs"]  # kept as they were
    saved_again = json.loads(client.read(f"{WS}-source@{name}:/analysis.ipynb"))
    assert saved_again["cells"][0]["source"] == ["print(6 * 7)"]  # -y saved nothing there
    assert status(f"{base}/{name}/lab?token={token}") != 200
    client.close()


def test_a_bad_requirement_shows_in_build_logs(kaon: Kaon, tmp_path: Path) -> None:
    k = kaon
    k.ok("workspace", "create", "-n", "nbbad")
    bundle = tmp_path / "badnb"
    bundle.mkdir()
    (bundle / "requirements.txt").write_text("kaon-no-such-package-xyz==0.0.1\n")
    (bundle / "a.ipynb").write_text(json.dumps(NOTEBOOK))
    env = {"KAON_WORKSPACE": "nbbad"}
    done = json.loads(
        k.ok("notebook", "deploy", "-s", str(bundle), "--name", "nb-bad", "--json", env=env)
    )
    build = done["notebook"]["build"]
    deadline = time.monotonic() + READY_WAIT
    while True:
        n = {x["name"]: x for x in json.loads(k.ok("notebook", "list", "--json", env=env))}
        if n["nb-bad"]["state"] == "FAILED":
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert "kaon-no-such-package-xyz" in n["nb-bad"]["reason"] or "resolve" in n["nb-bad"]["reason"]
    logs = k.ok("notebook", "build-logs", "-j", build, env=env)
    assert "kaon-no-such-package-xyz" in logs
    table = k.run("notebook", "list", env=env)
    assert "FAILED" in table.stdout + table.stderr and build in table.stdout + table.stderr
    k.fails(4, "notebook", "build-logs", "-j", "nosuchbuild", env=env, match="no notebook build")


def contents(base: str, name: str, token: str, path: str) -> int:
    return status(f"{base}/{name}/api/contents/{path}", {"Authorization": f"token {token}"})


LIMITS_CELL = """
import json, os, pathlib, resource
lines = [ln.split(":", 2) for ln in pathlib.Path("/proc/self/cgroup").read_text().splitlines()]
v1 = [p for _, c, p in lines if "memory" in c.split(",")]
if v1:  # cgroup v1: the memory hierarchy's group, else v2's unified one
    f = pathlib.Path("/sys/fs/cgroup/memory" + v1[0]) / "memory.limit_in_bytes"
else:
    f = pathlib.Path("/sys/fs/cgroup" + [p for _, c, p in lines if not c][0]) / "memory.max"
text = f.read_text().strip() if f.exists() else ""
print(json.dumps({"workspace": os.environ["KAON_WORKSPACE"], "cpus": len(os.sched_getaffinity(0)),
      "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
      "cgroup": int(text) if text.isdigit() else None, "group": str(f)}))
"""


def test_a_platform_crash_brings_the_notebook_back(lone: Kaon) -> None:
    k = lone
    k.up()
    env = {"KAON_WORKSPACE": "nbcrash"}
    k.ok("workspace", "create", "-n", "nbcrash")
    done = json.loads(
        k.ok(
            "notebook", "deploy", "--name", "nb-crash", "--cpu", "1", "--memory", "1Gi",
            "--json", env=env,
        )
    )  # fmt: skip
    token = done["token"]
    limits = done["notebook"]["limits"]  # what deploy says it enforces here, never silent
    assert limits.startswith("cpu: 1 of the ") and "memory: 1Gi for " in limits, limits

    def ready() -> dict[str, Any]:
        deadline = time.monotonic() + READY_WAIT
        while True:
            rows = json.loads(k.ok("notebook", "list", "--json", env=env))
            n = {x["name"]: x for x in rows}["nb-crash"]
            if n["ready"]:
                return n
            assert n["state"] in ("BUILDING", "RUNNING") and time.monotonic() < deadline, n
            time.sleep(0.5)

    ready()
    base = k.server()["url"]  # type: ignore[index]
    put_notebook(base, "nb-crash", token, "unsaved.ipynb", NOTEBOOK)  # work not saved yet
    k.kill_server()  # SIGKILL: its JupyterLab dies with it (the run supervisor)
    k.up()
    back = ready()
    assert back["state"] == "RUNNING" and back["unsaved"] is True
    base = k.server()["url"]  # type: ignore[index]
    assert status(f"{base}/nb-crash/lab?token={token}") == 200  # the same token
    assert contents(base, "nb-crash", token, "unsaved.ipynb") == 200  # the folder as it was
    out = asyncio.run(run_cell(base, "nb-crash", token, LIMITS_CELL))
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["workspace"] == "nbcrash"
    assert seen["cpus"] == 1  # --cpu 1: its kernels run on one CPU (after the restart too)
    if "(cgroup)" in limits:
        assert seen["cgroup"] == 2**30, seen
    else:
        assert seen["rlimit_as"] == 2**30, seen
    k.ok("notebook", "kill", "-n", "nb-crash", "-y", env=env)
