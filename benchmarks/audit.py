#!/usr/bin/env python3
"""The audit log's overhead on small writes: this tree against a tree without it (--base).

Each round starts a fresh local platform per tree (the base one runs with PYTHONPATH set to
`git archive <base> src`, the same venv otherwise) and times, with one client each:

  * --puts small S3 PutObjects (1 KiB, one commit each: s3.py's `bench_puts`), every one an
    audit entry;
  * --rest REST writes (`PUT /v1/repos/r/branches/bN`: create a branch, a metadata-only write,
    over one keep-alive connection), every one an audit entry.

The trees alternate (base, this, this, base, ...) so drifting machine load hits both alike.
The figures are this tree's over the base's (1.00: no overhead) for throughput and for the
server's CPU time per write (all its threads, the audit's writer included: on a loaded machine
the steadier one), median of --rounds, with the range of the per-round ratios.

    uv run python benchmarks/audit.py [--base 45edcce] [--rounds 3] [--puts 300] [--rest 500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from _common import log

from s3 import Platform, bench_puts

HERE = Path(__file__).resolve().parent
BASE = "45edcce"  # main just before the audit log


def rest_writes(p: Platform, doc: dict[str, Any], n: int) -> float:
    """Seconds for `n` branch creations over one keep-alive connection."""
    p.run("repo", "create", "r")
    token = (p.home / "token").read_text().strip()
    url = urlsplit(doc["url"])
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for i in range(n):
        conn.request("PUT", f"/v1/repos/r/branches/b{i}", body=b'{"head": null}', headers=headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def one(work: Path, src: Path | None, puts: int, rest: int) -> dict[str, float]:
    import boto3
    from botocore.config import Config

    p = Platform(Path(tempfile.mkdtemp(prefix="kaon-audit-bench-", dir=work)))
    if src is not None:
        p.env["PYTHONPATH"] = str(src)
    try:
        doc = p.up()
        cred = json.loads(p.run("auth", "s3-credentials", "--json"))
        s3 = boto3.client(
            "s3",
            endpoint_url=doc["s3_url"],
            aws_access_key_id=cred["access_key"],
            aws_secret_access_key=cred["secret"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.create_bucket(Bucket="master.small")
        server = psutil.Process(int(doc["pid"]))
        cpu0 = _cpu(server)
        s3_doc = bench_puts(p, s3, puts)
        cpu1 = _cpu(server)
        rest_s = rest_writes(p, doc, rest)
        cpu2 = _cpu(server)
    finally:
        p.down()
    return {
        "s3_per_s": s3_doc["commits_per_s"],
        "rest_per_s": rest / rest_s,
        # the server's CPU time per write (all its threads): what load on the machine does
        # not change much, unlike wall-clock throughput
        "s3_cpu_ms": (cpu1 - cpu0) / puts * 1000,
        "rest_cpu_ms": (cpu2 - cpu1) / rest * 1000,
    }


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--base", default=BASE, help="a git revision without the audit log")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--rest", type=int, default=500)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    work = Path(tempfile.mkdtemp(prefix="kaon-audit-bench-"))
    try:
        archive = subprocess.run(
            ["git", "archive", args.base, "src"], cwd=HERE.parent, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        base_src = work / "src"
        runs: dict[str, list[dict[str, float]]] = {"base": [], "audit": []}
        for r in range(args.rounds):
            order = ["base", "audit"] if r % 2 == 0 else ["audit", "base"]
            for name in order:
                log(f"round {r + 1}: {name}")
                src = base_src if name == "base" else None
                runs[name].append(one(work, src, args.puts, args.rest))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nFigures (per round; ratio = with audit / base)")
    for key, what in (
        ("s3_per_s", f"{args.puts} S3 PutObjects, writes/s"),
        ("rest_per_s", f"{args.rest} REST writes, writes/s"),
        ("s3_cpu_ms", "S3 PutObject, server CPU ms per write"),
        ("rest_cpu_ms", "REST write, server CPU ms per write"),
    ):
        base = [x[key] for x in runs["base"]]
        new = [x[key] for x in runs["audit"]]
        ratios = [n / b for n, b in zip(new, base, strict=True)]
        print(
            f"- {what}: base {', '.join(f'{b:.3g}' for b in base)}; with audit "
            f"{', '.join(f'{n:.3g}' for n in new)}; ratio of medians "
            f"{statistics.median(new) / statistics.median(base):.2f}, per round median "
            f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
