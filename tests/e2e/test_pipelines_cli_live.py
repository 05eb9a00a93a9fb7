"""The pipeline commands' tables, --json and text against a running platform, through the real
CLI: a pipeline that copies what is put to its input, its job, datums, logs and commit set.
(The flows of issue 15 — cascades, incrementality, updates, crashes — are in
tests/e2e/test_pipelines.py.)"""

from __future__ import annotations

import importlib.util
import json
import re
import time

import pytest

from .helpers import Kaon


def needs_pipelines() -> str | None:
    """Why this build cannot run pipelines yet (None: it can)."""
    for module in ("kaon.services.pipelines.service", "kaon.services.pipelines.jobrunner"):
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"{module} is not in this build yet"
    return None


COPY = """import os, shutil
root = os.environ.get("PFS_DIR", "/pfs")
for name in sorted(os.listdir(os.path.join(root, "clisrc"))):
    print("copying", name, flush=True)
    shutil.copy(os.path.join(root, "clisrc", name), os.path.join(root, "out", name))
"""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(needs_pipelines() is not None, reason=str(needs_pipelines())),
]

SPEC = """\
pipeline: {name: clicopy}
description: copies clisrc
input: {pfs: {repo: clisrc, glob: "/*"}}
transform:
  source: code
  cmd: [python3, copy.py]
pod_spec: '{}'
"""


