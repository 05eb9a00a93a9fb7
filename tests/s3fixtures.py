"""A real S3-compatible server for the tests that run kaon's object store on S3.

* `s3_server` (session): moto's server mode started as a real subprocess on a free port
  (`python -m moto.server`), or the server named by `KAON_TEST_S3_URL` (credentials from the
  usual AWS_* variables). Yields an S3Server (endpoint, credentials, `client()`, `new_bucket()`).
  Under CI=true a server that cannot start fails the test; elsewhere the test is skipped.
* `s3_store_url` (function): a fresh, empty bucket per test, as a kaon store URL:
  `s3://kaon-<uuid>/prefix?endpoint=http://127.0.0.1:PORT&region=us-east-1`.

For moto, dummy AWS credentials and a region are put in os.environ for the session (only where
unset), so a `kaon server` subprocess started by a test finds them through boto3's chain.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

START_TIMEOUT = 30.0
REGION = "us-east-1"
PREFIX = "prefix"
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class S3Server(NamedTuple):
    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str
    region: str

    def client(self) -> Any:
        """A boto3 S3 client on this server (path-style addressing), made once."""
        return _client(self)

    def store_url(self, bucket: str, prefix: str = PREFIX) -> str:
        """The kaon store URL (KAON_STORE_URL) of `bucket`/`prefix` on this server."""
        path = f"/{prefix}" if prefix else ""
        return f"s3://{bucket}{path}?endpoint={self.endpoint}&region={self.region}"

    def new_bucket(self, prefix: str = PREFIX) -> str:
        """Create a fresh bucket; its kaon store URL."""
        bucket = f"kaon-{uuid.uuid4().hex}"
        self.client().create_bucket(Bucket=bucket)
        return self.store_url(bucket, prefix)

    def drop_bucket(self, url: str) -> None:
        """Delete the bucket of store URL `url` with everything in it (best effort)."""
        bucket = url.removeprefix("s3://").split("/", 1)[0].split("?", 1)[0]
        client = self.client()
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            for u in uploads:
                client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
            client.delete_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - cleanup of a test bucket must not fail the test
            pass


@functools.cache
def _client(server: S3Server) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(s3={"addressing_style": "path"}),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it listens
    except (urllib.error.URLError, OSError):
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"S3 test server: {reason} (CI=true: an S3 server is required)")
    pytest.skip(f"S3 test server: {reason}")


def start_moto(log: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A moto server subprocess on a free port (with `env` added to its environment), once
    it answers; its endpoint. RuntimeError (with its log) when it does not start."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}: {log.read_text()}")
        if _answers(endpoint + "/moto-api/"):
            return proc, endpoint
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=15)
    raise RuntimeError(f"moto server did not answer within {START_TIMEOUT} s: {log.read_text()}")


def stop_moto(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="botocore.*")
    external = os.environ.get("KAON_TEST_S3_URL")
    if external:
        server = S3Server(
            external.rstrip("/"),
            os.environ.get("AWS_ACCESS_KEY_ID", ""),
            os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or REGION,
        )
        if not _answers(server.endpoint):
            _unavailable(f"KAON_TEST_S3_URL={external} does not answer")
        yield server
        return
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        _unavailable(f"moto[server] is not installed ({exc}): uv sync --group dev")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc: subprocess.Popen[bytes] | None = None
    error = ""
    for _ in range(3):  # the free port may be taken before moto binds it
        try:
            proc, endpoint = start_moto(log)
            break
        except RuntimeError as exc:
            error = str(exc)
    if proc is None:
        _unavailable(error)
        return
    saved = {k: os.environ.get(k) for k in MOTO_ENV}
    for k, v in MOTO_ENV.items():
        os.environ.setdefault(k, v)
    try:
        yield S3Server(
            endpoint,
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ["AWS_DEFAULT_REGION"],
        )
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        stop_moto(proc)


@pytest.fixture
def s3_store_url(s3_server: S3Server) -> Iterator[str]:
    """A fresh bucket for this test: `s3://kaon-<uuid>/prefix?endpoint=...&region=...`."""
    url = s3_server.new_bucket()
    yield url
    s3_server.drop_bucket(url)
