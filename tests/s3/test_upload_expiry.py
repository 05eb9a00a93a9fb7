"""Unfinished multipart uploads are reclaimed: those of deleted repos by `kaon gc`, and stale
ones after KAON_S3_UPLOAD_EXPIRY_DAYS (gone for clients at once, their parts removed by gc)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import Kaon

from .conftest import Gateway

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


def _parts_dir(gateway: Gateway) -> Path:
    """Where the parts of the uploads are: objects `uploads/<id>/...` of the local store."""
    return gateway.kaon.home / "objects" / "uploads"


def _recorded(gateway: Gateway, upload: str) -> bool:
    """Whether the database still holds upload `upload`."""
    with sqlite3.connect(gateway.kaon.home / "kaon.db") as db:
        return db.execute("SELECT 1 FROM s3_uploads WHERE id = ?", (upload,)).fetchone() is not None


def _start_upload(s3: Any, bucket: str, key: str) -> str:
    upload: str = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * MiB)
    return upload


def test_gc_reclaims_the_uploads_of_deleted_repos(gateway: Gateway, s3: Any) -> None:
    s3.create_bucket(Bucket="master.doomed")
    s3.create_bucket(Bucket="master.kept")
    doomed = _start_upload(s3, "master.doomed", "big.bin")
    kept = _start_upload(s3, "master.kept", "big.bin")
    gateway.kaon.ok("delete", "repo", "doomed")
    report = json.loads(gateway.kaon.ok("gc", "--json"))
    assert report["bytes_freed"] >= MiB
    assert not (_parts_dir(gateway) / doomed).exists()
    assert not _recorded(gateway, doomed)
    assert (_parts_dir(gateway) / kept).is_dir()  # a live bucket's upload stays
    assert _recorded(gateway, kept)
    ids = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="master.kept")["Uploads"]]
    assert ids == [kept]


@pytest.fixture(scope="module")
def expiring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A platform whose uploads expire as soon as they start (1e-9 days)."""
    k = Kaon(tmp_path_factory.mktemp("kaon-s3-expiry"))
    k.env["KAON_S3_UPLOAD_EXPIRY_DAYS"] = "1e-9"
    try:
        doc = k.up()
        cred = json.loads(k.ok("auth", "s3-credentials", "--json"))
        yield Gateway(k, doc["s3_url"], cred["access_key"], cred["secret"])
    finally:
        k.shutdown()


def test_stale_uploads_expire_and_gc_removes_their_parts(expiring: Gateway) -> None:
    s3 = expiring.client()
    s3.create_bucket(Bucket="master.stale")
    upload = s3.create_multipart_upload(Bucket="master.stale", Key="k")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket="master.stale", Key="k", UploadId=upload, PartNumber=1, Body=b"x")
    assert exc.value.response["Error"]["Code"] == "NoSuchUpload"
    assert "expired" in exc.value.response["Error"]["Message"]
    s3 = expiring.client()  # a fresh connection (see item 11 of issue 12: Expect: 100-continue)
    assert s3.list_multipart_uploads(Bucket="master.stale").get("Uploads", []) == []
    assert _recorded(expiring, upload)
    expiring.kaon.ok("gc")
    assert not _recorded(expiring, upload)
    assert not (_parts_dir(expiring) / upload).exists()


def test_a_bad_expiry_setting_is_refused(tmp_path: Path) -> None:
    k = Kaon(tmp_path)
    k.env["KAON_S3_UPLOAD_EXPIRY_DAYS"] = "soon"
    p = k.run("server")
    assert p.returncode != 0
    assert "KAON_S3_UPLOAD_EXPIRY_DAYS='soon'" in p.stderr
