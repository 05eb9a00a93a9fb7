#!/usr/bin/env python3
"""S3 gateway benchmark: boto3 against `kaon get file`, small puts as commits, big listings.

In ONE run, on a fresh local platform (API and S3 ports picked free):

  * GetObject of a big random object (default 1 GiB) with boto3, one streaming request
    written to a file, against `kaon get file` of the same object (CLI start-up included),
    alternated, median of --repeat; also boto3's managed download_file (parallel ranges);
  * 1,000 small PutObjects (1 KiB, distinct keys) from one boto3 client: each is one commit;
    commits/s and the latency distribution (p50, p99);
  * ListObjectsV2 over a 100,000-object prefix (put as ONE commit by `kaon put file -r` of a
    folder of 100 x 1,000 tiny files), 1,000 keys a page: time per page;
  * HeadObject, the cheapest request, so what the gateway's per-request authorization costs
    shows: on a shared bucket and on a workspace's internal bucket, with the admin's key and
    with the key of a user who is an editor of the workspace (not an admin: the role path).

Targets (PASS/FAIL): GetObject >= 50% of `kaon get file` throughput; a listing page of
1,000 keys <= 50 ms (mean over the whole listing, measured as plain signed HTTP requests:
the gateway's cost; boto3's own XML parsing, ~45 ms per 1,000 keys here, is reported too).

    uv run python benchmarks/s3.py [--big-gib 1] [--repeat 3] [--objects 100000] [--heads 2000]
                                   [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import kaon_exe, log

from kaon.core.users import Role

HERE = Path(__file__).resolve().parent
MiB = 1024 * 1024
GiB = 1024 * MiB
MB = 1_000_000


class Platform:
    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.kaon = kaon_exe(None)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        self.env.update(KAON_HOME=str(self.home), KAON_PORT="0")

    def run(self, *args: str) -> str:
        p = subprocess.run(
            [str(self.kaon), *args], env=self.env, capture_output=True, text=True, check=False
        )
        if p.returncode != 0:
            raise RuntimeError(f"kaon {' '.join(args)} failed: {p.stderr.strip()[-2000:]}")
        return p.stdout

    def timed(self, *args: str) -> float:
        os.sync()
        started = time.perf_counter()
        self.run(*args)
        return time.perf_counter() - started

    def up(self) -> dict[str, Any]:
        self.run("up")
        doc: dict[str, Any] = json.loads((self.home / "server.json").read_text())
        return doc

    def down(self) -> None:
        subprocess.run([str(self.kaon), "down"], env=self.env, capture_output=True, check=False)


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(4 * MiB, left)
            f.write(os.urandom(n))
            left -= n


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_get(p: Platform, s3: Any, work: Path, size: int, repeat: int) -> dict[str, Any]:
    big = work / "big.bin"
    write_random(big, size)
    log(f"put {size / GiB:.2f} GiB with `kaon put file` (untimed)")
    p.run("put", "file", "bench@master:/big.bin", "-f", str(big))
    big.unlink()
    out = work / "out.bin"
    cli: list[float] = []
    get: list[float] = []
    managed: list[float] = []
    for i in range(repeat):
        out.unlink(missing_ok=True)
        cli.append(p.timed("get", "file", "bench@master:/big.bin", "-o", str(out)))
        assert out.stat().st_size == size
        out.unlink()
        os.sync()
        started = time.perf_counter()
        body = s3.get_object(Bucket="master.bench", Key="big.bin")["Body"]
        with out.open("wb") as f:
            for piece in body.iter_chunks(1024 * 1024):
                f.write(piece)
        get.append(time.perf_counter() - started)
        assert out.stat().st_size == size
        out.unlink()
        os.sync()
        started = time.perf_counter()
        s3.download_file("master.bench", "big.bin", str(out))
        managed.append(time.perf_counter() - started)
        log(
            f"  round {i + 1}: kaon get {cli[-1]:.2f} s, GetObject {get[-1]:.2f} s, "
            f"download_file {managed[-1]:.2f} s"
        )
    out.unlink(missing_ok=True)
    t_cli, t_get, t_managed = (statistics.median(x) for x in (cli, get, managed))
    return {
        "bytes": size,
        "kaon_get_s": t_cli,
        "get_object_s": t_get,
        "download_file_s": t_managed,
        "kaon_get_MBps": size / t_cli / MB,
        "get_object_MBps": size / t_get / MB,
        "download_file_MBps": size / t_managed / MB,
        "ratio": t_cli / t_get,
    }


def bench_puts(p: Platform, s3: Any, n: int) -> dict[str, Any]:
    payload = os.urandom(1024)
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        s3.put_object(Bucket="master.small", Key=f"objects/{i:05d}.bin", Body=payload + b"%d" % i)
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    count = len(json.loads(p.run("list", "commit", "small@master", "--json")))
    assert count == n, f"{count} commits for {n} puts"
    return {
        "puts": n,
        "seconds": total,
        "commits_per_s": n / total,
        "p50_ms": pct(latencies, 0.50) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


def bench_list(p: Platform, s3: Any, s3v4: Any, work: Path, n: int) -> dict[str, Any]:
    folder = work / "many"
    per_dir = 1000
    log(f"writing {n:,} tiny files")
    for i in range(n):
        d = folder / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}.txt").write_bytes(b"%d\n" % i)
    log(f"kaon put file -r of {n:,} files (one commit)")
    t_put = p.timed("put", "file", "-r", "listing@master:/many", "-f", str(folder))
    shutil.rmtree(folder)
    pages: list[float] = []  # boto3: request + botocore parsing the XML into dicts
    raw: list[float] = []  # the same pages as plain signed HTTP: what the gateway costs
    keys = 0
    token = None
    while True:
        args: dict[str, Any] = {"Bucket": "master.listing", "Prefix": "many/", "MaxKeys": 1000}
        if token:
            args["ContinuationToken"] = token
        url = s3v4.generate_presigned_url("list_objects_v2", Params=args, ExpiresIn=600)
        t0 = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            assert b"<Contents>" in response.read()
        raw.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        page = s3.list_objects_v2(**args)
        pages.append(time.perf_counter() - t0)
        keys += page.get("KeyCount", 0)
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated"):
            break
    assert keys == n, f"listed {keys} keys of {n}"
    return {
        "objects": n,
        "put_s": t_put,
        "pages": len(pages),
        "first_page_ms": pages[0] * 1000,
        "mean_page_ms": statistics.mean(pages) * 1000,
        "p50_page_ms": pct(pages, 0.5) * 1000,
        "p99_page_ms": pct(pages, 0.99) * 1000,
        "total_s": sum(pages),
        "raw_mean_page_ms": statistics.mean(raw) * 1000,
        "raw_p99_page_ms": pct(raw, 0.99) * 1000,
    }


def editor_key(p: Platform, workspace: str) -> dict[str, Any]:
    """An S3 key of a second user, an editor of `workspace` (not an admin). The user is made
    in the platform's database directly (the same UserService the API uses), the key through
    the CLI with that user's token."""
    from kaon.db.database import Database
    from kaon.services.users import UserService

    db = Database(f"sqlite:///{p.home / 'kaon.db'}")
    store = db.users
    try:
        users = UserService(store, time.time)
        _, token = users.add("bench-editor")
        users.share(workspace, "bench-editor", Role.EDITOR)
    finally:
        db.close()
    p.env["KAON_TOKEN"] = token
    try:
        cred: dict[str, Any] = json.loads(p.run("auth", "s3-credentials", "--json"))
    finally:
        del p.env["KAON_TOKEN"]
    return cred


