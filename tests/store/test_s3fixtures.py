"""The shared S3 test server (tests/s3fixtures.py) is a real S3 server, one bucket per test."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from s3fixtures import S3Server


def test_a_fresh_empty_bucket_per_test_on_a_real_server(
    s3_server: S3Server, s3_store_url: str
) -> None:
    parts = urlsplit(s3_store_url)
    assert parts.scheme == "s3" and parts.netloc.startswith("kaon-")
    assert parse_qs(parts.query)["endpoint"] == [s3_server.endpoint]
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=parts.netloc).get("KeyCount") == 0
    client.put_object(Bucket=parts.netloc, Key="prefix/a", Body=b"x")
    assert client.get_object(Bucket=parts.netloc, Key="prefix/a")["Body"].read() == b"x"
