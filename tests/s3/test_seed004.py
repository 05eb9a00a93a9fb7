"""Seed 004 end to end: a training job copies mnist.npz from bucket `master.inputrepo` through
the S3 gateway with the credentials kaon injected, "trains", writes my_model.h5 to
`master.outputrepo`; the job's provenance then names the input commit and the output commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from .conftest import Gateway

pytestmark = pytest.mark.e2e

TRAIN = '''#!/usr/bin/env python3
"""Seed 004's tfjob.py without TensorFlow: copy the data in, train, copy the model out."""
import hashlib, os, pathlib, sys

import boto3

out = pathlib.Path(sys.argv[1])
input_bucket = os.getenv("INPUT_BUCKET", "master.inputrepo")
output_bucket = os.getenv("OUTPUT_BUCKET", "master.outputrepo")
data_dir = pathlib.Path(os.environ["TMPDIR"]) / "data"
data_dir.mkdir(parents=True)
s3 = boto3.client("s3")  # endpoint and keys from AWS_* in the job's environment
local = data_dir / "mnist.npz"
print(f"copying s3://{input_bucket}/data/mnist.npz to {local}")
s3.download_file(input_bucket, "data/mnist.npz", str(local))
weights = hashlib.sha256(local.read_bytes()).hexdigest()  # the "training"
model = data_dir / "my_model.h5"
model.write_text(weights)
print(f"copying {model} to s3://{output_bucket}/my_model.h5")
s3.upload_file(str(model), output_bucket, "my_model.h5")
(out / "model").mkdir(parents=True)
(out / "model" / "my_model.h5").write_text(weights)
'''


def test_training_job_reads_and_writes_through_s3_with_provenance(
    gateway: Gateway, tmp_path: Path
) -> None:
    k = gateway.kaon
    npz = tmp_path / "mnist.npz"
    npz.write_bytes(os.urandom(300_000))
    k.ok("repo", "create", "inputrepo")
    k.ok("repo", "create", "outputrepo")
    k.ok("put", "file", "inputrepo@master:/data/mnist.npz", "-f", str(npz))
    k.ok("create", "branch", "outputrepo@master")
    input_commit = k.json("list", "commit", "inputrepo@master")[0]["id"]

    code = tmp_path / "code" / "mnist" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(TRAIN)
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text(f"boto3=={boto3.__version__}\n")
    data = tmp_path / "data" / "features"
    data.mkdir(parents=True)
    (data / "unused.csv").write_text("the data comes through S3\n")
    env = {"KAON_WORKSPACE": "seed4"}
    k.ok("workspace", "create", "-n", "seed4")
    job = json.loads(
        k.ok(
            "train",
            "deploy",
            "-s",
            str(tmp_path / "code"),
            "-d",
            str(tmp_path / "data"),
            "--wait",
            "--json",
            env=env,
        )
    )
    logs = k.ok("train", "logs", "-j", job["id"], env=env)
    assert job["state"] == "JOB_SUCCESS", logs
    assert "copying s3://master.inputrepo/data/mnist.npz" in logs

    output = k.json("list", "commit", "outputrepo@master")
    assert len(output) == 1 and output[0]["author"].startswith(f"job {job['id'][:8]}")
    s3 = gateway.client()
    model = s3.get_object(Bucket="master.outputrepo", Key="my_model.h5")["Body"].read()
    import hashlib

    assert model.decode() == hashlib.sha256(npz.read_bytes()).hexdigest()

    model_id = job["trials"][0]["model_id"]
    out = tmp_path / "prov"
    text = k.ok("train", "provenance", "-m", model_id, "-o", str(out), "--format", "json", env=env)
    assert "used data inputrepo@master:/data/mnist.npz" in text, text
    assert "wrote data outputrepo@master:/my_model.h5" in text, text
    graph = json.loads((out / "seed4" / "provenance" / f"model-{model_id}.json").read_text())
    ids = {n["id"] for n in graph["nodes"]}
    assert f"data:{input_commit}" in ids and f"data:{output[0]['id']}" in ids
    edges = {(e["src"].split(":")[0], e["dst"].split(":")[0], e["kind"]) for e in graph["edges"]}
    assert ("job", "data", "produced") in edges and ("data", "job", "used") in edges
    # downstream of the input commit: the job, its model and what it wrote
    sub = json.loads(k.ok("data", "subvenance", f"inputrepo@{input_commit[:8]}", "--json"))
    assert f"data:{output[0]['id']}" in {n["id"] for n in sub["nodes"]}
    # the job's key was revoked when it ended
    keys = json.loads(k.ok("auth", "s3-credentials", "--list", "--json"))
    assert not [c for c in keys if c["job"] == job["id"]]


TRAIN_OVER_S3 = '''#!/usr/bin/env python3
"""All data over S3 (no data bundle), buckets named by --env."""
import hashlib, os, pathlib, sys