def bench_heads(clients: dict[str, Any], buckets: dict[str, str], n: int) -> dict[str, Any]:
    """`n` HeadObjects per (key, bucket), alternated in rounds of 100: ms per request."""
    per: dict[str, list[float]] = {f"{who} {where}": [] for who in clients for where in buckets}
    for _ in range(max(1, n // 100)):
        for who, s3 in clients.items():
            for where, bucket in buckets.items():
                t0 = time.perf_counter()
                for _ in range(100):
                    s3.head_object(Bucket=bucket, Key="probe.txt")
                per[f"{who} {where}"].append((time.perf_counter() - t0) / 100)
    return {name: statistics.median(times) * 1000 for name, times in per.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--puts", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--heads", type=int, default=2000, help="HeadObjects per case")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import boto3
    from botocore.config import Config

    work = Path(tempfile.mkdtemp(prefix="kaon-s3-bench-", dir=args.workdir))
    p = Platform(work)
    try:
        doc = p.up()
        cred = json.loads(p.run("auth", "s3-credentials", "--json"))
        s3 = boto3.client(
            "s3",
            endpoint_url=doc["s3_url"],
            aws_access_key_id=cred["access_key"],
            aws_secret_access_key=cred["secret"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
        )

        def s3v4() -> Any:  # presigns with SigV4 (boto3's default presigning is SigV2)
            return boto3.client(
                "s3",
                endpoint_url=doc["s3_url"],
                aws_access_key_id=cred["access_key"],
                aws_secret_access_key=cred["secret"],
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
            )

        for bucket in ("master.bench", "master.small", "master.listing"):
            s3.create_bucket(Bucket=bucket)
        log("GetObject against kaon get file")
        get = bench_get(p, s3, work, int(args.big_gib * GiB), args.repeat)
        log(f"{args.puts} small PutObjects")
        puts = bench_puts(p, s3, args.puts)
        log(f"ListObjectsV2 over {args.objects:,} objects")
        listing = bench_list(p, s3, s3v4(), work, args.objects)
        log(f"{args.heads} HeadObjects per key and bucket")
        p.run("workspace", "create", "-n", "benchws")
        buckets = {"shared": "master.small", "workspace": "master.benchws-data"}
        s3.create_bucket(Bucket=buckets["workspace"])
        for bucket in buckets.values():
            s3.put_object(Bucket=bucket, Key="probe.txt", Body=b"probe")
        ed = editor_key(p, "benchws")
        editor = boto3.client(
            "s3",
            endpoint_url=doc["s3_url"],
            aws_access_key_id=ed["access_key"],
            aws_secret_access_key=ed["secret"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        heads = bench_heads({"admin": s3, "editor": editor}, buckets, args.heads)
    finally:
        p.down()
        shutil.rmtree(work, ignore_errors=True)
    checks = {
        "GetObject >= 50% of kaon get file": get["ratio"] >= 0.5,
        "ListObjectsV2 page of 1,000 keys <= 50 ms (gateway, mean)": listing["raw_mean_page_ms"]
        <= 50,
    }
    print("\nFigures")
    print(
        f"- GetObject of {get['bytes'] / GiB:.2f} GiB: {get['get_object_s']:.2f} s "
        f"({get['get_object_MBps']:,.0f} MB/s) vs `kaon get file` {get['kaon_get_s']:.2f} s "
        f"({get['kaon_get_MBps']:,.0f} MB/s): {get['ratio']:.0%} of it; boto3 download_file "
        f"(parallel ranges) {get['download_file_s']:.2f} s ({get['download_file_MBps']:,.0f} MB/s)"
    )
    print(
        f"- {puts['puts']} PutObjects of 1 KiB, one commit each: {puts['commits_per_s']:.0f} "
        f"commits/s, latency p50 {puts['p50_ms']:.1f} ms, p99 {puts['p99_ms']:.1f} ms, "
        f"max {puts['max_ms']:.1f} ms"
    )
    print(
        f"- ListObjectsV2 over {listing['objects']:,} objects ({listing['pages']} pages of "
        f"1,000): gateway (signed HTTP) mean {listing['raw_mean_page_ms']:.1f} ms/page, p99 "
        f"{listing['raw_p99_page_ms']:.1f}; through boto3 (its XML parsing included) mean "
        f"{listing['mean_page_ms']:.1f} ms/page, p50 {listing['p50_page_ms']:.1f}, p99 "
        f"{listing['p99_page_ms']:.1f}, first {listing['first_page_ms']:.1f} ms; the put -r of "
        f"them took {listing['put_s']:.1f} s"
    )
    print(
        "- HeadObject, ms per request (median of rounds of 100): "
        + ", ".join(f"{name} {ms:.2f}" for name, ms in heads.items())
    )
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        doc = {"get": get, "puts": puts, "list": listing, "heads": heads}
        args.json.write_text(json.dumps(doc, indent=2))
    return 1 if args.check and not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
