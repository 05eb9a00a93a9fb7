"""Conditional writes (If-None-Match: *, If-Match) with real boto3: the check and the commit
are one step, so a writer that relies on them as its commit lock (Delta Lake, Iceberg) gets
exactly one winner."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Gateway
from .test_gateway import code, commits

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def test_put_if_none_match_and_if_match(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.cond")
    first = s3.put_object(Bucket="master.cond", Key="log/0.json", Body=b"v1", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="master.cond", Key="log/0.json", Body=b"v2", IfNoneMatch="*")
    assert code(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="master.cond", Key="log/0.json", Body=b"v2", IfMatch='"0123abcd"')
    assert code(exc) == ("PreconditionFailed", 412)
    got = s3.get_object(Bucket="master.cond", Key="log/0.json")["Body"].read()
    assert got == b"v1" and len(commits(gateway, "cond")) == 1
    second = s3.put_object(
        Bucket="master.cond", Key="log/0.json", Body=b"v2", IfMatch=first["ETag"]
    )
    assert s3.get_object(Bucket="master.cond", Key="log/0.json")["ETag"] == second["ETag"]
    with pytest.raises(ClientError) as exc:  # If-Match on nothing: AWS answers 404
        s3.put_object(Bucket="master.cond", Key="log/none", Body=b"x", IfMatch=first["ETag"])
    assert code(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:  # If-None-Match with ETags: none may match
        s3.put_object(Bucket="master.cond", Key="log/0.json", Body=b"x", IfNoneMatch=second["ETag"])
    assert code(exc) == ("PreconditionFailed", 412)
    s3.put_object(Bucket="master.cond", Key="log/0.json", Body=b"v3", IfNoneMatch=first["ETag"])
    since = gateway.client()  # If-Modified-Since on a write: refused, not ignored

    def add_since(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["If-Modified-Since"] = "Sat, 01 Jan 2000 00:00:00 GMT"

    since.meta.events.register("before-call.s3.PutObject", add_since)
    with pytest.raises(ClientError) as exc:
        since.put_object(Bucket="master.cond", Key="log/0.json", Body=b"x")
    assert code(exc) == ("NotImplemented", 501)
    since.close()
    assert len(commits(gateway, "cond")) == 3


def test_delete_if_match(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.conddel")
    put = s3.put_object(Bucket="master.conddel", Key="k", Body=b"data")
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket="master.conddel", Key="k", IfMatch='"ffffffff"')
    assert code(exc) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="master.conddel", Key="k")["Body"].read() == b"data"
    s3.delete_object(Bucket="master.conddel", Key="k", IfMatch=put["ETag"])
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="master.conddel", Key="k")
    assert code(exc)[1] == 404
    history = len(commits(gateway, "conddel"))
    s3.delete_object(Bucket="master.conddel", Key="k", IfMatch=put["ETag"])  # gone: 204
    s3.put_object(Bucket="master.conddel", Key="k", Body=b"data")
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket="master.conddel", Key="k", IfMatchSize=5)
    assert code(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.delete_object(
            Bucket="master.conddel", Key="k", IfMatchLastModifiedTime=datetime(2015, 1, 1)
        )
    assert code(exc) == ("PreconditionFailed", 412)
    s3.delete_object(Bucket="master.conddel", Key="k", IfMatchSize=4)
    s3.put_object(Bucket="master.conddel", Key="k", Body=b"data")
    modified = s3.head_object(Bucket="master.conddel", Key="k")["LastModified"]
    s3.delete_object(Bucket="master.conddel", Key="k", IfMatchLastModifiedTime=modified)
    assert len(commits(gateway, "conddel")) == history + 4


def test_copy_and_complete_are_conditional(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.condmp")
    s3.put_object(Bucket="master.condmp", Key="src", Body=b"source")
    dest = s3.put_object(Bucket="master.condmp", Key="dest", Body=b"dest")
    source = {"Bucket": "master.condmp", "Key": "src"}
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket="master.condmp", Key="dest", CopySource=source, IfNoneMatch="*")
    assert code(exc) == ("PreconditionFailed", 412)
    s3.copy_object(Bucket="master.condmp", Key="dest", CopySource=source, IfMatch=dest["ETag"])
    assert s3.get_object(Bucket="master.condmp", Key="dest")["Body"].read() == b"source"

    def upload(key: str, **cond: str) -> dict[str, Any]:
        up = s3.create_multipart_upload(Bucket="master.condmp", Key=key)["UploadId"]
        part = s3.upload_part(
            Bucket="master.condmp", Key=key, UploadId=up, PartNumber=1, Body=b"parts"
        )
        done: dict[str, Any] = s3.complete_multipart_upload(
            Bucket="master.condmp",
            Key=key,
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            **cond,
        )
        return done

    with pytest.raises(ClientError) as exc:
        upload("dest", IfNoneMatch="*")
    assert code(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        upload("dest", IfMatch='"00000000000000000000000000000000"')
    assert code(exc) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="master.condmp", Key="dest")["Body"].read() == b"source"
    upload("fresh", IfNoneMatch="*")
    assert s3.get_object(Bucket="master.condmp", Key="fresh")["Body"].read() == b"parts"


def test_concurrent_if_none_match_has_one_winner(gateway: Gateway) -> None:
    setup = gateway.client()
    setup.create_bucket(Bucket="master.race")
    before = len(commits(gateway, "race"))
    writers = 24
    clients = [gateway.client() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        body = f"writer {i}".encode() * 50
        barrier.wait()
        try:
            clients[i].put_object(
                Bucket="master.race", Key="_delta_log/00001.json", Body=body, IfNoneMatch="*"
            )
            result = (i, "won")
        except ClientError as exc:
            err = exc.response
            result = (i, f"{err['Error']['Code']} {err['ResponseMetadata']['HTTPStatusCode']}")
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, what in outcomes if what == "won"]
    assert len(winners) == 1, outcomes
    assert {what for _, what in outcomes if what != "won"} == {"PreconditionFailed 412"}
    got = setup.get_object(Bucket="master.race", Key="_delta_log/00001.json")["Body"].read()
    assert got == f"writer {winners[0]}".encode() * 50
    assert len(commits(gateway, "race")) == before + 1
    for c in [setup, *clients]:
        c.close()


def test_conditional_write_in_a_transaction_is_refused(s3: Any) -> None:
    s3.create_bucket(Bucket="master.condtx")
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket="master.condtx",
            Key="a",
            Body=b"x",
            IfNoneMatch="*",
            Metadata={"kaon-transaction": "t1"},
        )
    assert code(exc) == ("NotImplemented", 501)
    assert "transaction" in exc.value.response["Error"]["Message"]


def test_delete_objects_with_etags_refused(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.condmany")
    put = s3.put_object(Bucket="master.condmany", Key="k", Body=b"k")
    with pytest.raises(ClientError) as exc:  # per-object conditions: refused, not ignored
        s3.delete_objects(
            Bucket="master.condmany",
            Delete={"Objects": [{"Key": "k", "ETag": '"00000000000000000000000000000000"'}]},
        )
    assert code(exc) == ("NotImplemented", 501)
    assert s3.get_object(Bucket="master.condmany", Key="k")["ETag"] == put["ETag"]
