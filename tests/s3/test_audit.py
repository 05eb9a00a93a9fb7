"""S3 writes through boto3 land in the audit log (`S3 <Operation>`, the key's owner, bucket/key,
status), refused ones too (an unknown key, a bad signature); reads and UploadPart do not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Gateway

pytestmark = pytest.mark.e2e


def test_s3_writes_are_audited(gateway: Gateway, s3: Any) -> None:
    gateway.kaon.ok("workspace", "create", "-n", "s3aud")
    s3.create_bucket(Bucket="master.audrepo")
    put = s3.put_object(Bucket="master.audrepo", Key="a/x.txt", Body=b"hello")
    s3.get_object(Bucket="master.audrepo", Key="a/x.txt")  # a read: not recorded
    s3.delete_object(Bucket="master.audrepo", Key="a/x.txt")
    s3.create_bucket(Bucket="master.s3aud-data")  # a workspace's internal repo
    s3.put_object(Bucket="master.s3aud-data", Key="in.csv", Body=b"a,b\n")
    big = s3.create_multipart_upload(Bucket="master.audrepo", Key="big.bin")
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket="master.audrepo",
                Key="big.bin",
                UploadId=big["UploadId"],
                PartNumber=n,
                Body=b"x" * (5 * 1024 * 1024 if n == 1 else 10),
            )["ETag"],
        }
        for n in (1, 2)
    ]
    s3.complete_multipart_upload(
        Bucket="master.audrepo",
        Key="big.bin",
        UploadId=big["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    stranger = gateway.client(key="KAONNOSUCHKEY0000000", secret="x" * 40)
    with pytest.raises(ClientError) as unknown:
        stranger.put_object(Bucket="master.audrepo", Key="evil.txt", Body=b"x")
    forged = gateway.client(secret="y" * 40)
    with pytest.raises(ClientError) as bad_signature:
        forged.delete_object(Bucket="master.audrepo", Key="big.bin")
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert bad_signature.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    with gateway.kaon.client() as c:
        owner = next(k.owner for k in c.list_s3_credentials() if k.access_key == gateway.key)
        entries = c.audit(action="S3 ")
    got = [(e.action, e.target, e.status) for e in reversed(entries)]
    assert got == [
        ("S3 CreateBucket", "master.audrepo", 200),
        ("S3 PutObject", "master.audrepo/a/x.txt", 200),
        ("S3 DeleteObject", "master.audrepo/a/x.txt", 204),
        ("S3 CreateBucket", "master.s3aud-data", 200),
        ("S3 PutObject", "master.s3aud-data/in.csv", 200),
        ("S3 CreateMultipartUpload", "master.audrepo/big.bin", 200),
        ("S3 CompleteMultipartUpload", "master.audrepo/big.bin", 200),
        ("S3 PutObject", "master.audrepo/evil.txt", 403),
        ("S3 DeleteObject", "master.audrepo/big.bin", 403),
    ]
    first = entries[-1]
    assert [e.user for e in reversed(entries)] == [owner] * 7 + ["", ""]
    assert [e.workspace for e in reversed(entries)] == [None] * 3 + ["s3aud"] * 2 + [None] * 4
    assert first.detail["key"] == gateway.key
    put_entry = entries[-2]
    assert put_entry.action == "S3 PutObject"
    assert put_entry.detail["commit"] == put["ResponseMetadata"]["HTTPHeaders"]["x-kaon-commit"]
    assert entries[1].detail["key"] == "KAONNOSUCHKEY0000000"  # the key a refused one claimed
    assert entries[0].detail["key"] == gateway.key
    assert gateway.key in json.dumps(entries[0].detail)
