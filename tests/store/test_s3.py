"""The S3 object store on a real S3 server (moto's server mode, tests/s3fixtures.py): start-up
errors, health, multipart uploads and their abort, prefixes. The ObjectStore contract runs on
it in tests/contract/test_object_store.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kaon.core.backends import BackendRole
from kaon.core.errors import BackendUnavailable, InvalidInput
from kaon.ports.objectstore import ObjectInfo
from kaon.store.s3 import S3ObjectStore
from kaon.store.s3client import parse_url
from kaon.wiring import OBJECT_STORES
from s3fixtures import S3Server, start_moto, stop_moto

MIB = 1 << 20


class Boom(Exception):
    pass


def _bucket(url: str) -> str:
    return urlsplit(url).netloc


def _small_parts(url: str) -> S3ObjectStore:
    return S3ObjectStore(parse_url(url), part_size=5 * MIB)


def test_the_wiring_opens_s3_urls_with_the_s3_store(s3_store_url: str) -> None:
    store = OBJECT_STORES["s3"](s3_store_url)
    assert isinstance(store, S3ObjectStore)
    store.put("packs/ab/x", b"through the wiring")
    assert store.get("packs/ab/x") == b"through the wiring"


def test_a_missing_bucket_is_unavailable_with_what_to_do(s3_server: S3Server) -> None:
    url = s3_server.store_url("kaon-never-created")
    with pytest.raises(BackendUnavailable) as info:
        S3ObjectStore.from_url(url)
    message = info.value.message
    assert "kaon-never-created" in message and "does not exist" in message
    assert "create it first" in message and "\n" not in message
    assert info.value.exit_code == 3


def test_an_unreachable_endpoint_is_unavailable_with_what_to_do(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"s3://some-bucket/p?endpoint=http://127.0.0.1:{port}"
    with pytest.raises(BackendUnavailable) as info:
        S3ObjectStore.from_url(url)
    message = info.value.message
    assert "cannot reach the S3 endpoint" in message and f"127.0.0.1:{port}" in message
    assert "endpoint=" in message and "\n" not in message


@pytest.fixture(scope="module")
def strict_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server that checks credentials (IAM authentication on from the first request)."""
    log = tmp_path_factory.mktemp("moto-strict") / "moto.log"
    try:
        proc, endpoint = start_moto(log, {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield endpoint
    finally:
        stop_moto(proc)


def test_refused_credentials_are_unavailable_with_what_to_do(strict_s3: str) -> None:
    with pytest.raises(BackendUnavailable) as info:
        S3ObjectStore.from_url(f"s3://any-bucket/p?endpoint={strict_s3}")
    message = info.value.message
    assert "refused the credentials" in message and "any-bucket" in message
    assert "AWS_ACCESS_KEY_ID" in message and "\n" not in message


def test_a_malformed_url_is_invalid_input_naming_the_form() -> None:
    with pytest.raises(InvalidInput, match="unknown parameter 'endpiont'"):
        S3ObjectStore.from_url("s3://b/p?endpiont=http://x:1")
    with pytest.raises(InvalidInput, match="s3://BUCKET"):
        S3ObjectStore.from_url("s3:///no-bucket")
    with pytest.raises(InvalidInput, match="credentials come from"):
        S3ObjectStore.from_url("s3://key:secret@bucket/p")


def test_the_endpoint_comes_from_the_url_or_the_aws_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://from-env:9000")
    assert parse_url("s3://b/p").endpoint == "http://from-env:9000"
    assert parse_url("s3://b/p?endpoint=http://given:1").endpoint == "http://given:1"
    assert parse_url("s3://b/p").addressing == "path"
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    loc = parse_url("s3://b/deep/prefix/?region=eu-west-1")
    assert (loc.endpoint, loc.region, loc.prefix, loc.addressing) == (
        None,
        "eu-west-1",
        "deep/prefix",
        "auto",
    )


def test_health_answers_and_never_raises(s3_server: S3Server, s3_store_url: str) -> None:
    store = S3ObjectStore.from_url(s3_store_url)
    health = store.health()
    assert health.role is BackendRole.STORE and health.ok
    assert health.url == s3_store_url and health.version
    s3_server.drop_bucket(s3_store_url)  # the bucket goes away under a running server
    health = store.health()
    assert not health.ok and "does not exist" in health.detail
    assert health.role is BackendRole.STORE


def test_a_failed_multipart_upload_is_aborted_and_leaves_nothing(
    s3_server: S3Server, s3_store_url: str
) -> None:
    store = _small_parts(s3_store_url)
    store.put("packs/keep", b"old")

    def failing() -> Iterator[bytes]:
        for _ in range(12):  # 12 MiB: two parts sent before the failure
            yield os.urandom(MIB)
        raise Boom

    with pytest.raises(Boom):
        store.put("packs/keep", failing())
    with pytest.raises(Boom):
        store.put("packs/new", failing())
    assert store.get("packs/keep") == b"old"
    assert not store.has("packs/new")
    uploads = s3_server.client().list_multipart_uploads(Bucket=_bucket(s3_store_url))
    assert uploads.get("Uploads", []) == []


def test_big_puts_are_multipart_and_whole(s3_server: S3Server, s3_store_url: str) -> None:
    store = _small_parts(s3_store_url)
    data = os.urandom(17 * MIB + 3)
    store.put("big/bytes", data)
    store.put("big/stream", (data[i : i + 100_000] for i in range(0, len(data), 100_000)))
    head = s3_server.client().head_object(Bucket=_bucket(s3_store_url), Key="prefix/big/stream")
    assert head["ETag"].strip('"').endswith("-4")  # 4 parts of 5 MiB at most
    assert store.get("big/bytes") == data and store.get("big/stream") == data
    assert store.get_range("big/stream", 5 * MIB - 10, 20) == data[5 * MIB - 10 : 5 * MIB + 10]


def test_put_file_uploads_in_parts_then_removes_the_file(s3_store_url: str, tmp_path: Path) -> None:
    store = _small_parts(s3_store_url)
    data = os.urandom(11 * MIB)
    src = tmp_path / "pack"
    src.write_bytes(data)
    store.put_file("packs/ab/file", str(src))
    assert not src.exists()
    assert store.get("packs/ab/file") == data
    assert store.local_file("packs/ab/file") is None


def test_stores_on_two_prefixes_of_one_bucket_see_only_their_own(
    s3_server: S3Server, s3_store_url: str
) -> None:
    bucket = _bucket(s3_store_url)
    one = S3ObjectStore.from_url(s3_server.store_url(bucket, "one"))
    two = S3ObjectStore.from_url(s3_server.store_url(bucket, "two/deeper"))
    bare = S3ObjectStore.from_url(s3_server.store_url(bucket, ""))
    one.put("k", b"1")
    two.put("k", b"22")
    assert list(one.list()) == [ObjectInfo("k", 1)]
    assert list(two.list()) == [ObjectInfo("k", 2)]
    assert {i.key for i in bare.list()} == {"one/k", "two/deeper/k"}
    one.delete("k")
    assert two.get("k") == b"22" and not one.has("k")


def test_gc_aborts_the_multipart_uploads_a_dead_server_left(
    s3_server: S3Server, s3_store_url: str
) -> None:
    client, bucket = s3_server.client(), _bucket(s3_store_url)
    left = client.create_multipart_upload(Bucket=bucket, Key="prefix/packs/ab/left")
    args = {"Bucket": bucket, "Key": "prefix/packs/ab/left", "UploadId": left["UploadId"]}
    client.upload_part(**args, PartNumber=1, Body=b"x" * 1000)
    other = client.create_multipart_upload(Bucket=bucket, Key="elsewhere/obj")  # not ours
    store = S3ObjectStore(parse_url(s3_store_url))
    assert store.clean_temp(0.0) == 0  # too recent: another server may still be writing it
    assert len(client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 2
    stale = S3ObjectStore(parse_url(s3_store_url), stale_upload_seconds=0.0)
    assert stale.clean_temp(0.0) == 1000
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        other["UploadId"]
    ]
