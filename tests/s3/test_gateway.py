"""The S3 gateway end to end: a real server, real boto3 / s3fs / aws-cli clients."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Gateway

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def commits(gateway: Gateway, repo: str, ref: str = "master") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = gateway.kaon.json("list", "commit", f"{repo}@{ref}")
    return out


def test_buckets(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.buckets")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"buckets", "master.buckets"} <= names
    s3.head_bucket(Bucket="master.buckets")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="master.buckets")
    assert code(exc) == ("BucketAlreadyOwnedByYou", 409)
    s3.create_bucket(Bucket="dev.buckets")  # a new branch of the same repo
    assert "dev" in gateway.kaon.ok("list", "branch", "buckets")
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket="master.nosuchrepo")
    assert code(exc)[1] == 404
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket="nobranch.buckets")
    assert code(exc) == ("NoSuchBucket", 404)


def test_put_get_head_delete_each_a_commit(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.crud")
    put = s3.put_object(Bucket="master.crud", Key="data/x.csv", Body=b"a,b\n1,2\n")
    got = s3.get_object(Bucket="master.crud", Key="data/x.csv")
    assert got["Body"].read() == b"a,b\n1,2\n" and got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/csv" and got["VersionId"] == put["VersionId"]
    head = s3.head_object(Bucket="master.crud", Key="data/x.csv")
    assert head["ContentLength"] == 8 and head["ETag"] == put["ETag"]
    s3.put_object(Bucket="master.crud", Key="data/x.csv", Body=b"changed")
    s3.delete_object(Bucket="master.crud", Key="data/x.csv")
    s3.delete_object(Bucket="master.crud", Key="data/never")  # S3: 204 anyway, no commit
    history = commits(gateway, "crud")
    assert len(history) == 3
    assert [c["parent"] for c in history] == [history[1]["id"], history[2]["id"], None]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.crud", Key="data/x.csv")
    assert code(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="master.crud", Key="data")  # a directory is not an object
    assert code(exc)[1] == 404
    # the first version is still there, read-only, three ways
    first = history[-1]["id"]
    for bucket, key in ((f"{first}.master.crud", "data/x.csv"), ("crud", f"{first}/data/x.csv")):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"a,b\n1,2\n"
    old = s3.get_object(Bucket="master.crud", Key="data/x.csv", VersionId=first)
    assert old["Body"].read() == b"a,b\n1,2\n"
    for bucket, key in ((f"{first}.master.crud", "y"), ("crud", f"{first}/y")):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key=key, Body=b"no")
        assert code(exc) == ("AccessDenied", 403)
    assert len(commits(gateway, "crud")) == 3


def test_ranges_and_conditions(s3: Any) -> None:
    s3.create_bucket(Bucket="master.ranges")
    data = os.urandom(3 * MiB + 17)  # several chunks: ranges cross chunk borders
    etag = s3.put_object(Bucket="master.ranges", Key="blob", Body=data)["ETag"]
    for spec, want in (
        ("bytes=0-9", data[:10]),
        ("bytes=1048570-2097160", data[1048570:2097161]),
        ("bytes=-100", data[-100:]),
        ("bytes=3145700-", data[3145700:]),
        ("bytes=0-99999999", data),
    ):
        part = s3.get_object(Bucket="master.ranges", Key="blob", Range=spec)
        assert part["Body"].read() == want, spec
        assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.ranges", Key="blob", Range=f"bytes={len(data)}-")
    assert code(exc) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.ranges", Key="blob", IfNoneMatch=etag)
    assert code(exc)[1] == 304
    assert s3.get_object(Bucket="master.ranges", Key="blob", IfMatch=etag)["ContentLength"] == len(
        data
    )
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.ranges", Key="blob", IfMatch='"0000"')
    assert code(exc) == ("PreconditionFailed", 412)
    same = s3.put_object(Bucket="master.ranges", Key="copy-of-blob", Body=data)["ETag"]
    assert same == etag  # the ETag is a content hash


def test_listings(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.lists")
    keys = [f"data/{d}/{i:03d}.csv" for d in ("a", "b") for i in range(7)] + [
        "data/top.txt",
        "readme",
    ]
    with gateway.kaon.home.joinpath("f").open("w") as f:
        f.write("x")
    for key in keys[:3]:
        s3.put_object(Bucket="master.lists", Key=key, Body=key.encode())
    # the rest in ONE commit, through a transaction
    tx = {"Metadata": {"kaon-transaction": "bulk1"}}
    before = len(commits(gateway, "lists"))
    for key in keys[3:]:
        s3.put_object(Bucket="master.lists", Key=key, Body=key.encode(), **tx)
    assert len(s3.list_objects_v2(Bucket="master.lists").get("Contents", [])) == 3  # staged
    s3.put_object(Bucket="master.lists", Key=".kaon-commit", Body=b"", **tx)
    assert len(commits(gateway, "lists")) == before + 1
    top = s3.list_objects_v2(Bucket="master.lists", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/"]
    assert [o["Key"] for o in top["Contents"]] == ["readme"]
    sub = s3.list_objects_v2(Bucket="master.lists", Prefix="data/", Delimiter="/")
    assert [p["Prefix"] for p in sub["CommonPrefixes"]] == ["data/a/", "data/b/"]
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="master.lists", PaginationConfig={"PageSize": 4}
    )
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    v1 = s3.get_paginator("list_objects").paginate(
        Bucket="master.lists", Prefix="data/", Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    got = [(p.get("CommonPrefixes"), p.get("Contents")) for p in v1]
    assert len(got) == 3
    after = s3.list_objects_v2(Bucket="master.lists", StartAfter="data/b/005.csv")
    assert [o["Key"] for o in after["Contents"]] == ["data/b/006.csv", "data/top.txt", "readme"]
    lake = s3.list_objects_v2(Bucket="lists", Delimiter="/")
    assert [p["Prefix"] for p in lake["CommonPrefixes"]] == ["master/"]
    lake = s3.list_objects_v2(Bucket="lists", Prefix="master/data/a/", MaxKeys=2)
    assert [o["Key"] for o in lake["Contents"]] == [
        "master/data/a/000.csv",
        "master/data/a/001.csv",
    ]
    assert lake["IsTruncated"]


def test_copy_and_delete_objects(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.copies")
    s3.put_object(Bucket="master.copies", Key="a.txt", Body=b"AAA")
    s3.copy_object(
        Bucket="master.copies",
        Key="b/a-copy.txt",
        CopySource={"Bucket": "master.copies", "Key": "a.txt"},
    )
    assert s3.get_object(Bucket="master.copies", Key="b/a-copy.txt")["Body"].read() == b"AAA"
    s3.create_bucket(Bucket="master.elsewhere")
    s3.copy_object(Bucket="master.elsewhere", Key="x", CopySource="master.copies/a.txt")
    assert s3.get_object(Bucket="master.elsewhere", Key="x")["Body"].read() == b"AAA"
    n = len(commits(gateway, "copies"))
    out = s3.delete_objects(
        Bucket="master.copies",
        Delete={"Objects": [{"Key": "a.txt"}, {"Key": "b/a-copy.txt"}, {"Key": "missing"}]},
    )
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a.txt", "b/a-copy.txt", "missing"]
    assert len(commits(gateway, "copies")) == n + 1  # one commit for the lot
    assert "Contents" not in s3.list_objects_v2(Bucket="master.copies")


def test_multipart(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.parts")
    data = os.urandom(20 * MiB + 5)
    s3.upload_fileobj(io.BytesIO(data), "master.parts", "big/blob.bin")  # 8 MiB parts
    got = s3.get_object(Bucket="master.parts", Key="big/blob.bin")
    assert got["Body"].read() == data
    assert len(commits(gateway, "parts")) == 1
    # boto3's managed copy of a big object: multipart with UploadPartCopy
    s3.copy({"Bucket": "master.parts", "Key": "big/blob.bin"}, "master.parts", "big/copy.bin")
    copy = s3.head_object(Bucket="master.parts", Key="big/copy.bin")
    assert copy["ETag"] == got["ETag"] and copy["ContentLength"] == len(data)
    assert len(commits(gateway, "parts")) == 2
    # an interrupted upload leaves nothing visible, and abort removes its parts
    up = s3.create_multipart_upload(Bucket="master.parts", Key="half.bin")["UploadId"]
    part = s3.upload_part(
        Bucket="master.parts", Key="half.bin", UploadId=up, PartNumber=1, Body=b"x" * 5 * MiB
    )
    listed = s3.list_parts(Bucket="master.parts", Key="half.bin", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, part["ETag"], 5 * MiB)]
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="master.parts", Key="half.bin")
    assert code(exc)[1] == 404
    with pytest.raises(ClientError) as exc:  # a small part that is not the last
        s3.upload_part(Bucket="master.parts", Key="half.bin", UploadId=up, PartNumber=2, Body=b"y")
        s3.upload_part(Bucket="master.parts", Key="half.bin", UploadId=up, PartNumber=3, Body=b"z")
        s3.complete_multipart_upload(
            Bucket="master.parts",
            Key="half.bin",
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in s3_etags(s3, up)]},
        )
    assert code(exc) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket="master.parts", Key="half.bin", UploadId=up)
    # completed: answers kept (rows of the database), no part left (objects of the store)
    assert not [p for p in (gateway.kaon.home / "objects" / "uploads").rglob("*") if p.is_file()]
    with sqlite3.connect(gateway.kaon.home / "kaon.db") as db:
        left = db.execute("SELECT id, completed IS NOT NULL, answer FROM s3_uploads").fetchall()
    assert left and up not in {row[0] for row in left}
    assert all(done and answer for _, done, answer in left)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket="master.parts", Key="half.bin", UploadId=up)
    assert code(exc) == ("NoSuchUpload", 404)
    assert len(commits(gateway, "parts")) == 2


def s3_etags(s3: Any, upload: str) -> list[tuple[int, str]]:
    parts = s3.list_parts(Bucket="master.parts", Key="half.bin", UploadId=upload)["Parts"]
    return [(p["PartNumber"], p["ETag"]) for p in parts]


def test_auth(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.auth")
    s3.put_object(Bucket="master.auth", Key="k", Body=b"secret data")
    with pytest.raises(ClientError) as exc:
        gateway.client(secret="wrong" + gateway.secret[5:]).get_object(
            Bucket="master.auth", Key="k"
        )
    assert code(exc) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as exc:
        gateway.client(key="KAONNOSUCHKEY0000000").list_buckets()
    assert code(exc) == ("InvalidAccessKeyId", 403)
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(f"{gateway.url}/master.auth/k")
    body = http.value.read().decode()
    assert http.value.code == 403 and "<Code>AccessDenied</Code>" in body and "<RequestId>" in body
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": "master.auth", "Key": "k"})
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(v2)  # boto3's default presigning is SigV2: refused, clearly
    assert http.value.code == 400 and b"s3v4" in http.value.read()
    v4 = gateway.client(signature_version="s3v4")
    url = v4.generate_presigned_url(
        "get_object", Params={"Bucket": "master.auth", "Key": "k"}, ExpiresIn=60
    )
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"secret data"
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(url.replace("master.auth/k", "master.auth/j"))
    assert http.value.code == 403


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # aiohttp closes its sockets late
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_s3fs_reads(gateway: Gateway, s3: Any) -> None:
    import gc

    import s3fs

    s3.create_bucket(Bucket="master.inputrepo")
    s3.put_object(Bucket="master.inputrepo", Key="data/x.csv", Body=b"a,b\n1,2\n")
    fs = s3fs.S3FileSystem(key=gateway.key, secret=gateway.secret, endpoint_url=gateway.url)
    assert fs.cat("master.inputrepo/data/x.csv") == b"a,b\n1,2\n"
    assert fs.ls("master.inputrepo/data") == ["master.inputrepo/data/x.csv"]
    fs.pipe("master.inputrepo/data/y.csv", b"3,4\n")
    with fs.open("master.inputrepo/data/y.csv", "rb") as f:
        assert f.read() == b"3,4\n"
    assert fs.find("master.inputrepo") == [
        "master.inputrepo/data/x.csv",
        "master.inputrepo/data/y.csv",
    ]
    del fs, f
    s3fs.S3FileSystem.clear_instance_cache()
    gc.collect()  # the session's sockets go now, inside this test's warning filters


def test_aws_chunked_bodies(gateway: Gateway, s3: Any) -> None:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER (botocore's own encoder) and
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD (chunk signatures), sent raw."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

    from kaon.core.s3 import sigv4

    s3.create_bucket(Bucket="master.chunked")
    data = os.urandom(200_000)
    creds = Credentials(gateway.key, gateway.secret)

    def send(key: str, body: bytes, headers: dict[str, str], sign_chunks: bool = False) -> int:
        url = f"{gateway.url}/master.chunked/{key}"
        request = AWSRequest("PUT", url, data=body, headers=headers)
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
        if sign_chunks:
            auth = request.headers["Authorization"]
            seed = auth.rsplit("Signature=", 1)[1]
            amz = request.headers["X-Amz-Date"]
            scope = f"{amz[:8]}/us-east-1/s3/aws4_request"
            key_ = sigv4.signing_key(gateway.secret, amz[:8], "us-east-1", "s3")
            out, prev = b"", seed
            for piece in [data[i : i + 65536] for i in range(0, len(data), 65536)] + [b""]:
                h = sigv4.hashlib.sha256(piece).hexdigest()
                prev = sigv4.sign(key_, sigv4.chunk_string_to_sign(amz, scope, prev, h))
                out += f"{len(piece):x};chunk-signature={prev}\r\n".encode() + piece + b"\r\n"
            body = out
        prepared = urllib.request.Request(
            url, data=body, method="PUT", headers=dict(request.headers)
        )
        prepared.add_header("Content-Length", str(len(body)))
        try:
            with urllib.request.urlopen(prepared) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    wrapped = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32"
    ).read()
    trailer = {
        "X-Amz-Content-SHA256": sigv4.STREAMING_UNSIGNED_TRAILER,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }
    assert send("trailer.bin", wrapped, trailer) == 200
    assert s3.get_object(Bucket="master.chunked", Key="trailer.bin")["Body"].read() == data
    signed = {
        "X-Amz-Content-SHA256": sigv4.STREAMING_SIGNED,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }
    assert send("signed.bin", b"", signed, sign_chunks=True) == 200
    assert s3.get_object(Bucket="master.chunked", Key="signed.bin")["Body"].read() == data
    bad = bytearray(wrapped)
    bad[100] ^= 1  # the CRC32 trailer no longer matches
    assert send("bad.bin", bytes(bad), trailer) == 400
    with pytest.raises(ClientError):
        s3.head_object(Bucket="master.chunked", Key="bad.bin")


AWS = Path(sys.executable).with_name("aws")


@pytest.mark.skipif(not AWS.exists(), reason="the aws CLI (awscli, a dev dependency) is missing")
def test_aws_cli(gateway: Gateway, tmp_path: Path) -> None:
    aws = str(AWS)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": gateway.url,
        "AWS_ACCESS_KEY_ID": gateway.key,
        "AWS_SECRET_ACCESS_KEY": gateway.secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    folder = tmp_path / "up"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        (folder / name).write_text(name)

    def run(*args: str) -> str:
        p = subprocess.run([aws, *args], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    gateway.client().create_bucket(Bucket="master.awscli")
    run("s3", "cp", str(folder), "s3://master.awscli/up", "--recursive")
    run("s3", "sync", "s3://master.awscli/up", str(tmp_path / "down"))
    assert sorted(
        p.relative_to(tmp_path / "down").as_posix() for p in (tmp_path / "down").rglob("*.txt")
    ) == [
        "a.txt",
        "b.txt",
        "sub/c.txt",
    ]
    assert (tmp_path / "down" / "sub" / "c.txt").read_text() == "sub/c.txt"
