"""Which S3 client for kaon's object store: boto3 vs obstore vs s3fs on kaon's workload.

```
uv run python benchmarks/s3_clients.py            # against a moto server started here
uv run python benchmarks/s3_clients.py --quick    # smaller sizes
S3_ENDPOINT=http://host:9000 uv run python benchmarks/s3_clients.py   # another server
```

The workload is what kaon's store does: put 4 MiB packs, ranged gets of 64 KiB inside them
(chunk reads), HEAD (has), list a prefix of 1,000 keys, one big multipart put and get (a
1 GiB file; 256 MiB with --quick). Each client gets its own bucket on the same server; the
order of the clients rotates between repeats; the median of the repeats is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scaleout_s3 import moto_server

MIB = 1 << 20


class Client:
    name = ""

    def __init__(self, endpoint: str, bucket: str) -> None:
        self.endpoint = endpoint
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None: ...
    def put_big(self, key: str, path: str) -> None: ...
    def get_big(self, key: str, path: str) -> None: ...
    def get_range(self, key: str, offset: int, length: int) -> bytes: ...
    def head(self, key: str) -> int: ...
    def list(self, prefix: str) -> int: ...


class Boto3(Client):
    name = "boto3"

    def __init__(self, endpoint: str, bucket: str) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        super().__init__(endpoint, bucket)
        self.c = boto3.client(
            "s3",
            endpoint_url=endpoint,
            config=Config(max_pool_connections=32, retries={"mode": "standard"}),
        )
        self.transfer = TransferConfig(multipart_chunksize=16 * MIB, max_concurrency=8)

    def put(self, key: str, data: bytes) -> None:
        self.c.put_object(Bucket=self.bucket, Key=key, Body=data)

    def put_big(self, key: str, path: str) -> None:
        self.c.upload_file(path, self.bucket, key, Config=self.transfer)

    def get_big(self, key: str, path: str) -> None:
        self.c.download_file(self.bucket, key, path, Config=self.transfer)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        r = self.c.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )
        return bytes(r["Body"].read())

    def head(self, key: str) -> int:
        return int(self.c.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def list(self, prefix: str) -> int:
        pages = self.c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sum(len(p.get("Contents", [])) for p in pages)


class Obstore(Client):
    name = "obstore"

    def __init__(self, endpoint: str, bucket: str) -> None:
        from obstore.store import S3Store

        super().__init__(endpoint, bucket)
        self.s = S3Store(
            bucket,
            endpoint=endpoint,
            region="us-east-1",
            client_options={"allow_http": True},
            access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        )

    def put(self, key: str, data: bytes) -> None:
        import obstore

        obstore.put(self.s, key, data)

    def put_big(self, key: str, path: str) -> None:
        import obstore

        obstore.put(self.s, key, Path(path), chunk_size=16 * MIB, max_concurrency=8)

    def get_big(self, key: str, path: str) -> None:
        import obstore

        with open(path, "wb") as f:
            for chunk in obstore.get(self.s, key).stream(min_chunk_size=8 * MIB):
                f.write(chunk)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        import obstore

        return bytes(obstore.get_range(self.s, key, start=offset, length=length))

    def head(self, key: str) -> int:
        import obstore

        return int(obstore.head(self.s, key)["size"])

    def list(self, prefix: str) -> int:
        import obstore

        return sum(len(batch) for batch in obstore.list(self.s, prefix))


class S3fs(Client):
    name = "s3fs"

    def __init__(self, endpoint: str, bucket: str) -> None:
        import s3fs

        super().__init__(endpoint, bucket)
        self.fs = s3fs.S3FileSystem(
            endpoint_url=endpoint, default_block_size=16 * MIB, use_listings_cache=False
        )

    def _p(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._p(key), data)

    def put_big(self, key: str, path: str) -> None:
        self.fs.put_file(path, self._p(key), chunksize=16 * MIB)

    def get_big(self, key: str, path: str) -> None:
        self.fs.get_file(self._p(key), path)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        return bytes(self.fs.cat_file(self._p(key), start=offset, end=offset + length))

    def head(self, key: str) -> int:
        return int(self.fs.info(self._p(key))["size"])

    def list(self, prefix: str) -> int:
        self.fs.invalidate_cache()
        return len(self.fs.find(self._p(prefix)))


CLIENTS: list[type[Client]] = [Boto3, Obstore, S3fs]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(client: Client, big: str, big_size: int, out: str) -> dict[str, float]:
    pack = os.urandom(4 * MIB)
    packs = 16
    threads = ThreadPoolExecutor(8)
    r: dict[str, float] = {}
    r["put 4 MiB packs MiB/s (8 threads)"] = (
        packs
        * 4
        / timed(lambda: list(threads.map(lambda i: client.put(f"p/{i}", pack), range(packs))))
    )
    n = 400
    r["ranged get 64 KiB /s (8 threads)"] = n / timed(
        lambda: list(
            threads.map(
                lambda i: client.get_range(f"p/{i % packs}", (i * 7919) % (3 * MIB), 64 * 1024),
                range(n),
            )
        )
    )
    r["HEAD /s (1 thread)"] = 200 / timed(
        lambda: [client.head(f"p/{i % packs}") for i in range(200)]
    )
    list(threads.map(lambda i: client.put(f"l/{i:04d}", b"x"), range(1000)))
    r["list 1,000 keys s"] = timed(lambda: client.list("l/"))
    r["multipart put MiB/s"] = big_size / MIB / timed(lambda: client.put_big("big", big))
    r["get big MiB/s"] = big_size / MIB / timed(lambda: client.get_big("big", out))
    threads.shutdown()
    Path(out).unlink()
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp")
    args = ap.parse_args()
    big_size = (256 if args.quick else 1024) * MIB
    repeat = 1 if args.quick else args.repeat
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    big = str(Path(args.workdir) / f"s3clients-{uuid.uuid4().hex}.bin")
    with open(big, "wb") as f:
        for _ in range(big_size // (64 * MIB)):
            f.write(os.urandom(64 * MIB))
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with moto_server(os.environ.get("S3_ENDPOINT")) as endpoint:
            import boto3

            admin = boto3.client("s3", endpoint_url=endpoint)
            for rep in range(repeat):
                order = CLIENTS[rep % 3 :] + CLIENTS[: rep % 3]
                for cls in order:
                    bucket = f"bench-{uuid.uuid4().hex[:12]}"
                    admin.create_bucket(Bucket=bucket)
                    figures = run(cls(endpoint, bucket), big, big_size, big + ".out")
                    print(f"rep {rep} {cls.name}: {figures}", file=sys.stderr, flush=True)
                    for k, v in figures.items():
                        results.setdefault(k, {}).setdefault(cls.name, []).append(v)
    finally:
        Path(big).unlink()
    names = [c.name for c in CLIENTS]
    print(f"| workload (median of {repeat}) | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for k, per in results.items():
        cells = [f"{statistics.median(per[n]):.2f}" for n in names]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