@pytest.fixture(scope="module")
def job(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Pipeline clicopy created, two files put to its input, the job they set off finished."""
    root = tmp_path_factory.mktemp("pipelines-cli-live")
    (root / "code").mkdir()
    (root / "code" / "copy.py").write_text(COPY)
    (root / "code" / "requirements.txt").write_text("")
    (root / "specs.yaml").write_text(SPEC)
    data = root / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "b.txt").write_text("b")
    kaon.ok("repo", "create", "clisrc")
    made = kaon.run("create", "pipeline", "-f", str(root / "specs.yaml"))
    assert made.returncode == 0, made.stderr
    warnings = [line for line in made.stderr.splitlines() if line.startswith("Warning: ")]
    assert len([w for w in warnings if "pod_spec" in w]) == 1, made.stderr
    put = kaon.json("put", "file", "clisrc@master:/", "-f", str(data), "-r")
    global_id = put["commit"]["id"]  # the id of the jobs it sets off
    with kaon.client() as client:
        deadline = time.monotonic() + 300
        while True:  # the job may not be recorded yet when put returns
            jobs = client.list_pipeline_jobs("clicopy", global_id)
            if jobs:
                done = client.wait_pipeline_job(jobs[0], timeout=300)
                break
            assert time.monotonic() < deadline, "no job of clicopy was started by the put"
            time.sleep(0.2)
    assert done.state.label == "success", done.reason
    kaon.ok("wait", "commit", "clicopy@master", "--timeout", "5m")
    found: dict[str, object] = kaon.json("inspect", "job", f"clicopy@{global_id}")
    assert found["counts"] == {
        "total": 2,
        "processed": 2,
        "skipped": 0,
        "failed": 0,
        "recovered": 0,
    }
    return found


def test_list_pipeline_is_pachctls_table(kaon: Kaon, job: dict[str, object]) -> None:
    lines = kaon.ok("list", "pipeline").splitlines()
    assert re.split(r"\s{1,}", lines[0]) == [
        *["NAME", "VERSION", "INPUT", "CREATED", "STATE", "/", "LAST", "JOB", "DESCRIPTION"]
    ]
    row = next(line for line in lines if line.startswith("clicopy "))
    assert " clisrc:/* " in row and "/ success" in row and row.endswith("copies clisrc")
    (one,) = [p for p in kaon.json("list", "pipeline") if p["name"] == "clicopy"]
    assert (one["version"], one["source_repo"]) == (1, "kaon-pipelines")
    assert kaon.json("inspect", "pipeline", "clicopy")["input"] == "clisrc:/*"
    text = kaon.ok("inspect", "pipeline", "clicopy")
    assert "Code: kaon-pipelines@" in text and "Reprocess: yes" in text


def test_list_and_inspect_job(kaon: Kaon, job: dict[str, object]) -> None:
    ident = str(job["id"])
    rows = kaon.rows("list", "job", "-p", "clicopy")
    assert rows[0] == [
        "ID",
        "PIPELINE",
        "STARTED",
        "DURATION",
        "RESTART",
        "PROGRESS",
        "DL",
        "UL",
        "STATE",
    ]
    mine = [r for r in rows[1:] if r[0] == ident[:12]]
    assert mine and mine[0][1] == "clicopy" and mine[0][-1] == "success"
    assert "2 + 0 / 2" in kaon.ok("list", "job", "-p", "clicopy")
    by_id = kaon.json("list", "job", ident)
    assert {j["pipeline"] for j in by_id} >= {"clicopy"}
    text = kaon.ok("inspect", "job", f"clicopy@{ident[:12]}")
    assert "Datums: 2 processed, 0 skipped, 0 failed, 0 recovered, 2 total" in text
    assert "Input clisrc: clisrc@" in text and "Output commit: clicopy@" in text
    doc = kaon.json("inspect", "job", f"clicopy@{ident}")
    assert doc["output_commit"] and doc["pfs_mode"] in ("bubblewrap", "rewrite")


def test_list_datum_logs_and_commit_set(kaon: Kaon, job: dict[str, object]) -> None:
    key = f"clicopy@{job['id']}"
    rows = kaon.rows("list", "datum", key)
    assert rows[0] == ["ID", "FILES", "STATUS", "TIME"]
    assert [r[2] for r in rows[1:]] == ["success", "success"]
    assert kaon.ok("list", "datum", key, "--failed") == ""
    text = kaon.ok("logs", "--job", key)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ copying a\.txt$", text, re.M), text
    raw = [json.loads(line) for line in kaon.ok("logs", "--job", key, "--raw").splitlines()]
    assert {"copying a.txt", "copying b.txt"} <= {r["message"] for r in raw}
    assert all(r["pipeline"] == "clicopy" for r in raw)
    assert len(kaon.ok("logs", "--job", key, "--tail", "1").splitlines()) == 1
    commits = kaon.json("list", "commit", str(job["id"]))
    assert "clicopy" in {c["repo"] for c in commits}


def test_delete_pipeline_keeps_the_repo_when_asked(kaon: Kaon, job: dict[str, object]) -> None:
    kaon.ok("delete", "pipeline", "clicopy", "--keep-repo")
    assert "clicopy" not in {p["name"] for p in kaon.json("list", "pipeline")}
    assert kaon.ok("list", "file", "clicopy@master:/").count(".txt") == 2
    kaon.fails(4, "inspect", "pipeline", "clicopy", match="clicopy")


FAILING = """\
pipeline: {name: clifail}
input: {pfs: {repo: clisrc, glob: "/*"}}
transform:
  cmd: [bash]
  stdin:
    - 'for f in /pfs/clisrc/*; do echo "reading $(basename $f)"; done'
    - 'if [ -e /pfs/clisrc/b.txt ]; then echo "no b here"; exit 3; fi'
    - "cp /pfs/clisrc/* /pfs/out/"
datum_tries: 1
"""


def test_a_failed_datum_is_listed_and_logged(
    kaon: Kaon, job: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = tmp_path_factory.mktemp("clifail") / "fail.yaml"
    spec.write_text(FAILING)
    kaon.ok("create", "pipeline", "-f", str(spec))
    with kaon.client() as client:
        deadline = time.monotonic() + 300
        while not (jobs := client.list_pipeline_jobs("clifail")):
            assert time.monotonic() < deadline, "creating clifail started no job"
            time.sleep(0.2)
        done = client.wait_pipeline_job(jobs[0], timeout=300)
    key = done.key
    assert done.state.label == "failure"
    rows = kaon.rows("list", "job", "-p", "clifail")
    assert rows[1][0] == done.id[:12] and rows[1][-1] == "failure"
    failed = kaon.rows("list", "datum", key, "--failed")
    assert len(failed) == 2 and failed[1][1:3] == ["clisrc:/b.txt", "failed"]
    text = kaon.ok("inspect", "job", key)
    assert "State: failure" in text and "Reason: " in text and "1 failed" in text
    logged = kaon.ok("logs", "--job", key, "--failed")
    assert "reading b.txt" in logged and "reading a.txt" not in logged
    assert "reading a.txt" in kaon.ok("logs", "--job", key, "-f")  # the job ended: -f returns
    kaon.ok("delete", "pipeline", "clifail")
