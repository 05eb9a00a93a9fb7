"""A service pipeline through the platform's proxy (/pipelines/<name>/…): a real HTTP server
(python -m http.server over /pfs/site) created through the facade and run by the platform's
ServiceRunner on the local executor, read through the API with its token; a new input commit
restarts it on the new content."""

from __future__ import annotations

import socket
import sys
from typing import Any

from fastapi.testclient import TestClient

from kaon.core.pipelines.records import JobState
from kaon.services.pipelines.service import SpecRequest
from kaon.wiring import Platform
from services.pipelines.svchelp import eventually

SERVER = f"exec {sys.executable} -m http.server $PORT --bind 127.0.0.1 --directory /pfs/site"


def _get(api: TestClient, path: str, want: bytes) -> bytes:
    def answer() -> bytes | None:
        r = api.get(path)
        return r.content if r.status_code == 200 and r.content == want else None

    found: bytes = eventually(answer)
    return found


def _running(platform: Platform, job_id: str) -> Any:
    found = [j for j in platform.pipelines.jobs("web") if j.id == job_id]
    return found[0] if found and found[0].state is JobState.RUNNING else None


def test_a_service_is_served_through_the_platform_and_restarted_on_a_new_commit(
    platform: Platform, api: TestClient, seed: Any
) -> None:
    platform.repos.create_repo("site")
    with socket.socket() as taken:  # internal_port in use: the service gets another in $PORT
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = {
            "pipeline": {"name": "web"},
            "input": {"pfs": {"repo": "site", "glob": "/"}},
            "transform": {"cmd": ["bash", "-c", SERVER]},
            "service": {"internal_port": port, "external_port": 30888},
        }
        platform.pipelines.create([SpecRequest(spec)], "alice")
        first = seed.commit("site", {"/index.txt": b"version one"})
        job = eventually(lambda: _running(platform, str(first.id)))
        assert job.service and job.counts.progress == "0 + 0 / 0"
        assert _get(api, "/pipelines/web/index.txt", b"version one") == b"version one"
    listing = api.get("/pipelines/web/")
    assert listing.status_code == 200 and b"index.txt" in listing.content
    assert api.head("/pipelines/web/index.txt").headers["content-length"] == "11"

    second = seed.commit("site", {"/index.txt": b"version two"})
    eventually(lambda: _running(platform, str(second.id)))
    old = platform.pipelines.job("web", str(first.id))
    assert old.state is JobState.KILLED and old.reason == f"replaced by job {second.id}"
    assert _get(api, "/pipelines/web/index.txt", b"version two") == b"version two"
    assert (platform.pipelines.service_url("web") or "").endswith("/pipelines/web/")

    platform.pipelines.stop("web")
    assert platform.pipelines.job("web", str(second.id)).state is JobState.KILLED
    r = api.get("/pipelines/web/index.txt")
    assert r.status_code == 409 and "serves nothing now" in r.json()["message"]


def test_a_post_body_goes_through_and_the_token_does_not(
    platform: Platform, api: TestClient, seed: Any
) -> None:
    echo = (
        f"exec {sys.executable} -c 'import http.server as h, os\n"
        "class E(h.BaseHTTPRequestHandler):\n"
        " def do_POST(s):\n"
        '  n=int(s.headers["content-length"]); b=s.rfile.read(n)\n'
        '  b+=b" auth="+str(s.headers.get("authorization")).encode()\n'
        '  s.send_response(201); s.send_header("content-length", str(len(b))); s.end_headers()\n'
        "  s.wfile.write(b)\n"
        'h.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), E).serve_forever()\''
    )
    platform.repos.create_repo("site")
    spec = {
        "pipeline": {"name": "web"},
        "input": {"pfs": {"repo": "site", "glob": "/"}},
        "transform": {"cmd": ["bash", "-c", echo]},
        "service": {"internal_port": 8000},
    }
    platform.pipelines.create([SpecRequest(spec)], "alice")
    first = seed.commit("site", {"/x": b"1"})
    eventually(lambda: _running(platform, str(first.id)))

    def posted() -> Any:
        r = api.post("/pipelines/web/echo?q=1", content=b"payload " * 1000)
        return r if r.status_code == 201 else None

    r = eventually(posted)
    assert r.content == b"payload " * 1000 + b" auth=None"
    platform.pipelines.stop("web")


def test_the_proxy_needs_a_token_and_names_unknown_pipelines(
    app_client: TestClient, api: TestClient
) -> None:
    r = app_client.get("/pipelines/nope/x", headers={"Authorization": ""})
    assert r.status_code == 401
    r = api.get("/pipelines/nope/x")
    assert r.status_code == 404 and "kaon list pipeline" in r.json()["message"]
