"""Two users on one platform, through the S3 gateway with real boto3 (issue 13, users and
roles): a key acts for the user who made it. User B's key reaches nothing of user A's
workspace — every request is AccessDenied and ListBuckets shows none of it — until A shares
it: a viewer's key lists and gets, an editor's puts too.

The users are made in the platform's database through the UserService the API uses (what
`kaon user add` and `kaon workspace share` do); their keys with `kaon auth s3-credentials`
and the user's token in KAON_TOKEN."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kaon.core.users import Role
from kaon.db.database import Database
from kaon.services.users import UserService

from .conftest import Gateway

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def users(gateway: Gateway) -> Iterator[UserService]:
    db = Database(f"sqlite:///{gateway.kaon.home / 'kaon.db'}")
    store = db.users
    try:
        yield UserService(store, time.time)
    finally:
        db.close()


def user_client(gateway: Gateway, users: UserService, name: str) -> tuple[Any, str]:
    """A new user `name`, their token and a boto3 client with a key they made."""
    _, token = users.add(name)
    out = gateway.kaon.ok("auth", "s3-credentials", "--json", env={"KAON_TOKEN": token})
    cred = json.loads(out)
    assert cred["user"] == name
    return gateway.client(cred["access_key"], cred["secret"]), token


def outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return f"{status} {exc.response['Error'].get('Code')}"
    return "ok"


def attempts(s3: Any) -> dict[str, Callable[[], Any]]:
    """Every kind of request on workspace wa's data bucket (and its other internal repos)."""
    wa = "master.wa-data"
    return {
        "get": lambda: s3.get_object(Bucket=wa, Key="secret.txt"),
        "head object": lambda: s3.head_object(Bucket=wa, Key="secret.txt"),
        "head bucket": lambda: s3.head_bucket(Bucket=wa),
        "list": lambda: s3.list_objects_v2(Bucket=wa),
        "lakefs get": lambda: s3.get_object(Bucket="wa-data", Key="master/secret.txt"),
        "put": lambda: s3.put_object(Bucket=wa, Key="secret.txt", Body=b"pwned"),
        "delete": lambda: s3.delete_object(Bucket=wa, Key="secret.txt"),
        "delete many": lambda: s3.delete_objects(
            Bucket=wa, Delete={"Objects": [{"Key": "secret.txt"}]}
        ),
        "copy out": lambda: s3.copy_object(
            Bucket="master.sharedrepo",
            Key="stolen.txt",
            CopySource={"Bucket": wa, "Key": "secret.txt"},
        ),
        "copy in": lambda: s3.copy_object(
            Bucket=wa, Key="secret.txt", CopySource={"Bucket": "master.sharedrepo", "Key": "x"}
        ),
        "multipart": lambda: s3.create_multipart_upload(Bucket=wa, Key="big"),
        "uploads": lambda: s3.list_multipart_uploads(Bucket=wa),
        "create bucket": lambda: s3.create_bucket(Bucket="wa-models"),
        "create branch bucket": lambda: s3.create_bucket(Bucket="dev.wa-data"),
    }


