"""A job's API token (issue 13, items 2-3): user code gets KAON_TOKEN and KAON_ENDPOINT, acting
as the job's owner in the job's workspace only; the token dies with the job (success, failure,
kill) and with an interrupted job at the next start; the platform token stays out of reach."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .helpers import Kaon
from .test_job_lifetime import deploy, job_processes, poll
from .test_train import wait_state, ws

pytestmark = pytest.mark.e2e

# calls the API with its own token: its workspace, another one, and tries the platform token
PROBE = """#!/usr/bin/env python3
import json, os, pathlib, sys, urllib.error, urllib.request
base, token = os.environ["KAON_ENDPOINT"], os.environ["KAON_TOKEN"]
def status(path):
    req = urllib.request.Request(base + path, headers={{"Authorization": "Bearer " + token}})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
try:
    pathlib.Path({platform_token!r}).read_text()
    platform = "READ"
except OSError as exc:
    platform = type(exc).__name__
seen = {{"own": status("/v1/workspaces/" + os.environ["KAON_WORKSPACE"] + "/jobs"),
        "other": status("/v1/workspaces/{other}/jobs"), "platform_token": platform,
        "token": token}}
print("PROBE " + json.dumps(seen), flush=True)
(pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(pathlib.Path(sys.argv[1]) / "model" / "m.txt").write_text("ok")
sys.exit({code})
"""

# keeps its API token where the test can read it, and never ends by itself
SILENT = """#!/bin/sh
printf '%s\\n%s\\n' "$KAON_ENDPOINT" "$KAON_TOKEN" > "$HOME/api.tmp"
mv "$HOME/api.tmp" "$HOME/api.env"
exec sleep 300
"""


def api_status(base: str, path: str, token: str) -> int:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def running_token(kaon: Kaon, job: str) -> tuple[str, str]:
    """(KAON_ENDPOINT, KAON_TOKEN) as the running job's trial 0 saw them."""
    path = kaon.home / "jobs" / job / "trials" / "0" / "home" / "api.env"
    poll("the trial runs", path.exists)
    endpoint, token = path.read_text().splitlines()
    return endpoint, token


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (hides the home)")
@pytest.mark.parametrize("code", [0, 3], ids=["success", "failure"])
def test_a_job_token_reaches_its_workspace_only_and_ends_with_the_job(
    kaon: Kaon, tmp_path: Path, code: int
) -> None:
    kaon.ok("workspace", "create", "-n", f"tokother{code}")
    env = ws(kaon, f"tokjob{code}")
    train = PROBE.format(
        platform_token=str(kaon.home / "token"), other=f"tokother{code}", code=code
    )
    job = deploy(kaon, env, tmp_path, train)
    doc = wait_state(kaon, env, job)
    assert doc["state"] == ("JOB_SUCCESS" if code == 0 else "JOB_FAILURE"), doc
    logs = kaon.ok("train", "logs", "-j", job, env=env)
    seen = json.loads(next(ln for ln in logs.splitlines() if "PROBE " in ln).split("PROBE ")[1])
    assert seen["own"] == 200, seen
    assert seen["other"] in (403, 404), seen
    assert seen["platform_token"] in ("FileNotFoundError", "PermissionError"), seen
    base = kaon.server()["url"]  # type: ignore[index]
    assert api_status(base, f"/v1/workspaces/tokjob{code}/jobs", seen["token"]) == 401
    platform = (kaon.home / "token").read_text().strip()
    assert seen["token"] != platform


def test_a_killed_jobs_token_is_refused(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", "tokkillother")
    env = ws(kaon, "tokkill")
    job = deploy(kaon, env, tmp_path, SILENT)
    base, token = running_token(kaon, job)
    assert api_status(base, "/v1/workspaces/tokkill/jobs", token) == 200
    # what the job's code gets is what the SDK's Client.from_env() (and so the CLI) reads
    as_job = {**env, "KAON_ENDPOINT": base, "KAON_TOKEN": token}
    assert job in kaon.ok("train", "list", "--json", env=as_job)
    kaon.fails(4, "train", "list", env={**as_job, "KAON_WORKSPACE": "tokkillother"})
    kaon.ok("train", "kill", "-j", job, env=env)
    assert api_status(base, "/v1/workspaces/tokkill/jobs", token) == 401
    kaon.fails(6, "train", "list", env=as_job, match="token")


def test_an_interrupted_jobs_token_is_refused_after_a_restart(lone: Kaon, tmp_path: Path) -> None:
    lone.up()
    env = ws(lone, "tokcrash")
    job = deploy(lone, env, tmp_path, SILENT)
    base, token = running_token(lone, job)
    assert api_status(base, "/v1/workspaces/tokcrash/jobs", token) == 200

    lone.kill_server()
    poll("the job's processes die with the server", lambda: not job_processes(job))
    doc = lone.up()
    assert wait_state(lone, env, job)["state"] == "JOB_FAILURE"
    assert api_status(doc["url"], "/v1/workspaces/tokcrash/jobs", token) == 401
