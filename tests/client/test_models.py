"""The SDK's models are kaon.wire's answers, decoded without pydantic: nested answers, state
enums, a provenance graph and the audit log's JSON text come out typed; a field this version
does not know is ignored."""

from __future__ import annotations

import subprocess
import sys

from kaon.client.models import AuditRecord, EndpointInfo, JobInfo, ProvenanceInfo, from_json
from kaon.core.endpoints import EndpointState
from kaon.core.jobs import JobState
from kaon.core.provenance import Graph

BUNDLE = {
    "kind": "source",
    "name": "mnist",
    "repo": "ws-code",
    "branch": "mnist",
    "commit": "c" * 32,
    "digest": "d" * 64,
    "author": "ann",
    "size": 10,
    "files": 2,
    "path": "/mnist:e23a2",
}
TRIAL = {
    "index": 0,
    "params": {"c": 1},
    "state": "JOB_SUCCESS",
    "started": 1,
    "finished": 2.5,
    "exit_code": 0,
    "model_id": None,
    "model_commit": None,
    "model_path": None,
    "metrics": {},
    "reason": "",
}
JOB = {
    "id": "j" * 32,
    "workspace": "ws",
    "state": "JOB_RUNNING",
    "created": 1,
    "started": None,
    "finished": None,
    "duration": None,
    "author": "ann",
    "source": BUNDLE,
    "data": BUNDLE,
    "hyper": None,
    "hyperopt": False,
    "parallelism": 1,
    "timeout": None,
    "memory": None,
    "cpu": None,
    "sandbox": False,
    "reason": "",
    "env": {},
    "variables": {},
    "process_time": 0,
    "trials": [TRIAL],
    "from_a_newer_server": 1,
}


def test_a_job_decodes_typed() -> None:
    job = JobInfo.from_doc(JOB)
    assert job.state is JobState.RUNNING and not job.finished_state
    assert job.trials[0].state is JobState.SUCCESS and job.trials[0].started == 1.0
    assert isinstance(job.trials[0].started, float) and job.source.path == "/mnist:e23a2"
    assert from_json(JobInfo, JOB) == job


def test_an_endpoint_a_graph_and_an_audit_record_decode_typed() -> None:
    doc = {
        "name": "e1",
        "workspace": "ws",
        "state": "PIPELINE_RUNNING",
        "created": 1.0,
        "started": 2.0,
        "author": "ann",
        "source": BUNDLE,
        "model_id": None,
        "replicas": 1,
        "ready": 1,
        "restarts": 0,
        "batch": None,
        "timeout": 30,
        "url": "127.0.0.1:1/e1/invocations",
        "reason": "",
        "env": {},
        "variables": {},
        "served_commit": None,
        "auth": False,
    }
    assert EndpointInfo.from_doc(doc).state is EndpointState.RUNNING
    graph = {"nodes": [{"id": "data:x", "kind": "data", "label": "x", "attrs": {}}], "edges": []}
    prov = ProvenanceInfo.from_doc({"root": "data:x", "graph": graph, "dot": "", "text": ""})
    assert isinstance(prov.graph, Graph) and prov.graph.to_dict()["nodes"][0]["id"] == "data:x"
    record = {"id": 1, "at": 2.0, "user": "", "action": "a", "target": "t", "workspace": None}
    assert AuditRecord.from_doc({**record, "status": 401, "detail": '{"job":"j"}'}).detail == {
        "job": "j"
    }


def test_the_sdk_imports_no_pydantic() -> None:
    code = "import sys, kaon.client.client; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