def test_a_users_key_reaches_a_workspace_only_with_a_role(
    gateway: Gateway, users: UserService
) -> None:
    k = gateway.kaon
    alice, alice_token = user_client(gateway, users, "alice")
    bob, _ = user_client(gateway, users, "bob")
    k.ok("workspace", "create", "-n", "wa", env={"KAON_TOKEN": alice_token})
    alice.create_bucket(Bucket="master.wa-data")  # the workspace's repo gets its branch
    alice.create_bucket(Bucket="master.sharedrepo")  # a shared repo: any user may create it
    alice.put_object(Bucket="master.wa-data", Key="secret.txt", Body=b"alice's secret")
    alice.put_object(Bucket="master.sharedrepo", Key="x", Body=b"shared")
    before = k.json("list", "commit", "wa-data@master")

    refused = {name: outcome(call) for name, call in attempts(bob).items()}
    # a HEAD answer has no body: boto3 names the error by the status alone
    assert refused == {n: "403 403" if "head" in n else "403 AccessDenied" for n in refused}
    with pytest.raises(ClientError) as caught:
        bob.get_object(Bucket="master.wa-data", Key="secret.txt")
    message = caught.value.response["Error"]["Message"]
    assert "user 'bob' has no role" in message and "alice" not in message
    assert not [b["Name"] for b in bob.list_buckets()["Buckets"] if "wa" in b["Name"]]
    assert "master.sharedrepo" in [b["Name"] for b in bob.list_buckets()["Buckets"]]
    assert k.json("list", "commit", "wa-data@master") == before  # nothing of wa changed
    assert outcome(lambda: bob.get_object(Bucket="master.sharedrepo", Key="x")) == "ok"

    users.share("wa", "bob", Role.VIEWER)
    body = bob.get_object(Bucket="master.wa-data", Key="secret.txt")["Body"].read()
    assert body == b"alice's secret"
    listed = bob.list_objects_v2(Bucket="master.wa-data")["Contents"]
    assert [o["Key"] for o in listed] == ["secret.txt"]
    assert outcome(lambda: bob.head_bucket(Bucket="master.wa-data")) == "ok"
    for name in ("put", "delete", "copy in", "multipart", "create branch bucket"):
        assert outcome(attempts(bob)[name]) == "403 AccessDenied", name
    with pytest.raises(ClientError) as caught:
        bob.put_object(Bucket="master.wa-data", Key="b.txt", Body=b"b")
    assert "viewer" in caught.value.response["Error"]["Message"]
    assert k.json("list", "commit", "wa-data@master") == before

    users.share("wa", "bob", Role.EDITOR)
    bob.put_object(Bucket="master.wa-data", Key="from-bob.txt", Body=b"bob's")
    (last, *_) = k.json("list", "commit", "wa-data@master")
    assert last["author"] == "bob"  # a user's key writes as its user


def test_the_platform_tokens_key_is_the_admins(gateway: Gateway, users: UserService) -> None:
    """`kaon auth s3-credentials` with the platform token: the first admin's key, every
    workspace."""
    k = gateway.kaon
    if "carol" not in [u.name for u in users.all()]:
        _, token = users.add("carol")
        k.ok("workspace", "create", "-n", "wc", env={"KAON_TOKEN": token})
    admin = gateway.client()
    admin.create_bucket(Bucket="master.wc-data")
    admin.put_object(Bucket="master.wc-data", Key="by-admin.txt", Body=b"admin")
    listed = json.loads(k.ok("auth", "s3-credentials", "--list", "--json"))
    keys = {c["access_key"]: c for c in listed}
    assert keys[gateway.key]["user"] == next(u.name for u in users.all() if u.admin)


def test_a_key_made_with_a_jobs_token_is_narrowed_to_the_jobs_workspace(
    gateway: Gateway, users: UserService
) -> None:
    """A job acts as its owner only in its own workspace: an S3 key it makes with its API
    token is the job's (narrowed, revoked with it), even where its owner is an editor."""
    k = gateway.kaon
    _, token = users.add("dave")
    k.ok("workspace", "create", "-n", "wd", env={"KAON_TOKEN": token})
    k.ok("workspace", "create", "-n", "wz")  # the admin's; dave becomes an editor of it
    users.share("wz", "dave", Role.EDITOR)
    job = "d" * 32
    _, job_token = users.create_token("dave", "job dddddddd", workspace="wd", job=job)
    cred = json.loads(k.ok("auth", "s3-credentials", "--json", env={"KAON_TOKEN": job_token}))
    assert (cred["user"], cred["job"], cred["scope"]) == ("dave", job, "workspace:wd")
    assert cred["owner"] == "job dddddddd (dave)"
    as_job = gateway.client(cred["access_key"], cred["secret"])
    as_job.create_bucket(Bucket="master.wd-data")
    as_job.put_object(Bucket="master.wd-data", Key="model.bin", Body=b"m")
    gateway.client().create_bucket(Bucket="master.wz-data")
    for call in (
        lambda: as_job.put_object(Bucket="master.wz-data", Key="x", Body=b"x"),
        lambda: as_job.list_objects_v2(Bucket="master.wz-data"),
    ):
        assert outcome(call) == "403 AccessDenied"
    own = json.loads(k.ok("auth", "s3-credentials", "--json", env={"KAON_TOKEN": token}))
    as_dave = gateway.client(own["access_key"], own["secret"])
    as_dave.put_object(Bucket="master.wz-data", Key="x", Body=b"x")  # dave himself may
