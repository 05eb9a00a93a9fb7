"""Release from a pipeline, through the real CLI and server: a pipeline stage whose transform
deploys (then updates) a named endpoint with the SDK and the job's own token; predictions go
through the gateway; `kaon serve provenance -e <endpoint>` reaches back through the release
job to its input commit; a failing quality gate leaves serving as it was and the job FAILURE
saying why."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon, put_text, spec_file, wait_final

pytestmark = pytest.mark.e2e

WS = "relpipe"
ENDPOINT = "relpet"

# The release stage: a gate on /pfs/gate/accuracy.txt, then deploy-or-update with the SDK.
RELEASE = """
import os, pathlib, sys, tempfile
pfs = os.environ.get("PFS_DIR", "/pfs")
accuracy = float(open(f"{pfs}/gate/accuracy.txt").read())
if not accuracy > 0.9:
    print(f"quality gate failed: accuracy {accuracy} is not above 0.9", file=sys.stderr)
    sys.exit(3)
from kaon.client import AlreadyExists, Client, Conflict
version = os.environ["gate_COMMIT"][:6]
bundle = pathlib.Path(tempfile.mkdtemp()) / "relpet"
bundle.mkdir()
(bundle / "model.py").write_text(
    "def load_ctx(model_dir):\\n    return None\\n\\n"
    f"def predict(payload, ctx):\\n    return {{'accuracy': {accuracy}}}\\n"
)
(bundle / "requirements.txt").write_text("")
with Client.from_env() as client:
    try:
        served = client.wait(client.serve("relpipe", source=bundle, name="relpet", version=version))
        print("deployed", served.name, served.state)
    except (AlreadyExists, Conflict):
        served = client.update_endpoint("relpet", source=bundle, version=version, wait=True)
        print("updated", served.name, served.state)
"""

SPEC = """
pipeline: {{name: relgate}}
input:
  pfs: {{repo: gate, glob: "/"}}
transform:
  source: relcode
  cmd: [{python}, release.py]
datum_tries: 1
"""


def predict(base: str) -> tuple[int, dict[str, Any], str]:
    req = urllib.request.Request(
        f"{base}/{ENDPOINT}/invocations",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read()), r.headers.get("X-Kaon-Version", "")


def release_job(k: Kaon, before: set[str]) -> Any:
    """The release job the last put set off (the newest one not in `before`), once ended."""
    jobs = [j for j in k.json("list", "job", "-p", "relgate") if j["id"] not in before]
    assert jobs, "no release job started"
    return wait_final(k, "relgate", jobs[0]["id"])


def job_ids(k: Kaon) -> set[str]:
    return {j["id"] for j in k.json("list", "job", "-p", "relgate")}


def test_a_pipeline_stage_releases_an_endpoint_with_the_sdk(kaon: Kaon, tmp_path: Path) -> None:
    kaon.ok("workspace", "create", "-n", WS)
    kaon.ok("repo", "create", "gate")
    code = tmp_path / "relcode"
    code.mkdir()
    (code / "release.py").write_text(RELEASE)
    # the platform's own Python: no requirements.txt (the SDK comes from the kaon runtime the
    # platform puts on PYTHONPATH; uploading a folder also needs blake3 and zstandard)
    spec = spec_file(tmp_path, SPEC.format(python=sys.executable))
    kaon.ok("create", "pipeline", "-f", str(spec))
    base = kaon.server()["url"]  # type: ignore[index]

    # 1. the gate passes: the job deploys relpet with its token
    before = job_ids(kaon)
    put_text(kaon, "gate@master:/accuracy.txt", "0.97", tmp_path)
    first = release_job(kaon, before)
    assert first["state"] == "JOB_SUCCESS", first
    status, answer, version = predict(base)
    assert status == 200 and answer == {"accuracy": 0.97}
    (gate_input,) = first["inputs"]
    with kaon.client() as c:
        endpoint = c.get_endpoint(ENDPOINT)  # the version the release serves
    assert endpoint.job == f"relgate@{first['id']}"
    assert version == gate_input["commit"][:6] and endpoint.name == f"{ENDPOINT}-{version}"

    # provenance: the endpoint ← the release job ← the gate commit it read
    prov = kaon.ok("serve", "provenance", "-e", ENDPOINT, "--format", "json", "-o", str(tmp_path))
    assert f"relgate@{first['id'][:8]}" in prov, prov
    drawn = json.loads(next((tmp_path / WS / "provenance").glob("*.json")).read_text())
    nodes = {n["id"]: n for n in drawn["nodes"]}
    job_node = f"job:relgate@{first['id']}"
    assert job_node in nodes
    assert {"src": job_node, "dst": f"endpoint:{endpoint.name}", "kind": "deployed"} in (
        drawn["edges"]
    )
    used = [e["src"] for e in drawn["edges"] if e["dst"] == job_node and e["kind"] == "used"]
    assert f"data:{gate_input['commit']}" in used, drawn

    # 2. a failing gate: the job fails saying why; the endpoint serves what it served
    before = job_ids(kaon)
    put_text(kaon, "gate@master:/accuracy.txt", "0.42", tmp_path)
    failed = release_job(kaon, before)
    assert failed["state"] == "JOB_FAILURE", failed
    assert "quality gate failed: accuracy 0.42 is not above 0.9" in failed["reason"], failed
    status, answer, still = predict(base)
    assert status == 200 and answer == {"accuracy": 0.97} and still == version
    with kaon.client() as c:
        again = c.get_endpoint(ENDPOINT)
        versions = c.endpoint_versions(ENDPOINT)
        tokens = c.list_tokens()
    assert (again.name, again.state) == (endpoint.name, endpoint.state)
    assert [v.version for v in versions] == [version]  # no version was even started

    # the tokens died with their jobs
    assert not [t for t in tokens if (t.job or "").startswith("relgate@")], tokens
