"""Object metadata and checksums are kept with the object (in its tree entry) and answered as
S3 does: GET/HEAD, CopyObject (COPY / REPLACE), multipart uploads, `kaon` itself."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import Gateway

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
HEADERS = {
    "ContentType": "text/x-kaon",
    "ContentDisposition": 'attachment; filename="a.txt"',
    "CacheControl": "max-age=60",
    "ContentLanguage": "fr",
}


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_metadata_and_standard_headers_are_kept(s3: Any) -> None:
    s3.create_bucket(Bucket="master.meta")
    s3.put_object(
        Bucket="master.meta",
        Key="a.txt",
        Body=b"hello",
        ContentEncoding="deflate, gzip",
        Metadata={"colour": "blue", "Mixed-Case": "V"},
        Expires="Thu, 01 Dec 2094 16:00:00 GMT",
        **HEADERS,
    )
    for got in (
        s3.head_object(Bucket="master.meta", Key="a.txt"),
        s3.get_object(Bucket="master.meta", Key="a.txt"),
    ):
        assert got["Metadata"] == {"colour": "blue", "mixed-case": "V"}
        for name, value in HEADERS.items():
            assert got[name] == value
        assert got["ContentEncoding"] == "deflate, gzip"  # boto3 adds aws-chunked: dropped
        assert got["ResponseMetadata"]["HTTPHeaders"]["expires"].endswith(
            "01 Dec 2094 16:00:00 GMT"
        )
    # an object without any keeps the guessed Content-Type and no metadata
    s3.put_object(Bucket="master.meta", Key="plain.csv", Body=b"a,b\n")
    got = s3.head_object(Bucket="master.meta", Key="plain.csv")
    assert got["ContentType"] == "text/csv" and got["Metadata"] == {}
    # a re-put of the same bytes with other metadata is a change
    s3.put_object(Bucket="master.meta", Key="plain.csv", Body=b"a,b\n", Metadata={"v": "2"})
    assert s3.head_object(Bucket="master.meta", Key="plain.csv")["Metadata"] == {"v": "2"}


def test_metadata_is_versioned_with_the_commit(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.metav")
    first = s3.put_object(Bucket="master.metav", Key="k", Body=b"x", Metadata={"v": "1"})
    s3.put_object(Bucket="master.metav", Key="k", Body=b"x", Metadata={"v": "2"})
    old = s3.head_object(Bucket="master.metav", Key="k", VersionId=first["VersionId"])
    assert old["Metadata"] == {"v": "1"}
    assert s3.head_object(Bucket="master.metav", Key="k")["Metadata"] == {"v": "2"}


def test_copy_keeps_or_replaces_metadata(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metacopy")
    s3.put_object(
        Bucket="master.metacopy", Key="src", Body=b"x", ContentType="audio/ogg", Metadata={"a": "1"}
    )
    src = {"Bucket": "master.metacopy", "Key": "src"}
    s3.copy_object(Bucket="master.metacopy", Key="copied", CopySource=src)
    got = s3.head_object(Bucket="master.metacopy", Key="copied")
    assert (got["ContentType"], got["Metadata"]) == ("audio/ogg", {"a": "1"})
    s3.copy_object(
        Bucket="master.metacopy",
        Key="replaced",
        CopySource=src,
        MetadataDirective="REPLACE",
        ContentType="audio/mpeg",
        Metadata={"b": "2"},
    )
    got = s3.head_object(Bucket="master.metacopy", Key="replaced")
    assert (got["ContentType"], got["Metadata"]) == ("audio/mpeg", {"b": "2"})
    with pytest.raises(ClientError) as exc:  # onto itself, changing nothing: refused, as S3
        s3.copy_object(Bucket="master.metacopy", Key="src", CopySource=src)
    assert code(exc) == ("InvalidRequest", 400)
    s3.copy_object(
        Bucket="master.metacopy",
        Key="src",
        CopySource=src,
        MetadataDirective="REPLACE",
        Metadata={"c": "3"},
    )
    assert s3.head_object(Bucket="master.metacopy", Key="src")["Metadata"] == {"c": "3"}


def _multipart(s3: Any, bucket: str, key: str, sizes: list[int], **create: Any) -> Any:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    parts = []
    for number, size in enumerate(sizes, 1):
        body = bytes([number]) * size
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    return upload, parts


def test_multipart_metadata_parts_and_idempotent_completion(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metamp")
    sizes = [5 * MiB, 1 * MiB]
    upload, parts = _multipart(
        s3, "master.metamp", "big", sizes, ContentType="text/bla", Metadata={"m": "p"}
    )
    with pytest.raises(ClientError) as exc:  # not an object before it completes
        s3.get_object(Bucket="master.metamp", Key="big", PartNumber=1)
    assert code(exc) == ("NoSuchKey", 404)
    done = s3.complete_multipart_upload(
        Bucket="master.metamp", Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    again = s3.complete_multipart_upload(
        Bucket="master.metamp", Key="big", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == done["ETag"]
    assert s3.list_multipart_uploads(Bucket="master.metamp").get("Uploads", []) == []
    head = s3.head_object(Bucket="master.metamp", Key="big")
    assert (head["ContentType"], head["Metadata"]) == ("text/bla", {"m": "p"})
    for number, size in enumerate(sizes, 1):
        got = s3.get_object(Bucket="master.metamp", Key="big", PartNumber=number)
        assert got["PartsCount"] == 2 and got["ETag"] == done["ETag"]
        assert got["ContentLength"] == size
        assert got["Body"].read() == bytes([number]) * size
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.metamp", Key="big", PartNumber=3)
    assert code(exc) == ("InvalidPart", 400)


def test_part_number_of_a_single_part_object(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metapn")
    put = s3.put_object(Bucket="master.metapn", Key="k", Body=b"body")
    got = s3.get_object(Bucket="master.metapn", Key="k", PartNumber=1)
    assert got["Body"].read() == b"body" and got["ETag"] == put["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.metapn", Key="k", PartNumber=2)
    assert code(exc) == ("InvalidPart", 400)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def test_checksums_are_returned_when_asked(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metasum")
    body = b"A" * 1024
    sha = _b64(hashlib.sha256(body).digest())
    put = s3.put_object(
        Bucket="master.metasum", Key="k", Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=sha
    )
    assert put["ChecksumSHA256"] == sha
    assert "ChecksumSHA256" not in s3.head_object(Bucket="master.metasum", Key="k")
    head = s3.head_object(Bucket="master.metasum", Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == sha
    got = s3.get_object(Bucket="master.metasum", Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == sha and got["Body"].read() == body
    crc = _b64(zlib.crc32(body).to_bytes(4, "big"))
    s3.put_object(Bucket="master.metasum", Key="c", Body=body, ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket="master.metasum", Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket="master.metasum",
            Key="k",
            Body=body,
            ChecksumAlgorithm="CRC64NVME",
            ChecksumCRC64NVME="bad",
        )
    assert code(exc) == ("BadDigest", 400)


def test_multipart_composite_checksum(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metamps")
    bucket, key = "master.metamps", "k"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
    assert upload["ChecksumAlgorithm"] == "SHA256"
    bodies = [b"A" * (5 * MiB), b"B" * 1024]
    sums = [hashlib.sha256(b).digest() for b in bodies]
    parts = []
    for number, (body, digest) in enumerate(zip(bodies, sums, strict=True), 1):
        part = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
        )
        assert part["ChecksumSHA256"] == _b64(digest)
        parts.append({"PartNumber": number, "ETag": part["ETag"], "ChecksumSHA256": _b64(digest)})
    composite = _b64(hashlib.sha256(b"".join(sums)).digest()) + "-2"
    wrong = {**parts[1], "ChecksumSHA256": parts[0]["ChecksumSHA256"]}
    for listed, whole in (([parts[0], wrong], composite), (parts, _b64(sums[0]) + "-2")):
        with pytest.raises(ClientError) as exc:  # another part checksum, a wrong whole one
            s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload["UploadId"],
                ChecksumSHA256=whole,
                MultipartUpload={"Parts": listed},
            )
        assert code(exc) == ("BadDigest", 400)
    done = s3.complete_multipart_upload(  # the part list may leave part checksums out
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        ChecksumSHA256=composite,
        MultipartUpload={"Parts": [{**parts[0], "ChecksumSHA256": ""}, parts[1]]},
    )
    assert done["ChecksumSHA256"] == composite
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite and head["ChecksumType"] == "COMPOSITE"


def test_upload_part_copy_range_past_the_end(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metacr")
    s3.put_object(Bucket="master.metacr", Key="src", Body=b"12345")
    upload = s3.create_multipart_upload(Bucket="master.metacr", Key="dst")["UploadId"]
    src = {"Bucket": "master.metacr", "Key": "src"}
    args = {"Bucket": "master.metacr", "Key": "dst", "UploadId": upload, "PartNumber": 1}
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(CopySource=src, CopySourceRange="bytes=0-21", **args)
    assert code(exc)[0] == "InvalidRange"
    for bad in ("0-2", "bytes=0", "bytes=hello-world", "bytes=0-2,3-5"):
        with pytest.raises(ClientError) as exc:
            s3.upload_part_copy(CopySource=src, CopySourceRange=bad, **args)
        assert code(exc) == ("InvalidArgument", 400)
    part = s3.upload_part_copy(CopySource=src, CopySourceRange="bytes=1-3", **args)
    assert part["CopyPartResult"]["ETag"].strip('"') == hashlib.md5(b"234").hexdigest()


def test_a_range_of_an_empty_object_is_not_satisfiable(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metaempty")
    s3.put_object(Bucket="master.metaempty", Key="e", Body=b"")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="master.metaempty", Key="e", Range="bytes=40-50")
    assert code(exc) == ("InvalidRange", 416)
    assert s3.get_object(Bucket="master.metaempty", Key="e")["Body"].read() == b""


def test_kaon_shows_the_metadata(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.metacli")
    s3.put_object(
        Bucket="master.metacli", Key="d/a.txt", Body=b"x", ContentType="text/x", Metadata={"k": "v"}
    )
    s3.put_object(Bucket="master.metacli", Key="d/b.txt", Body=b"y")
    files = gateway.kaon.json("list", "file", "metacli@master:/d")
    meta = {f["path"]: f["meta"] for f in files}
    assert {"content-type": "text/x", "x-amz-meta-k": "v"}.items() <= meta["/d/a.txt"].items()
    # boto3 sends a CRC32 with every put: kept, checked
    assert meta["/d/b.txt"]["x-amz-checksum-crc32"] == "+9smFQ=="
    gateway.kaon.ok("put", "file", "metacli@master:/d/c.txt", "-f", __file__)
    assert gateway.kaon.json("list", "file", "metacli@master:/d/c.txt")[0]["meta"] is None


def test_listing_echoes_an_empty_token_and_fetches_owners(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metalist")
    s3.put_object(Bucket="master.metalist", Key="a", Body=b"x")
    got = s3.list_objects_v2(Bucket="master.metalist", ContinuationToken="")
    assert got["ContinuationToken"] == "" and [o["Key"] for o in got["Contents"]] == ["a"]
    assert "Owner" not in s3.list_objects_v2(Bucket="master.metalist")["Contents"][0]
    assert "Owner" in s3.list_objects_v2(Bucket="master.metalist", FetchOwner=True)["Contents"][0]
    assert "Owner" in s3.list_objects(Bucket="master.metalist")["Contents"][0]


def test_non_ascii_metadata(s3: Any) -> None:
    """botocore sends (and signs) header values as UTF-8 (set through a hook: boto3's
    Metadata parameter refuses non-ASCII, as s3-tests' test_object_set_get_unicode_metadata)."""
    s3.create_bucket(Bucket="master.metauni")

    def unicode_metadata(params: dict[str, Any], **_: Any) -> None:
        params["headers"].update({"x-amz-meta-a": "été", "x-amz-meta-b": "日本"})

    s3.meta.events.register("before-call.s3.PutObject", unicode_metadata)
    s3.put_object(Bucket="master.metauni", Key="k", Body=b"x")
    s3.meta.events.unregister("before-call.s3.PutObject", unicode_metadata)
    got = s3.head_object(Bucket="master.metauni", Key="k")["Metadata"]
    assert got["a"] == "été"
    assert got["b"] == "=?UTF-8?B?" + base64.b64encode("日本".encode()).decode() + "?="


def test_a_folder_key_with_bytes_is_refused_clearly(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metafolder")
    s3.put_object(Bucket="master.metafolder", Key="dir/", Body=b"")  # a marker: accepted
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="master.metafolder", Key="dir/", Body=b"bytes")
    assert code(exc) == ("InvalidArgument", 400)
    assert "folder" in exc.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("gzip, aws-chunked", "gzip"), ("aws-chunked, gzip", "gzip"), ("aws-chunked", None)],
)
def test_aws_chunked_is_not_the_objects_encoding(s3: Any, sent: str, kept: str | None) -> None:
    bucket = "master.metaenc" + hashlib.sha256(sent.encode()).hexdigest()[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"", ContentEncoding=sent)
    got = s3.head_object(Bucket=bucket, Key="k")
    assert got.get("ContentEncoding") == kept


