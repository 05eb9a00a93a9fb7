"""A job's S3 key acts as the job's owner narrowed to the job's workspace: it reaches the shared
repos and its own workspace's internal repos, and nothing of another workspace's — even one its
owner is an editor of: every kind of request there is AccessDenied (403), and ListBuckets shows
none of it. The admin's key (`kaon auth s3-credentials` with the platform token) reaches all."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from kaon.core.users import Role
from kaon.db.database import Database
from kaon.services.users import UserService

from .conftest import Gateway

pytestmark = pytest.mark.e2e

TRAIN = '''#!/usr/bin/env python3
"""Try every kind of request on the shared repo, our own workspace's and another's."""
import json, pathlib, sys

import boto3
from botocore.exceptions import ClientError

out = pathlib.Path(sys.argv[1])
s3 = boto3.client("s3", config=boto3.session.Config(retries={"max_attempts": 1}))
results = {}


def attempt(name, call):
    try:
        call()
        results[name] = "ok"
    except ClientError as exc:
        err = exc.response["Error"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        results[name] = f"{status} {err.get('Code')}"


OTHER, OWN, SHARED = "master.scopeb-data", "master.scopea-data", "master.scopeshared"
attempt("other get", lambda: s3.get_object(Bucket=OTHER, Key="secret.txt"))
attempt("other head object", lambda: s3.head_object(Bucket=OTHER, Key="secret.txt"))
attempt("other head bucket", lambda: s3.head_bucket(Bucket=OTHER))
attempt("other list", lambda: s3.list_objects_v2(Bucket=OTHER))
attempt("other lakefs get", lambda: s3.get_object(Bucket="scopeb-data", Key="master/secret.txt"))
attempt("other put", lambda: s3.put_object(Bucket=OTHER, Key="secret.txt", Body=b"pwned"))
attempt("other delete", lambda: s3.delete_object(Bucket=OTHER, Key="secret.txt"))
attempt("other copy out", lambda: s3.copy_object(
    Bucket=SHARED, Key="stolen.txt", CopySource={"Bucket": OTHER, "Key": "secret.txt"}))
attempt("other copy in", lambda: s3.copy_object(
    Bucket=OTHER, Key="secret.txt", CopySource={"Bucket": SHARED, "Key": "in.txt"}))
attempt("other multipart", lambda: s3.create_multipart_upload(Bucket=OTHER, Key="big"))
attempt("other uploads", lambda: s3.list_multipart_uploads(Bucket=OTHER))
attempt("other models put", lambda: s3.put_object(Bucket="master.scopeb-models", Key="m", Body=b"x"))
attempt("own list", lambda: s3.list_objects_v2(Bucket=OWN))
attempt("own put", lambda: s3.put_object(Bucket=OWN, Key="mine.txt", Body=b"mine"))
attempt("own get", lambda: s3.get_object(Bucket=OWN, Key="mine.txt"))
attempt("shared get", lambda: s3.get_object(Bucket=SHARED, Key="in.txt"))
attempt("shared put", lambda: s3.put_object(Bucket=SHARED, Key="out.txt", Body=b"out"))
attempt("shared copy", lambda: s3.copy_object(
    Bucket=SHARED, Key="copy.txt", CopySource={"Bucket": SHARED, "Key": "in.txt"}))
up = {}
def multipart():
    up["id"] = s3.create_multipart_upload(Bucket=SHARED, Key="mp.txt")["UploadId"]
    etag = s3.upload_part(Bucket=SHARED, Key="mp.txt", UploadId=up["id"], PartNumber=1,
                          Body=b"parts")["ETag"]
    s3.complete_multipart_upload(Bucket=SHARED, Key="mp.txt", UploadId=up["id"],
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
attempt("shared multipart", multipart)
results["buckets"] = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
print("RESULTS " + json.dumps(results, sort_keys=True))
(out / "model").mkdir(parents=True)
(out / "model" / "done").write_text("done")
'''


def test_a_jobs_key_reaches_its_workspace_and_the_shared_repos_only(
    gateway: Gateway, tmp_path: Path
) -> None:
    k = gateway.kaon
    k.ok("workspace", "create", "-n", "scopea")
    k.ok("workspace", "create", "-n", "scopeb")
    # the job's owner is a user who may write both workspaces (made as `kaon user add` and
    # `kaon workspace share` do): the job in scopea still reaches nothing of scopeb
    db = Database(f"sqlite:///{k.home / 'kaon.db'}")
    store = db.users
    try:
        users = UserService(store, time.time)
        _, token = users.add("scopeowner")
        for ws in ("scopea", "scopeb"):
            users.share(ws, "scopeowner", Role.EDITOR)
    finally:
        db.close()
    k.ok("repo", "create", "scopeshared")
    secret = tmp_path / "secret.txt"
    secret.write_text("the other workspace's secret")
    k.ok("put", "file", "scopeb-data@master:/secret.txt", "-f", str(secret))
    k.ok("put", "file", "scopeshared@master:/in.txt", "-f", str(secret))
    k.ok("put", "file", "scopea-data@master:/own.txt", "-f", str(secret))
    before = k.json("list", "commit", "scopeb-data@master")

    code = tmp_path / "code" / "probe" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(TRAIN)
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text(f"boto3=={boto3.__version__}\n")
    data = tmp_path / "data" / "features"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("x\n")
    env = {"KAON_WORKSPACE": "scopea", "KAON_TOKEN": token}
    src, data_dir = str(tmp_path / "code"), str(tmp_path / "data")
    out = k.ok("train", "deploy", "-s", src, "-d", data_dir, "--wait", "--json", env=env)
    job = json.loads(out)
    logs = k.ok("train", "logs", "-j", job["id"], env=env)
    assert job["state"] == "JOB_SUCCESS", logs
    line = next(x for x in logs.splitlines() if "RESULTS " in x)
    results = json.loads(line.split("RESULTS ", 1)[1])
    denied = {name: v for name, v in results.items() if name.startswith("other")}
    # a HEAD answer has no body: boto3 names the error by the status alone
    expected = {n: "403 403" if "head" in n else "403 AccessDenied" for n in denied}
    assert denied == expected, results
    allowed = {n: v for n, v in results.items() if n.startswith(("own", "shared"))}
    assert allowed == {n: "ok" for n in allowed}, results
    assert "master.scopeshared" in results["buckets"]
    assert not [b for b in results["buckets"] if "scopeb" in b], results["buckets"]

    # nothing of the other workspace changed; a user's key still reaches it
    assert k.json("list", "commit", "scopeb-data@master") == before
    s3 = gateway.client()
    body = s3.get_object(Bucket="master.scopeb-data", Key="secret.txt")["Body"].read()
    assert body == secret.read_bytes()
    assert s3.get_object(Bucket="master.scopeshared", Key="out.txt")["Body"].read() == b"out"
    keys = json.loads(k.ok("auth", "s3-credentials", "--list", "--json"))
    assert {c["access_key"]: c["scope"] for c in keys}[gateway.key] == "*"
    assert "scope" in k.ok("auth", "s3-credentials", "--list")
