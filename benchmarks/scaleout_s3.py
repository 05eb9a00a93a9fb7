"""kaon on an S3 object store: put/get of 1 GiB through kaon vs the bare client (issue 17).

```
uv run python benchmarks/scaleout_s3.py --workdir DIR            # 1 GiB, 3 repeats (~5 min)
uv run python benchmarks/scaleout_s3.py --workdir DIR --quick    # 256 MiB, 2 repeats
uv run python benchmarks/scaleout_s3.py --endpoint http://host:9000 --bucket B   # another S3
```

A kaon server (`kaon up`, fresh KAON_HOME under --workdir) stores its objects on the S3
server (KAON_STORE_URL=s3://BUCKET/kaon-...?endpoint=...): a moto server started here unless
--endpoint is given (credentials from the AWS_* variables; dummies for moto). Each repetition
writes a fresh random file (so kaon's dedup saves nothing), then times, in an order that
alternates between repetitions:

* `kaon put file bench@master:/big-N.bin -f FILE` (the CLI as a subprocess, start-up
  included) vs a bare multipart upload of the same file to the same server with the same
  client kaon uses (boto3 `upload_file`, its default transfer settings);
* `kaon get file ... -o OUT` vs the bare download of that object: one streaming
  `get_object` written to a file and fsynced (kaon's get returns once its file is on disk,
  so the bare one pays the same write-back); with --download-file also boto3's `download_file` (parallel ranged GETs), the
  faster of the two counting. moto reads and copies the WHOLE object for every ranged GET,
  so there `download_file` of 1 GiB takes ~6 minutes; kaon reads a pack it needs most of in
  one streaming GET (sparse reads only by ranges), so it pays that copy once per pack.

The ratios are bare seconds / kaon seconds (kaon's throughput as a fraction of the bare
client's), measured in the same run; reported per repetition, as a range and a median.
Targets (issue 17): put >= 0.8, get >= 0.8 (median). `--check` exits 1 when one fails.
`KAON_PACK_DROP=0` is passed on (the HTTP path a client on another machine uses).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import stop_process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(endpoint: str | None = None) -> Iterator[str]:
    """`endpoint` if given, else a moto server (subprocess) on a free port, stopped on exit."""
    if endpoint:
        yield endpoint
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit(f"moto server did not start: {log.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        yield url
    finally:
        stop_process(proc)
        log.close()


MIB = 1 << 20
BENCH = "bench"


def kaon_exe() -> str:
    beside = Path(sys.executable).parent / "kaon"
    return str(beside) if beside.exists() else shutil.which("kaon") or "kaon"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def random_file(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def timed(fn: Any) -> float:
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cli(env: dict[str, str], *args: str) -> str:
    p = subprocess.run([kaon_exe(), *args], env=env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"kaon {' '.join(args)} -> {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


def one_get(client: Any, bucket: str, key: str, out: Path) -> None:
    """The object in one streaming GET (no ranges), written as it comes, then fsynced: the
    same end state as `kaon get file`, which returns once the file is on disk."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    with out.open("wb") as f:
        while block := body.read(8 * MIB):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def one_repetition(
    rep: int, work: Path, size: int, env: dict[str, str], client: Any, bucket: str, ranged: bool
) -> dict[str, float]:
    src = work / f"big-{rep}.bin"
    random_file(src, size)
    out_kaon, out_bare = work / f"got-kaon-{rep}.bin", work / f"got-bare-{rep}.bin"
    key = f"bare/big-{rep}.bin"
    steps = {
        "kaon_put": lambda: cli(
            env, "put", "file", f"{BENCH}@master:/big-{rep}.bin", "-f", str(src)
        ),
        "bare_put": lambda: client.upload_file(str(src), bucket, key),
        "kaon_get": lambda: cli(
            env, "get", "file", f"{BENCH}@master:/big-{rep}.bin", "-o", str(out_kaon)
        ),
        "bare_get": lambda: client.download_file(bucket, key, str(out_bare)),
        "bare_get1": lambda: one_get(client, bucket, key, out_bare),
    }
    order = ["kaon_put", "bare_put", "kaon_get", "bare_get1"]
    if rep % 2:
        order = ["bare_put", "kaon_put", "bare_get1", "kaon_get"]
    if ranged:
        order.append("bare_get")
    r: dict[str, float] = {}
    for step in order:
        r[step] = timed(steps[step])
        log(f"  rep {rep} {step}: {r[step]:.2f} s ({size / MIB / r[step]:.0f} MiB/s)")
    if not (
        filecmp.cmp(src, out_kaon, shallow=False) and filecmp.cmp(src, out_bare, shallow=False)
    ):
        raise RuntimeError(f"rep {rep}: a downloaded copy differs from the file put")
    for f in (src, out_kaon, out_bare):
        f.unlink()
    client.delete_object(Bucket=bucket, Key=key)
    r["put_ratio"] = r["bare_put"] / r["kaon_put"]
    r["get_ratio"] = min(r.get("bare_get", r["bare_get1"]), r["bare_get1"]) / r["kaon_get"]
    return r