def test_multipart_full_object_crc32(s3: Any) -> None:
    s3.create_bucket(Bucket="master.metafull")
    bucket, key = "master.metafull", "k"
    bodies = [b"A" * (5 * MiB), b"B" * 1024]
    whole = _b64(zlib.crc32(b"".join(bodies)).to_bytes(4, "big"))
    for claimed, ok in ((_b64(b"\0\0\0\0"), False), (whole, True)):
        upload = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
        )
        assert upload["ChecksumType"] == "FULL_OBJECT"
        parts = []
        for number, body in enumerate(bodies, 1):
            part = s3.upload_part(
                Bucket=bucket,
                Key=key,
                UploadId=upload["UploadId"],
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm="CRC32",
            )
            parts.append({"PartNumber": number, "ETag": part["ETag"]})
        args = {"Bucket": bucket, "Key": key, "UploadId": upload["UploadId"]}
        if not ok:
            with pytest.raises(ClientError) as exc:
                s3.complete_multipart_upload(
                    ChecksumCRC32=claimed, MultipartUpload={"Parts": parts}, **args
                )
            assert code(exc) == ("BadDigest", 400)
            continue
        done = s3.complete_multipart_upload(
            ChecksumCRC32=claimed, MultipartUpload={"Parts": parts}, **args
        )
        assert (done["ChecksumCRC32"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    with pytest.raises(ClientError) as exc:  # SHA256 has no full-object form
        s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT"
        )
    assert code(exc) == ("InvalidArgument", 400)
