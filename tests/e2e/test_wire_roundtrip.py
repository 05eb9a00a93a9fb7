"""What the server sends, the SDK decodes into kaon.wire's types and nothing is lost: every
answer type of the API is fetched from a real server (a trained job, a running endpoint,
users, keys, uploads...), decoded as the SDK decodes it (`from_doc`), and encoded again to the
same JSON document, field for field and in the same order."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import kaon.wire as wire
from kaon.client.packer import PackBuilder
from kaon.core import chunking
from kaon.core.endpoints import EndpointState
from kaon.core.jobs import JobState

from .helpers import Kaon
from .test_serve import bundles

pytestmark = pytest.mark.e2e


class Server:
    def __init__(self, kaon: Kaon) -> None:
        doc = kaon.server()
        assert doc is not None
        self.url = str(doc["url"])
        self.token = (kaon.home / "token").read_text().strip()
        self.checked: set[str] = set()

    def raw(self, method: str, path: str, body: Any = None, data: bytes | None = None) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return bytes(r.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def check(self, kind: Any, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """The answer decoded as `kind` (a wire type, or a list of one), encoded again to the
        same document."""
        raw = self.raw(method, path, body, **kw)
        decoded = TypeAdapter(kind).validate_json(raw)
        if isinstance(kind, type):
            assert kind.from_doc(json.loads(raw)) == decoded  # the SDK's way
        again = TypeAdapter(kind).dump_json(decoded)
        same = json.loads(again, object_pairs_hook=list) == json.loads(raw, object_pairs_hook=list)
        assert same, f"{method} {path}:\n{raw!r}\n{again!r}"
        self.checked |= _answers_in(decoded)
        if isinstance(kind, type) or decoded:
            return decoded
        raise AssertionError(f"{method} {path}: nothing to check")


def _answers_in(value: Any) -> set[str]:
    """The names of the answer types in `value`, nested ones (a job's trials) included."""
    if isinstance(value, list):
        return {n for v in value for n in _answers_in(v)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = (_answers_in(getattr(value, f.name)) for f in dataclasses.fields(value))
        return {type(value).__name__}.union(*inner)
    return set()


def test_every_answer_round_trips_through_the_sdk(tmp_path: Path) -> None:
    kaon = Kaon(tmp_path / "home")  # a platform of its own: the shared one changes meanwhile
    try:
        kaon.up()
        check_answers(kaon, tmp_path)
    finally:
        kaon.shutdown()


def _ready(s: Server, name: str) -> None:
    """Until version `name` runs (so a change of its traffic is not refused meanwhile)."""
    while s.check(wire.EndpointInfo, "GET", f"/v1/endpoints/{name}").state is not (
        EndpointState.RUNNING
    ):
        time.sleep(0.1)


def check_answers(kaon: Kaon, tmp_path: Path) -> None:
    train, data, serve = bundles(tmp_path)
    env = {"KAON_WORKSPACE": "wired"}
    kaon.ok("workspace", "create", "-n", "wired")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"c": [1, 2]}))
    job = json.loads(
        kaon.ok(
            "train",
            "deploy",
            "-s",
            str(train),
            "-d",
            str(data),
            "-h",
            str(grid),
            "--wait",
            "--json",
            env=env,
        )
    )
    model = job["trials"][0]["model_id"]
    endpoint = json.loads(
        kaon.ok("serve", "deploy", "-s", str(serve), "-m", model, "--wait", "--json", env=env)
    )["name"]
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("bb\n")
    kaon.ok("repo", "create", "wirerepo")
    kaon.ok("put", "file", "wirerepo@master:/a.txt", "-f", str(tmp_path / "a.txt"))
    kaon.ok("put", "file", "wirerepo@master:/b.txt", "-f", str(tmp_path / "b.txt"))
    s = Server(kaon)

    # the platform, repos, branches, commits, files
    s.check(wire.HealthOut, "GET", "/v1/health")
    s.check(wire.StatusOut, "GET", "/v1/status")
    s.check(wire.GcReport, "POST", "/v1/gc")
    s.check(list[wire.RepoInfo], "GET", "/v1/repos")
    s.check(wire.RepoInfo, "GET", "/v1/repos/wirerepo")
    s.check(wire.RepoInfo, "POST", "/v1/repos", {"name": "wirerepo2", "description": "d"})
    s.check(wire.BranchInfo, "PUT", "/v1/repos/wirerepo/branches/dev", {"head": "master^"})
    s.check(list[wire.BranchInfo], "GET", "/v1/repos/wirerepo/branches")
    s.check(list[wire.CommitInfo], "GET", "/v1/repos/wirerepo/commits")
    s.check(wire.CommitInfo, "GET", "/v1/repos/wirerepo/commits/master")
    s.check(wire.CommitInfo, "POST", "/v1/repos/wirerepo/commits", {"deletes": ["/b.txt"]})
    s.check(list[wire.FileInfo], "GET", "/v1/repos/wirerepo/files?ref=master^&history=-1")
    s.check(wire.FileInfo, "GET", "/v1/repos/wirerepo/stat?path=/a.txt")
    s.check(list[wire.Change], "GET", "/v1/repos/wirerepo/diff?new=master&old=master^")
    staging = s.check(wire.StagingOut, "POST", "/v1/repos/wirerepo/stagings", {})
    s.check(wire.StagedOut, "POST", f"/v1/repos/wirerepo/stagings/{staging.id}", {"puts": []})

    # uploads: chunks, packs, the drop folder of a client on the server's machine
    s.check(wire.MissingOut, "POST", "/v1/chunks/missing", {"digests": ["0" * 64]})
    drop = s.check(wire.DropOut, "GET", "/v1/packs/drop")
    token = (Path(drop.dir) / ".token").read_text().strip()
    chunk = os.urandom(1000)
    pack, _ = PackBuilder().build([(chunking.hash_chunk(chunk), chunk)])
    s.check(wire.PackOut, "POST", "/v1/packs", data=bytes(pack))
    st = (tmp_path / "a.txt").stat()
    local = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "token": token}
    local["path"] = str(tmp_path / "a.txt")
    s.check(wire.LocalFileOut, "POST", "/v1/chunks/local", local)
    where = {"ref": "master", "path": "/a.txt", "token": token}
    s.check(wire.LocalContentOut, "POST", "/v1/repos/wirerepo/content/local", where)

    # workspaces, bundles, jobs, endpoints, provenance
    s.check(list[wire.WorkspaceInfo], "GET", "/v1/workspaces")
    s.check(wire.WorkspaceInfo, "GET", "/v1/workspaces/wired")
    s.check(wire.WorkspaceInfo, "POST", "/v1/workspaces", {"name": "wired2"})
    source = job["source"]  # its branch's head is the serve bundle's now: name the commit
    bundle = {"kind": "source", "branch": source["branch"], "ref": source["commit"]}
    s.check(wire.BundleInfo, "POST", "/v1/workspaces/wired/bundles", bundle)
    jobs = s.check(list[wire.JobInfo], "GET", "/v1/workspaces/wired/jobs")
    done = s.check(wire.JobInfo, "GET", f"/v1/jobs/{job['id']}")
    assert done.state is JobState.SUCCESS and jobs[0].trials[0].state is JobState.SUCCESS
    s.check(wire.LogOut, "GET", f"/v1/jobs/{job['id']}/logs")
    s.check(wire.TrialsPage, "GET", f"/v1/jobs/{job['id']}/trials?points=true")
    s.check(wire.FileHistoryOut, "GET", "/v1/repos/wirerepo/history?path=/a.txt&ref=master")
    s.check(wire.JobInfo, "GET", f"/v1/workspaces/wired/models/{model}")
    s.check(wire.ProvenanceInfo, "GET", f"/v1/workspaces/wired/models/{model}/provenance")
    s.check(wire.ProvenanceInfo, "GET", f"/v1/endpoints/{endpoint}/provenance")
    commit = job["data"]["commit"]
    s.check(wire.ProvenanceInfo, "GET", f"/v1/subvenance?commit={commit}")
    s.check(list[wire.EndpointInfo], "GET", "/v1/workspaces/wired/endpoints")
    running = s.check(wire.EndpointInfo, "GET", f"/v1/endpoints/{endpoint}")
    assert running.state is EndpointState.RUNNING
    s.check(wire.LogOut, "GET", f"/v1/endpoints/{endpoint}/logs")
    s.check(wire.EndpointInfo, "DELETE", f"/v1/endpoints/{endpoint}")

    # a named endpoint: its versions, traffic, canary, promote, rollback, feedback
    served = {"kind": "serve", "branch": running.source.branch, "ref": running.source.commit}
    named = {"source": served, "model_id": model, "name": "wired"}
    first = s.check(wire.EndpointInfo, "POST", "/v1/workspaces/wired/serve", named)
    assert (first.release, first.name) == ("wired", f"wired-{first.version}")
    s.check(wire.ReleaseInfo, "GET", "/v1/endpoints/wired/release")
    _ready(s, first.name)
    canary = {"model_id": model, "canary": 10, "version": "v2"}
    v2 = s.check(wire.EndpointInfo, "POST", "/v1/endpoints/wired/versions", canary)
    _ready(s, v2.name)
    while s.check(wire.ReleaseInfo, "GET", "/v1/endpoints/wired/release").pending:
        time.sleep(0.1)
    versions = s.check(list[wire.VersionInfo], "GET", "/v1/endpoints/wired/versions")
    assert [(v.version, v.traffic) for v in versions] == [("v2", 10), (first.version, 90)]
    promoted = s.check(wire.ReleaseInfo, "POST", "/v1/endpoints/wired/promote")
    assert promoted.traffic == {"v2": 100}
    s.check(wire.ReleaseInfo, "POST", "/v1/endpoints/wired/rollback")
    answer = urllib.request.Request(
        f"{s.url}/wired-v2/invocations", b"[1]", {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(answer, timeout=60) as r:
        rid = r.headers["X-Request-Id"]
    feedback = json.dumps({"request_id": rid, "truth": [1], "reward": 0.5}).encode()
    sent = urllib.request.Request(
        f"{s.url}/wired-v2/feedback", feedback, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(sent, timeout=60) as r:
        assert r.status == 201
    got = s.check(list[wire.FeedbackInfo], "GET", "/v1/endpoints/wired/feedback?limit=5")
    assert [(f.request_id, f.version, f.reward) for f in got] == [(rid, "v2", 0.5)]
    deadline = time.monotonic() + 30  # the gateway samples its counters every 5 s
    while not any(
        series.points
        for series in s.check(wire.RatesInfo, "GET", "/v1/endpoints/wired/rates").series
    ):
        assert time.monotonic() < deadline, "no rates sampled for wired"
        time.sleep(1)
    s.check(wire.EndpointInfo, "DELETE", "/v1/endpoints/wired")

    # a notebook: deployed (building), listed, killed (saving one is tests/e2e/test_notebooks'
    # work: its CLI decodes NotebookSaved with the SDK)
    bundle = {"kind": "serve", "branch": running.source.branch, "ref": running.source.commit}
    made = s.check(
        wire.NotebookDeployed, "POST", "/v1/workspaces/wired/notebooks", {"source": bundle}
    )
    s.check(list[wire.NotebookInfo], "GET", "/v1/workspaces/wired/notebooks")
    path = f"/v1/workspaces/wired/notebooks/{made.notebook.name}"
    s.check(wire.NotebookInfo, "GET", path)
    s.check(wire.NotebookKilled, "DELETE", path)

    # who may do what
    s.check(wire.WhoAmI, "GET", "/v1/whoami")
    s.check(wire.NewUser, "POST", "/v1/users", {"name": "wireuser"})
    s.check(list[wire.UserInfo], "GET", "/v1/users")
    s.check(wire.NewToken, "POST", "/v1/tokens", {"name": "laptop", "expires": "30d"})
    s.check(list[wire.TokenInfo], "GET", "/v1/tokens")
    role = {"role": "viewer"}
    s.check(wire.MemberInfo, "PUT", "/v1/workspaces/wired/members/wireuser", role)
    s.check(list[wire.MemberInfo], "GET", "/v1/workspaces/wired/members")
    s.check(wire.S3CredentialInfo, "POST", "/v1/s3/credentials", {})
    s.check(list[wire.S3CredentialInfo], "GET", "/v1/s3/credentials")
    s.check(list[wire.AuditRecord], "GET", "/v1/audit")

    # pipelines: one over wirerepo, a datum per file, each printing a line (its log)
    spec = {
        "pipeline": {"name": "wirecopy"},
        "input": {"pfs": {"repo": "wirerepo", "glob": "/*"}},
        "transform": {
            "cmd": ["/bin/sh"],
            "stdin": ["cat /pfs/wirerepo/* > /pfs/out/$PACH_DATUM_ID", "echo copied"],
        },
    }
    created = s.check(wire.PipelinesCreated, "POST", "/v1/pipelines", {"specs": [{"spec": spec}]})
    assert [p.name for p in created.pipelines] == ["wirecopy"]
    waited = s.check(wire.CommitWait, "GET", "/v1/repos/wirecopy/wait?ref=master&timeout=30")
    assert waited.done and waited.commit is not None
    s.check(list[wire.PipelineInfo], "GET", "/v1/pipelines")
    s.check(wire.PipelineInfo, "GET", "/v1/pipelines/wirecopy")
    pjobs = s.check(list[wire.PipelineJobInfo], "GET", "/v1/pipeline-jobs?pipeline=wirecopy")
    gid = pjobs[0].id
    s.check(wire.PipelineJobInfo, "GET", f"/v1/pipelines/wirecopy/jobs/{gid}")
    s.check(list[wire.DatumInfo], "GET", f"/v1/pipelines/wirecopy/jobs/{gid}/datums")
    s.check(wire.PipelineLogPage, "GET", f"/v1/pipelines/wirecopy/logs?job={gid}")
    s.check(list[wire.CommitInfo], "GET", f"/v1/commit-sets/{gid}")

    answers = {n for n in wire.__all__ if dataclasses.is_dataclass(getattr(wire, n))}
    unfetched = answers - {"ErrorOut", "NotebookSaved"} - s.checked
    assert unfetched == set(), "answer types no request here fetched"
