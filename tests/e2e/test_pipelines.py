"""Pipelines end to end (issue 15), through the real `kaon` CLI against a real server.

One platform for the module (`pk`); the /pfs rewrite mode and the crash share a second one
started with KAON_PFS_MODE=rewrite (`rk`). The chain tests (split -> featurize -> train) build
on each other in file order: created and fed once, then one more file, then updates.
Specs and tiny source bundles: tests/e2e/pipelines/. No timed assertion: every wait is on a
state, with a generous timeout.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    JOB_FINAL,
    Kaon,
    pipeline_jobs,
    put_text,
    said,
    spec_file,
    wait_final,
    wait_jobs,
)

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "pipelines"
CHAIN = HERE / "chain"
INVALID, EXISTS = 2, 5


@pytest.fixture(scope="module")
def pk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    k = Kaon(tmp_path_factory.mktemp("kaon-pipelines"))
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


@pytest.fixture(scope="module")
def rk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """/pfs without bubblewrap: literal /pfs in cmd and stdin rewritten."""
    k = Kaon(tmp_path_factory.mktemp("kaon-pipelines-rewrite"))
    k.env["KAON_PFS_MODE"] = "rewrite"
    try:
        k.up()
        yield k
    finally:
        k.shutdown()


def head(k: Kaon, repo: str, branch: str = "master") -> str:
    commits = k.json("list", "commit", f"{repo}@{branch}")
    assert commits, f"{repo}@{branch} has no commit"
    return str(commits[0]["id"])


def get_text(k: Kaon, address: str, tmp: Path) -> str:
    out = tmp / f"got-{time.monotonic_ns()}"
    k.ok("get", "file", address, "-o", str(out))
    return out.read_text()


def model_of(k: Kaon, tmp: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(get_text(k, "train@master:/model.json", tmp))
    return doc


# (a) a 3-stage chain from one multi-document file, reacting to put file -r ---------------
@pytest.fixture(scope="module")
def chain(pk: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("chain")
    pk.ok("repo", "create", "raw")
    made = pk.run("create", "pipeline", "-f", str(CHAIN / "specs.yaml"))
    assert made.returncode == 0, made.stderr
    for name in ("split", "featurize", "train"):
        assert f"created pipeline {name} (version 1" in made.stderr
    batch = tmp / "batch-1"
    batch.mkdir()
    (batch / "a.txt").write_text("1 2 3\n")
    (batch / "b.txt").write_text("10\n20\n")
    pk.ok("put", "file", "raw@master:/batch-1", "-f", str(batch), "-r")
    gid = head(pk, "raw")
    pk.ok("wait", "commit", "train@master")
    jobs = wait_jobs(pk, gid, 3)
    return {"gid": gid, "jobs": jobs, "tmp": tmp}


def test_chain_runs_on_put_file(pk: Kaon, chain: dict[str, Any]) -> None:
    gid, jobs, tmp = chain["gid"], chain["jobs"], chain["tmp"]
    assert len(gid) == 32
    assert sorted(jobs) == ["featurize", "split", "train"]
    for name, job in jobs.items():
        assert job["state"] == "JOB_SUCCESS", (name, job)
        assert job["id"] == gid
        assert job["output_commit"], job
    assert jobs["split"]["counts"]["total"] == 2  # glob /*/*: one datum per file
    assert jobs["featurize"]["counts"]["total"] == 2
    assert jobs["train"]["counts"]["total"] == 1
    assert model_of(pk, tmp) == {"total": 36, "n": 5, "files": ["a.txt.json", "b.txt.json"]}
    assert get_text(pk, "split@master:/b.txt", tmp) == "10\n20\n"

    table = pk.rows("list", "job", gid)
    assert table[0][:2] == ["ID", "PIPELINE"]
    assert sorted(r[1] for r in table[1:]) == ["featurize", "split", "train"]
    assert all(r[0] == gid[: len(r[0])] for r in table[1:])

    commits = pk.json("list", "commit", gid)
    repos = sorted(c["repo"] for c in commits)
    assert repos == ["featurize", "raw", "split", "train"]
    by_repo = {c["repo"]: c["id"] for c in commits}
    assert by_repo["raw"] == gid
    for name in ("split", "featurize", "train"):
        assert by_repo[name] == jobs[name]["output_commit"]
    # the job read the commits of its own cascade
    split_in = {i["repo"]: i["commit"] for i in jobs["split"]["inputs"]}
    assert split_in == {"raw": gid}
    assert {i["repo"]: i["commit"] for i in jobs["train"]["inputs"]} == {
        "featurize": jobs["featurize"]["output_commit"]
    }
    listed = {p["name"]: p for p in pk.json("list", "pipeline")}
    assert {"split", "featurize", "train"} <= set(listed)
    assert listed["train"]["version"] == 1


# (b) one more file: exactly one datum processed ------------------------------------------
def test_incremental_one_more_file(pk: Kaon, chain: dict[str, Any]) -> None:
    tmp = chain["tmp"]
    put_text(pk, "raw@master:/batch-1/c.txt", "100\n", tmp)
    gid = head(pk, "raw")
    pk.ok("wait", "commit", "train@master")
    jobs = wait_jobs(pk, gid, 3)
    for name in ("split", "featurize"):
        job = pk.json("inspect", "job", f"{name}@{gid}")
        assert job["state"] == "JOB_SUCCESS", job
        assert job["counts"]["processed"] == 1, (name, job["counts"])
        assert job["counts"]["skipped"] == 2, (name, job["counts"])
        assert job["counts"]["total"] == 3
        assert job["progress"].replace(" ", "") == "1+2/3"
    assert jobs["train"]["counts"]["processed"] == 1
    assert model_of(pk, tmp)["total"] == 136
    datums = pk.json("list", "datum", f"split@{gid}")
    states = sorted(d["state"] for d in datums)
    assert states == ["skipped", "skipped", "success"]


# (c) update pipeline: version 2 reprocesses every datum; --no-reprocess keeps them -------
def test_update_reprocesses_every_datum(pk: Kaon, chain: dict[str, Any]) -> None:
    tmp = chain["tmp"]
    made = pk.run("update", "pipeline", "-f", str(CHAIN / "featurize-v2.yaml"))
    assert made.returncode == 0, made.stderr
    assert "updated pipeline featurize (version 2" in made.stderr
    info = pk.json("inspect", "pipeline", "featurize")
    assert info["version"] == 2
    assert info["reprocess"] is True
    put_text(pk, "raw@master:/batch-1/d.txt", "1000\n", tmp)
    gid = head(pk, "raw")
    wait_jobs(pk, gid, 3)
    pk.ok("wait", "commit", "train@master")
    v2 = first_job_of_version(pk, "featurize", 2)
    assert v2["state"] == "JOB_SUCCESS", v2
    assert v2["counts"]["skipped"] == 0, v2["counts"]
    assert v2["counts"]["processed"] == v2["counts"]["total"] >= 3
    assert model_of(pk, tmp)["total"] == 2 * 1136  # SCALE 2 on every file, none kept
    split = pk.json("inspect", "job", f"split@{gid}")
    assert split["counts"]["processed"] == 1  # split did not change: it skipped the rest


def test_update_no_reprocess_keeps_datums(pk: Kaon, chain: dict[str, Any]) -> None:
    tmp = chain["tmp"]
    pk.ok("update", "pipeline", "-f", str(CHAIN / "featurize-v3.yaml"), "--no-reprocess")
    info = pk.json("inspect", "pipeline", "featurize")
    assert info["version"] == 3
    assert info["reprocess"] is False
    assert "no" in pk.ok("inspect", "pipeline", "featurize").lower()
    put_text(pk, "raw@master:/batch-1/e.txt", "7\n", tmp)
    gid = head(pk, "raw")
    wait_jobs(pk, gid, 3)
    v3 = first_job_of_version(pk, "featurize", 3)
    assert v3["state"] == "JOB_SUCCESS", v3
    assert v3["counts"]["processed"] <= 1, v3["counts"]
    assert v3["counts"]["skipped"] >= v3["counts"]["total"] - 1, v3["counts"]
    # the kept outputs are version 2's (SCALE 2), the new file's version 3's (SCALE 3)
    assert model_of(pk, tmp)["total"] == 2 * 1136 + 3 * 7


def first_job_of_version(k: Kaon, pipeline: str, version: int) -> dict[str, Any]:
    jobs = [j for j in pipeline_jobs(k, pipeline) if j["version"] == version]
    assert jobs, f"no job of {pipeline} version {version}"
    job = min(jobs, key=lambda j: j["created"])
    return wait_final(k, pipeline, job["id"])


# (d) a failing datum with datum_tries: 2 ---------------------------------------------------
FRAGILE = """
pipeline: {name: fragile}
input: {pfs: {repo: flaky, name: in, glob: "/*"}}
transform:
  cmd: [/bin/bash]
  stdin:
    - 'if grep -q bad /pfs/in/*; then echo "boom: bad input" >&2; exit 3; fi'
    - cp /pfs/in/* /pfs/out/
datum_tries: 2
---
pipeline: {name: afterfragile}
input: {pfs: {repo: fragile, glob: "/"}}
transform:
  cmd: [/bin/bash]
  stdin: [cp -r /pfs/fragile/. /pfs/out/]
"""


def test_failing_datum_retries_then_fails_job(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "flaky")
    pk.ok("create", "pipeline", "-f", str(spec_file(tmp_path, FRAGILE)))
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.txt").write_text("fine\n")
    (data / "bad.txt").write_text("bad\n")
    pk.ok("put", "file", "flaky@master:/", "-f", str(data), "-r")
    gid = head(pk, "flaky")
    jobs = wait_jobs(pk, gid, 2)
    job = jobs["fragile"]
    assert job["state"] == "JOB_FAILURE", job
    assert job["restarts"] == 1, job  # the bad datum: tried twice
    assert job["counts"]["failed"] == 1, job["counts"]
    assert job["output_commit"] is None
    assert job["reason"]
    after = jobs["afterfragile"]
    assert after["state"] == "JOB_UNRUNNABLE", after
    assert "fragile" in after["reason"], after
    assert pk.json("list", "commit", "afterfragile@master") == []
    assert pk.json("list", "commit", "fragile@master") == []

    failed = pk.json("list", "datum", f"fragile@{gid}", "--failed")
    assert len(failed) == 1
    assert "bad.txt" in json.dumps(failed[0]["files"])
    assert failed[0]["tries"] == 2
    assert "failed" in pk.ok("list", "datum", f"fragile@{gid}", "--failed")
    logs = pk.ok("logs", "--job", f"fragile@{gid}", "--failed")
    assert "boom: bad input" in logs
    every = pk.ok("logs", "--job", f"fragile@{gid}")
    assert "boom: bad input" in every

    restarted = said(pk, "restart", "datum", f"fragile@{gid}", failed[0]["id"])
    assert "fragile@" in restarted
    again = [j for j in pipeline_jobs(pk, "fragile") if j["id"] != gid]
    assert again, "restart datum made no job"
    final = wait_final(pk, "fragile", again[0]["id"])
    assert final["state"] == "JOB_FAILURE"  # the same input still fails, honestly
    assert final["counts"]["failed"] == 1


# (e) a service pipeline reached through the platform's proxy -----------------------------
SITE = """
pipeline: {name: site}
input: {pfs: {repo: sitedata, glob: "/"}}
transform:
  cmd: [/bin/bash]
  stdin:
    - exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory /pfs/sitedata
service: {internal_port: 8000, external_port: 30888}
"""


def fetch(k: Kaon, url: str, want: str, timeout: float = 120.0) -> str:
    token = (k.home / "token").read_text().strip()
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                last = r.read().decode()
                if want in last:
                    return last
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered {want!r}; last: {last}")


def test_service_pipeline_through_proxy(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "sitedata")
    put_text(pk, "sitedata@master:/hello.txt", "hello, version one\n", tmp_path)
    pk.ok("create", "pipeline", "-f", str(spec_file(tmp_path, SITE)))
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline:
            url = pk.json("inspect", "pipeline", "site").get("service_url")
            time.sleep(0.2)
        assert url, "the service pipeline never got a URL"
        fetch(pk, f"{url.rstrip('/')}/hello.txt", "version one")
        running = [j for j in pipeline_jobs(pk, "site") if j["state"] == "JOB_RUNNING"]
        assert len(running) == 1 and running[0]["service"], running
        put_text(pk, "sitedata@master:/hello.txt", "hello, version two\n", tmp_path)
        fetch(pk, f"{url.rstrip('/')}/hello.txt", "version two")  # restarted on the new commit
    finally:
        pk.ok("delete", "pipeline", "site")


# (g) /pfs literal paths in stdin, with bubblewrap and without ----------------------------
def run_pfs_style(k: Kaon, tmp: Path) -> dict[str, Any]:
    k.ok("repo", "create", "pfsdata")
    data = tmp / "pfsdata"
    (data / "sub").mkdir(parents=True)
    (data / "a").write_text("alpha\n")
    (data / "sub" / "b").write_text("beta!\n")
    k.ok("create", "pipeline", "-f", str(HERE / "pfs" / "spec.yaml"))
    k.ok("put", "file", "pfsdata@master:/", "-f", str(data), "-r")
    gid = head(k, "pfsdata")
    job = wait_jobs(k, gid, 1)["pfsstyle"]
    assert job["state"] == "JOB_SUCCESS", job
    listing = get_text(k, "pfsstyle@master:/listing.txt", tmp).splitlines()
    assert listing[:2] == ["a 6", "sub/b 6"]
    assert "in_COMMIT=set" in listing
    assert f"PACH_JOB_ID={gid}" in listing
    assert get_text(k, "pfsstyle@master:/a", tmp) == "alpha\n"  # the symlink, stored by reference
    assert f"/pfs: {job['pfs_mode']}" in k.ok("inspect", "job", f"pfsstyle@{gid}")
    return job


def test_pfs_paths_in_stdin_with_bubblewrap(pk: Kaon, tmp_path: Path) -> None:
    job = run_pfs_style(pk, tmp_path)
    assert job["pfs_mode"] == "bubblewrap"


def test_pfs_paths_in_stdin_without_bubblewrap(rk: Kaon, tmp_path: Path) -> None:
    job = run_pfs_style(rk, tmp_path)
    assert job["pfs_mode"] == "rewrite"


# (f) the platform killed mid-job: recovered, no partial output commit --------------------
# the slow datum waits (up to 120 s) until PORT accepts connections, which the test lets it
# do only once the server was killed (datums see a private /tmp, not the test's files): the
# job cannot end before the crash, and its rerun does not wait
SLOW = """
pipeline: {name: slowpoke}
input: {pfs: {repo: slowin, name: in, glob: "/*"}}
transform:
  cmd: [/bin/bash]
  stdin:
    - 'if [ -e /pfs/in/slow ]; then echo "slow datum started"; fi'
    - 'if [ -e /pfs/in/slow ]; then for i in $(seq 1200); do (exec 3<>/dev/tcp/127.0.0.1/PORT) 2>/dev/null && break; sleep 0.1; done; fi'
    - cp /pfs/in/* /pfs/out/
"""


def test_platform_crash_mid_job(rk: Kaon, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    k = rk
    k.ok("repo", "create", "slowin")
    gate = socket.socket()  # bound: no one else takes the port; not listening: refused
    gate.bind(("127.0.0.1", 0))
    request.addfinalizer(gate.close)
    spec = SLOW.replace("PORT", str(gate.getsockname()[1]))
    k.ok("create", "pipeline", "-f", str(spec_file(tmp_path, spec)))
    data = tmp_path / "data"
    data.mkdir()
    (data / "fast").write_text("fast\n")
    (data / "slow").write_text("slow\n")
    k.ok("put", "file", "slowin@master:/", "-f", str(data), "-r")
    gid = head(k, "slowin")
    deadline = time.monotonic() + 120
    while "slow datum started" not in k.ok("logs", "--job", f"slowpoke@{gid}"):
        job = k.json("inspect", "job", f"slowpoke@{gid}")
        assert job["state"] not in JOB_FINAL, f"the job ended before the crash: {job}"
        assert time.monotonic() < deadline, "the slow datum never started"
        time.sleep(0.1)
    k.kill_server()
    gate.listen(8)  # the rerun of the slow datum goes straight on
    k.up()
    while True:  # an output commit is only ever visible once the job succeeded
        commits = k.json("list", "commit", "slowpoke@master")
        job = k.json("inspect", "job", f"slowpoke@{gid}")
        if commits:
            assert job["state"] == "JOB_SUCCESS", job
        if job["state"] in JOB_FINAL:
            break
        assert time.monotonic() < deadline + 120, f"the job was never recovered: {job}"
        time.sleep(0.2)
    assert job["state"] == "JOB_SUCCESS", job
    assert job["output_commit"] == head(k, "slowpoke")
    assert sorted(f["path"].strip("/") for f in k.json("list", "file", "slowpoke@master")) == [
        "fast",
        "slow",
    ]


# (h) bad input ---------------------------------------------------------------------------
def test_glob_matching_nothing_succeeds_with_zero_datums(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "sparse")
    text = """
pipeline: {name: nomatch}
input: {pfs: {repo: sparse, glob: "/nothing-*"}}
transform: {cmd: [/bin/true]}
"""
    pk.ok("create", "pipeline", "-f", str(spec_file(tmp_path, text)))
    put_text(pk, "sparse@master:/file.txt", "x\n", tmp_path)
    gid = head(pk, "sparse")
    job = wait_jobs(pk, gid, 1)["nomatch"]
    assert job["state"] == "JOB_SUCCESS", job
    assert job["counts"]["total"] == 0
    assert "glob matched nothing" in said(pk, "list", "datum", f"nomatch@{gid}")
    assert "0 total" in pk.ok("inspect", "job", f"nomatch@{gid}")


def test_bad_specs_are_refused_and_change_nothing(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "clash")
    pk.ok("repo", "create", "badsrc")
    before = pk.snapshot()
    pipelines_before = pk.json("list", "pipeline")

    def refused(code: int, text: str, match: str) -> str:
        return pk.fails(
            code, "create", "pipeline", "-f", str(spec_file(tmp_path, text)), match=match
        )

    cycle = """
pipeline: {name: ping}
input: {pfs: {repo: pong, glob: "/"}}
transform: {cmd: [/bin/true]}
---
pipeline: {name: pong}
input: {pfs: {repo: ping, glob: "/"}}
transform: {cmd: [/bin/true]}
"""
    refused(INVALID, cycle, "cycle")
    missing = """
pipeline: {name: orphan}
input: {pfs: {repo: no-such-repo, glob: "/"}}
transform: {cmd: [/bin/true]}
"""
    refused(INVALID, missing, "no-such-repo")  # a spec naming what is not there
    clash = """
pipeline: {name: clash}
input: {pfs: {repo: badsrc, glob: "/"}}
transform: {cmd: [/bin/true]}
"""
    refused(EXISTS, clash, "clash")
    twice = """
pipeline: {name: twin}
input: {pfs: {repo: badsrc, glob: "/"}}
transform: {cmd: [/bin/true]}
---
pipeline: {name: twin}
input: {pfs: {repo: badsrc, glob: "/*"}}
transform: {cmd: [/bin/true]}
"""
    refused(INVALID, twice, "twin")
    unknown = """
pipeline: {name: typo}
input: {pfs: {repo: badsrc, glob: "/"}}
transform: {cmd: [/bin/true]}
datum_trys: 2
"""
    refused(INVALID, unknown, "datum_tries")  # the did-you-mean
    assert pk.json("list", "pipeline") == pipelines_before
    assert pk.snapshot() == before


def test_cmd_not_found_memory_and_timeout_fail_their_datums(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "hard")
    text = """
pipeline: {name: nosuchcmd}
input: {pfs: {repo: hard, glob: "/"}}
transform: {cmd: [kaon-no-such-command-here]}
datum_tries: 1
---
pipeline: {name: toolate}
input: {pfs: {repo: hard, glob: "/"}}
transform: {cmd: [sleep, "60"]}
datum_timeout: 1s
datum_tries: 1
---
pipeline: {name: toobig}
input: {pfs: {repo: hard, glob: "/"}}
transform: {cmd: [python3, -c, "b = bytearray(400 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"]}
resource_limits: {memory: 64M}
datum_tries: 1
"""
    pk.ok("create", "pipeline", "-f", str(spec_file(tmp_path, text)))
    put_text(pk, "hard@master:/x", "x\n", tmp_path)
    gid = head(pk, "hard")
    jobs = wait_jobs(pk, gid, 3)
    expect = {"nosuchcmd": "not found", "toolate": "timed out", "toobig": ""}
    for name, word in expect.items():
        job = jobs[name]
        assert job["state"] == "JOB_FAILURE", job
        failed = pk.json("list", "datum", f"{name}@{gid}", "--failed")
        assert len(failed) == 1, (name, failed)
        said = (failed[0]["reason"] + " " + job["reason"]).lower()
        assert word in said, (name, said)
        assert pk.json("list", "commit", f"{name}@master") == []
    logs = pk.ok("logs", "--job", f"nosuchcmd@{gid}", "--failed")
    assert "kaon-no-such-command-here" in logs  # which command was not found
    logs = pk.ok("logs", "--job", f"toobig@{gid}", "--failed")
    assert "memory limit" in logs  # the kernel killed it: said where the user looks


# (i) the e2e project's own `model` spec ----------------------------------------------------
def test_e2e_projects_model_spec(pk: Kaon, tmp_path: Path) -> None:
    pk.ok("repo", "create", "transform")
    pk.ok("repo", "create", "tune")
    images = tmp_path / "transform"
    for split in ("training", "test"):
        (images / split / "pet1").mkdir(parents=True)
        (images / split / "pet1" / "image.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    p = pk.run("create", "pipeline", "-f", str(HERE / "model" / "specs.yaml"))
    assert p.returncode == 0, p.stderr
    assert "suneetamall/e2e-ml-on-k8s:1" in p.stderr  # the image cannot be pulled: said
    assert "Warning" in p.stderr
    pk.ok("put", "file", "transform@master:/", "-f", str(images), "-r")
    hp = {"model_arch": "VGG19", "epochs": 6}
    put_text(pk, "tune@master:/optimal_hp.json", json.dumps(hp), tmp_path)
    gid = head(pk, "tune")
    job = wait_jobs(pk, gid, 1)["model"]
    assert job["state"] == "JOB_SUCCESS", job
    pk.ok("wait", "commit", "model@master")
    model = json.loads(get_text(pk, "model@master:/model.h5", tmp_path))
    assert model["arch"] == "VGG19"
    assert model["images"] == ["test/pet1/image.jpg", "training/pet1/image.jpg"]
    assert model["tune_commit"] == gid
    assert model["transform_commit"] == head(pk, "transform")
    assert json.loads(get_text(pk, "model@master:/optimal_hp.json", tmp_path)) == hp