import boto3

out = pathlib.Path(sys.argv[1])
print("data folder:", sorted(os.listdir(os.environ["KAON_DATA_DIR"])))
print("tf:", *(f"{k}={os.environ[k]}" for k in ("S3_ENDPOINT", "S3_USE_HTTPS", "S3_VERIFY_SSL")))
s3 = boto3.client("s3")
body = s3.get_object(Bucket=os.environ["INPUT_BUCKET"], Key="data/mnist.npz")["Body"].read()
(out / "model").mkdir(parents=True)
(out / "model" / "weights").write_text(hashlib.sha256(body).hexdigest())
'''


def test_a_job_that_reads_everything_over_s3_needs_no_data_bundle(
    gateway: Gateway, tmp_path: Path
) -> None:
    """Seed 004's TFJob pattern: no data bundle, buckets given with --env, a re-run with no
    option at all after new data was put."""
    k = gateway.kaon
    npz = tmp_path / "mnist.npz"
    npz.write_bytes(os.urandom(1000))
    k.ok("repo", "create", "s3in")
    k.ok("put", "file", "s3in@master:/data/mnist.npz", "-f", str(npz))
    code = tmp_path / "code" / "tfjob" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(TRAIN_OVER_S3)
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text(f"boto3=={boto3.__version__}\n")
    src = str(tmp_path / "code")
    env = {"KAON_WORKSPACE": "tfjob"}
    k.ok("workspace", "create", "-n", "tfjob")

    # refused before anything is uploaded
    k.fails(2, "train", "deploy", env=env, match="no source bundle yet")
    k.fails(2, "train", "deploy", "-d", src, env=env, match="no source bundle yet")
    k.fails(
        2, "train", "deploy", "-s", src, "--env", "AWS_SECRET_ACCESS_KEY=x", env=env, match="AWS_*"
    )
    k.fails(2, "train", "deploy", "-s", src, "--env", "KAON_JOB_ID=1", env=env, match="KAON_*")
    k.fails(
        2, "train", "deploy", "-s", src, "--env", "S3_ENDPOINT=h:1", env=env, match="S3_ENDPOINT"
    )
    k.fails(2, "train", "deploy", "-s", src, "--env", "PATH=/x", env=env, match="platform sets")
    k.fails(2, "train", "deploy", "-s", src, "--env", "NOVALUE", env=env, match="KEY=VALUE")
    assert k.json("list", "branch", "tfjob-source") == []
    assert k.json("list", "branch", "tfjob-data") == []

    p = k.run(
        "train", "deploy", "-s", src, "--env", "INPUT_BUCKET=master.s3in", "--wait", "--json",
        env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    first = json.loads(p.stdout)
    assert first["variables"] == {"INPUT_BUCKET": "master.s3in"}
    assert first["data"]["files"] == 0 and first["data"]["name"] == "none"
    logs = k.ok("train", "logs", "-j", first["id"], env=env)
    assert "data folder: []" in logs
    port = gateway.url.rsplit(":", 1)[1]
    assert f"tf: S3_ENDPOINT=127.0.0.1:{port} S3_USE_HTTPS=0 S3_VERIFY_SSL=0" in logs, logs
    info = k.ok("train", "info", "-j", first["id"], env=env)
    assert "Variables (--env): INPUT_BUCKET=master.s3in" in info
    assert "Data: none" in info

    npz.write_bytes(os.urandom(1000))  # new data, then the same job again: no option at all
    k.ok("put", "file", "s3in@master:/data/mnist.npz", "-f", str(npz))
    second = json.loads(k.ok("train", "deploy", "--wait", "--json", env=env))
    assert second["state"] == "JOB_SUCCESS", second["reason"]
    assert second["variables"] == first["variables"]
    assert (second["source"]["path"], second["data"]["path"]) == (
        first["source"]["path"],
        first["data"]["path"],
    )
    assert second["trials"][0]["model_id"] != first["trials"][0]["model_id"]  # new weights

    k.ok("train", "reproduce", "-j", first["id"], env=env)  # reuses the recorded --env
    jobs = json.loads(k.ok("train", "list", "--json", env=env))
    again = [j for j in jobs if j["env"].get("reproduces") == first["id"]]
    assert again and again[0]["variables"] == first["variables"]
    dropped = json.loads(k.ok("train", "deploy", "--no-env", "--json", env=env))
    assert dropped["variables"] == {}
    # without INPUT_BUCKET the code may fail before the kill arrives: either ending is fine
    killed = k.run("train", "kill", "-j", dropped["id"], env=env)
    assert killed.returncode == 0 or "is not running" in killed.stderr, killed.stderr