def arg_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None, help="where the files and KAON_HOME go")
    ap.add_argument("--quick", action="store_true", help="256 MiB, 2 repeats")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--size-mib", type=int, default=None)
    ap.add_argument("--endpoint", default=None, help="an S3 server (default: moto, started here)")
    ap.add_argument("--bucket", default=None, help="an existing bucket (default: created)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    ap.add_argument(
        "--download-file",
        action="store_true",
        help="also time boto3's download_file (ranged GETs: ~6 min per GiB on moto)",
    )
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    return ap


def main() -> int:
    args = arg_parser().parse_args()
    size = (args.size_mib or (256 if args.quick else 1024)) * MIB
    repeat = args.repeat or (2 if args.quick else 3)
    for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        if not args.endpoint:
            os.environ.setdefault(k, v)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    work = Path(args.workdir or tempfile.gettempdir()) / f"scaleout-s3-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    home = work / "home"
    results: list[dict[str, float]] = []
    import boto3
    from botocore.config import Config

    try:
        with moto_server(args.endpoint) as endpoint:
            client = boto3.client(
                "s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"})
            )
            bucket = args.bucket or f"kaon-bench-{uuid.uuid4().hex[:12]}"
            if not args.bucket:
                client.create_bucket(Bucket=bucket)
            store = f"s3://{bucket}/kaon-{uuid.uuid4().hex[:8]}?endpoint={endpoint}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
            if "KAON_PACK_DROP" in os.environ:
                env["KAON_PACK_DROP"] = os.environ["KAON_PACK_DROP"]
            env.update(KAON_HOME=str(home), KAON_PORT="0", KAON_STORE_URL=store)
            log(f"kaon up on {store} ({size // MIB} MiB x {repeat})")
            cli(env, "up")
            try:
                cli(env, "repo", "create", BENCH)
                for rep in range(repeat):
                    results.append(
                        one_repetition(rep, work, size, env, client, bucket, args.download_file)
                    )
            finally:
                subprocess.run([kaon_exe(), "down"], env=env, capture_output=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = report(results, size)
    if args.json:
        Path(args.json).write_text(json.dumps({"size": size, "repetitions": results}, indent=2))
    return 0 if ok or not args.check else 1


def report(results: list[dict[str, float]], size: int) -> bool:
    print(f"\nkaon on S3 vs the bare client (boto3), {size // MIB} MiB, {len(results)} repeats")
    print("| step | kaon MiB/s | bare MiB/s | ratio (range) | median | target | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for step in ("put", "get"):
        ratios = [r[f"{step}_ratio"] for r in results]
        kaon = statistics.median(size / MIB / r[f"kaon_{step}"] for r in results)
        best = (
            (lambda r: r["bare_put"])
            if step == "put"
            else (lambda r: min(r.get("bare_get", r["bare_get1"]), r["bare_get1"]))
        )
        bare = statistics.median(size / MIB / best(r) for r in results)
        med = statistics.median(ratios)
        passed = med >= 0.8
        ok &= passed
        print(
            f"| {step} | {kaon:.0f} | {bare:.0f} | {min(ratios):.2f}-{max(ratios):.2f} "
            f"| {med:.2f} | >= 0.80 | {'PASS' if passed else 'FAIL'} |"
        )
    return ok


if __name__ == "__main__":
    sys.exit(main())
