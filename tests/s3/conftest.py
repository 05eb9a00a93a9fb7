"""A real platform for the S3 gateway tests: `kaon up` in its own KAON_HOME (API and S3 ports
picked free), a key pair from `kaon auth s3-credentials --json`, and boto3 clients."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from e2e.helpers import Kaon


class Gateway(NamedTuple):
    kaon: Kaon
    url: str
    key: str
    secret: str

    def client(self, key: str | None = None, secret: str | None = None, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
        )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="botocore.*")
    k = Kaon(tmp_path_factory.mktemp("kaon-s3"))
    try:
        doc = k.up()
        cred = json.loads(k.ok("auth", "s3-credentials", "--json"))
        assert cred["endpoint"] == doc["s3_url"]
        yield Gateway(k, doc["s3_url"], cred["access_key"], cred["secret"])
    finally:
        k.shutdown()


@pytest.fixture(scope="module")
def s3(gateway: Gateway) -> Any:
    return gateway.client()
