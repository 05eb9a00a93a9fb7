"""Two `kaon server` processes over one database and one object store (issue 17): what is
uploaded, staged or committed through one is there, at once, through the other; writers
spread over both lose nothing; an S3 multipart upload and a staging go from one to the other."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client
from kaon.core import chunking
from kaon.core.errors import StagingNotFound
from kaon.core.pack import HEADER, MAGIC
from pgfixtures import new_pg_database
from s3fixtures import S3Server

from .helpers import MiB
from .servers import Servers

WRITERS = 8
COMMITS_EACH = 3


@pytest.fixture(scope="module", params=["sqlite", "postgresql+s3"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Two servers over SQLite and a `file://` store (one host), then over PostgreSQL and an
    S3 store (tests/pgfixtures.py, tests/s3fixtures.py)."""
    root = tmp_path_factory.mktemp("two-servers")
    if request.param == "sqlite":
        with Servers(root, 2) as servers:
            yield servers
        return
    s3: S3Server = request.getfixturevalue("s3_server")
    store = s3.new_bucket()
    try:
        with Servers(
            root, 2, new_pg_database(request.getfixturevalue("pg_server")), store
        ) as servers:
            yield servers
    finally:
        s3.drop_bucket(store)


def _pack(*contents: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """A pack of `contents` (one chunk each), and a put row per content (path filled later)."""
    body = bytearray(MAGIC)
    rows: list[dict[str, Any]] = []
    for data in contents:
        digest = chunking.hash_chunk(data)
        codec, stored = chunking.compress(data)
        body += HEADER.pack(bytes.fromhex(digest), codec, len(data), len(stored))
        body += stored
        rows.append({"path": "", "size": len(data), "chunks": [[digest, len(data)]]})
    return bytes(body), rows


def _put_rows(client: Client, files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Upload the contents of `files` as one pack; their put rows."""
    body, rows = _pack(*files.values())
    client.upload_pack(body)
    for row, path in zip(rows, files, strict=True):
        row["path"] = path
    return rows


def test_a_put_through_one_server_is_visible_through_the_other_at_once(
    pair: Servers, tmp_path: Path
) -> None:
    a, b = pair
    a.ok("create", "repo", "shared")
    src = tmp_path / "hello.txt"
    src.write_text("hello from A\n")
    a.ok("put", "file", "shared@master:/hello.txt", "-f", str(src))
    assert b.ok("get", "file", "shared@master:/hello.txt") == "hello from A\n"
    assert pair.urls()[0] != pair.urls()[1]


def test_writers_spread_over_both_servers_lose_nothing(pair: Servers) -> None:
    """WRITERS threads, half through A and half through B, each making COMMITS_EACH commits
    of one new file to one branch: the branch's history is one chain of every commit, and the
    k-th commit holds exactly the k files written so far (a lost head update would drop one)."""
    a, b = pair
    a.ok("create", "repo", "busy")
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            with (a if i % 2 else b).client() as client:
                for j in range(COMMITS_EACH):
                    path = f"/w{i}/f{j}"
                    rows = _put_rows(client, {path: f"{i}:{j}:{os.urandom(8).hex()}".encode()})
                    client.commit("busy", "master", rows, message=path)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = WRITERS * COMMITS_EACH
    with b.client() as client:
        commits = client.list_commits("busy", "master")
        assert len(commits) == total
        chain = {c.id: c for c in commits}
        head = next(br.head for br in client.list_branches("busy") if br.name == "master")
        order = []
        while head:
            order.append(chain[head])
            head = chain[head].parent
        assert len(order) == total  # one chain: every commit is an ancestor of the head
        for k, commit in enumerate(reversed(order), start=1):
            assert commit.count == k, commit  # the files of every commit before it, and its own
    with a.client() as client:
        found = {
            f.path
            for i in range(WRITERS)
            for f in client.list_files("busy", "master", f"/w{i}")
            if f.type == "file"
        }
    assert found == {f"/w{i}/f{j}" for i in range(WRITERS) for j in range(COMMITS_EACH)}


def test_a_staging_begun_through_one_server_is_committed_through_the_other(
    pair: Servers,
) -> None:
    a, b = pair
    a.ok("create", "repo", "staged")
    with a.client() as ca, b.client() as cb:
        rows = _put_rows(ca, {"/one": b"staged through A", "/d/two": b"also through A"})
        sid = ca.open_staging("staged", "master")
        assert ca.stage("staged", sid, rows[:1]) == 1
        assert cb.stage("staged", sid, rows[1:]) == 2  # staged through B too
        last = _put_rows(cb, {"/three": b"with the commit, through B"})
        commit = cb.commit("staged", "master", last, staged=sid)
        assert commit.count == 3
        with pytest.raises(StagingNotFound):  # committed: gone on both servers
            ca.commit("staged", "master", [], staged=sid)
    assert a.ok("get", "file", "staged@master:/d/two") == "also through A"
    assert a.ok("get", "file", "staged@master:/three") == "with the commit, through B"


def _s3(url: str, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_a_multipart_upload_goes_from_one_server_to_the_other(
    pair: Servers, tmp_path: Path
) -> None:
    """Started on A (boto3), parts sent to B and A, listed on B, completed on A; a second one
    started on B is aborted on A and is gone on both."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="botocore.*")
    a = pair[0]
    a.ok("create", "repo", "mp")
    (tmp_path / "readme").write_text("a branch to upload to\n")
    a.ok("put", "file", "mp@master:/readme", "-f", str(tmp_path / "readme"))
    cred = json.loads(a.ok("auth", "s3-credentials", "--json"))  # its secret sealed by A
    sa, sb = (_s3(url, cred["access_key"], cred["secret"]) for url in pair.s3_urls())
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"the last part, small"]
    upload = sa.create_multipart_upload(Bucket="master.mp", Key="big.bin")["UploadId"]
    etags = []
    for number, (client, data) in enumerate(zip((sb, sa, sb), parts, strict=True), start=1):
        done = client.upload_part(
            Bucket="master.mp", Key="big.bin", UploadId=upload, PartNumber=number, Body=data
        )
        assert done["ETag"].strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest()
        etags.append(done["ETag"])
    listed = sb.list_parts(Bucket="master.mp", Key="big.bin", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [
        (i + 1, len(d)) for i, d in enumerate(parts)
    ]
    assert [u["UploadId"] for u in sb.list_multipart_uploads(Bucket="master.mp")["Uploads"]] == [
        upload
    ]
    sa.complete_multipart_upload(
        Bucket="master.mp",
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    got = sb.get_object(Bucket="master.mp", Key="big.bin")["Body"].read()
    assert got == b"".join(parts)
    assert sb.list_multipart_uploads(Bucket="master.mp").get("Uploads", []) == []

    gone = sb.create_multipart_upload(Bucket="master.mp", Key="gone.bin")["UploadId"]
    sb.upload_part(Bucket="master.mp", Key="gone.bin", UploadId=gone, PartNumber=1, Body=b"x")
    sa.abort_multipart_upload(Bucket="master.mp", Key="gone.bin", UploadId=gone)
    for client in (sa, sb):
        with pytest.raises(client.exceptions.NoSuchUpload):
            client.list_parts(Bucket="master.mp", Key="gone.bin", UploadId=gone)
