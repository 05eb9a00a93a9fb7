"""A workspace's internal repos (`<ws>-data`, `<ws>-models`, ...) are its own from the start:
a job cannot create one of a workspace to come through the S3 gateway, and `workspace create`
refuses to adopt a repo it did not make (issue 13: data planted before the workspace existed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon
from .test_job_lifetime import SILENT, deploy, poll
from .test_train import ws

pytestmark = pytest.mark.e2e


def s3_client(endpoint: str, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_a_job_cannot_create_the_repo_of_a_future_workspace(kaon: Kaon, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    env = ws(kaon, "squatter")
    job = deploy(kaon, env, tmp_path, SILENT)
    keys = kaon.home / "jobs" / job / "trials" / "0" / "home" / "s3.env"
    try:
        poll("the trial runs", lambda: keys.exists() and keys.read_text().count("\n") >= 3)
        s3env = dict(line.split("=", 1) for line in keys.read_text().splitlines())
        s3 = s3_client(
            s3env["AWS_ENDPOINT_URL"], s3env["AWS_ACCESS_KEY_ID"], s3env["AWS_SECRET_ACCESS_KEY"]
        )
        for bucket in ("futurews-data", "master.futurews-models"):
            with pytest.raises(ClientError) as denied:
                s3.create_bucket(Bucket=bucket)
            error = denied.value.response["Error"]
            assert error["Code"] == "AccessDenied", error
            assert "futurews" in error["Message"] and "workspace" in error["Message"], error
        s3.create_bucket(Bucket="squatter-results")  # any other shared repo: still allowed
    finally:
        kaon.ok("train", "kill", "-j", job, env=env)
    assert "futurews-data" not in {r["name"] for r in kaon.json("list", "repo", "--all")}
    kaon.ok("workspace", "create", "-n", "futurews")


def test_workspace_create_refuses_a_repo_it_did_not_make(kaon: Kaon) -> None:
    cred: dict[str, Any] = kaon.json("auth", "s3-credentials")
    s3 = s3_client(cred["endpoint"], cred["access_key"], cred["secret"])
    s3.create_bucket(Bucket="planted-models")  # a full (user's) key may create any repo
    s3.put_object(Bucket="master.planted-models", Key="model/weights.bin", Body=b"evil")
    kaon.ok("repo", "create", "planted-feedback")
    out = kaon.fails(5, "workspace", "create", "-n", "planted")
    assert "planted-models" in out and "kaon repo delete planted-models" in out, out
    assert len(out.strip().splitlines()) == 1, out
    doc = json.loads(kaon.ok("workspace", "list", "--json"))
    assert "planted" not in json.dumps(doc)  # nothing was created
    kaon.ok("repo", "delete", "planted-models")
    out = kaon.fails(5, "workspace", "create", "-n", "planted")
    assert "planted-feedback" in out, out  # an empty one made by someone else is refused too
    kaon.ok("repo", "delete", "planted-feedback")
    kaon.ok("workspace", "create", "-n", "planted")
    kaon.ok("workspace", "kill", "-y", "-w", "planted")
    kaon.ok("workspace", "create", "-n", "planted")  # after a kill the names are free again
