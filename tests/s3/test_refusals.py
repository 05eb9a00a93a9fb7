"""What the gateway does not implement is refused with 501 NotImplemented (AWS's error XML,
naming the header or sub-resource), never accepted and dropped: encryption, ACLs, storage
classes, tagging, object lock, website redirects, and sub-resources it does not route."""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import Gateway
from .test_gateway import code, commits

pytestmark = pytest.mark.e2e
KEY = os.urandom(32)


def not_implemented(exc: pytest.ExceptionInfo[ClientError], header: str) -> None:
    err = exc.value.response
    assert code(exc) == ("NotImplemented", 501), err
    assert header.lower() in err["Error"]["Message"].lower(), err["Error"]["Message"]


def signed(
    gateway: Gateway, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, bytes]:
    """A SigV4-signed request with any query string, sent with urllib."""
    url = gateway.url + path
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(gateway.key, gateway.secret), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(
        prepared.url, data=body or None, method=method, headers=dict(prepared.headers)
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


@pytest.mark.parametrize(
    ("params", "header"),
    [
        ({"ServerSideEncryption": "AES256"}, "x-amz-server-side-encryption"),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"}, "x-amz-server-side-encryption"),
        ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}, "customer"),
        ({"ACL": "public-read"}, "x-amz-acl"),
        ({"GrantRead": 'id="someone"'}, "x-amz-grant-read"),
        ({"StorageClass": "GLACIER"}, "x-amz-storage-class"),
        ({"Tagging": "team=ml"}, "x-amz-tagging"),
        ({"ObjectLockLegalHoldStatus": "ON"}, "x-amz-object-lock-legal-hold"),
        ({"WebsiteRedirectLocation": "/elsewhere"}, "x-amz-website-redirect-location"),
        ({"ExpectedBucketOwner": "123456789012"}, "x-amz-expected-bucket-owner"),
    ],
)
def test_put_promises_refused(
    gateway: Gateway, s3: Any, params: dict[str, Any], header: str
) -> None:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="master.promise")
    before = len(commits(gateway, "promise"))
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="master.promise", Key="secret.bin", Body=b"s" * 100, **params)
    not_implemented(exc, header)
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket="master.promise", Key="mp.bin", **params)
    not_implemented(exc, header)
    s3.put_object(Bucket="master.promise", Key="src", Body=b"src")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket="master.promise",
            Key="copy",
            CopySource={"Bucket": "master.promise", "Key": "src"},
            **params,
        )
    not_implemented(exc, header)
    assert len(commits(gateway, "promise")) == before + 1  # only the plain put of src
    assert s3.list_multipart_uploads(Bucket="master.promise").get("Uploads", []) == []


def test_harmless_values_accepted(s3: Any) -> None:
    s3.create_bucket(Bucket="master.harmless", ACL="private")
    s3.put_object(
        Bucket="master.harmless",
        Key="k",
        Body=b"k",
        ACL="private",
        StorageClass="STANDARD",
        RequestPayer="requester",
    )
    s3.put_object(Bucket="master.harmless", Key="b", Body=b"b", ACL="bucket-owner-full-control")
    source = {"Bucket": "master.harmless", "Key": "k"}
    s3.copy_object(Bucket="master.harmless", Key="c", CopySource=source, TaggingDirective="COPY")
    got = s3.get_object(Bucket="master.harmless", Key="c")
    assert got["Body"].read() == b"k" and got.get("StorageClass", "STANDARD") == "STANDARD"


def test_sse_c_get_and_bucket_promises(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.ssec")
    s3.put_object(Bucket="master.ssec", Key="plain", Body=b"plain")
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as exc:
            call(
                Bucket="master.ssec", Key="plain", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY
            )
        assert code(exc)[1] == 501  # HEAD answers without a body, so no message to check
    with pytest.raises(ClientError) as exc:
        s3.get_object(
            Bucket="master.ssec", Key="plain", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY
        )
    not_implemented(exc, "x-amz-server-side-encryption-customer-algorithm")
    for params in ({"ACL": "public-read"}, {"ObjectLockEnabledForBucket": True}):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket="master.notmade", **params)
        assert code(exc) == ("NotImplemented", 501)
    assert "notmade" not in gateway.kaon.ok("list", "repo")


def test_error_xml_names_the_header(gateway: Gateway) -> None:
    status, body = signed(
        gateway, "PUT", "/master.xmlshape", b"", **{"x-amz-acl": "public-read-write"}
    )
    doc = ET.fromstring(body)
    assert status == 501 and doc.findtext("Code") == "NotImplemented"
    assert doc.findtext("Header") == "x-amz-acl" and doc.findtext("RequestId")
    assert "x-amz-acl" in (doc.findtext("Message") or "")


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("PUT", "versioning"),
        ("PUT", "metadataTable"),
        ("PUT", "location"),
        ("PUT", "uploads"),
        ("PUT", "delete"),
        ("PUT", "x-unknown-subresource"),
        ("PUT", "acl"),
        ("GET", "session"),
        ("GET", "policy"),
        ("POST", "uploads"),
        ("DELETE", "versioning"),
    ],
)
def test_bucket_subresources_routed(gateway: Gateway, method: str, query: str) -> None:
    name = f"sub{query.lower().replace('-', '')[:20]}{method.lower()}"
    status, body = signed(gateway, method, f"/master.{name}?{query}", b"")
    assert status == 501, body
    doc = ET.fromstring(body)
    assert doc.findtext("Code") == "NotImplemented"
    assert query in (doc.findtext("Message") or ""), body
    assert name not in gateway.kaon.ok("list", "repo")  # nothing created


def test_object_subresources_routed(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.objsub")
    first = s3.put_object(Bucket="master.objsub", Key="k", Body=b"one")
    s3.put_object(Bucket="master.objsub", Key="k", Body=b"two")
    with pytest.raises(ClientError) as exc:  # deleting one version is not deleting the key
        s3.delete_object(Bucket="master.objsub", Key="k", VersionId=first["VersionId"])
    assert code(exc) == ("NotImplemented", 501)
    for method, query in (
        ("PUT", "renameObject"),
        ("PUT", "versioning"),
        ("GET", "location"),
        ("POST", "restore"),
        ("DELETE", "tagging"),
        ("PUT", "versionId=abc"),
        ("POST", "delete"),
    ):
        status, body = signed(gateway, method, f"/master.objsub/k?{query}", b"")
        assert status == 501, (method, query, body)
        assert query.split("=")[0] in body.decode(), body
    assert s3.get_object(Bucket="master.objsub", Key="k")["Body"].read() == b"two"
    assert len(commits(gateway, "objsub")) == 2
