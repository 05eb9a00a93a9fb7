#!/usr/bin/env python3
"""Replica micro-benchmark: requests/s and latency of one replica serving a trivial predict.

One replica (kaon.exec.replicas.LocalReplicas, this interpreter as the environment) serves
`predict(payload, ctx) -> {"y": payload}`; one asyncio client keeps --connections connections
busy with JSON predicts of a small list for --seconds, one request at a time per connection (as
the gateway's pool does). Reported: requests/s, p50/p99 latency seen by the client, and the
replica's CPU time per request (psutil), which is what bounds a replica on its own core.

    uv run python benchmarks/replica_rps.py [--seconds 5] [--connections 8]

The client runs in this process with its own share of the CPU: on a machine with few cores the
figures are a lower bound of what the replica can do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from kaon.exec.replicas import LocalReplicas, ping
from kaon.ports.envbuilder import Environment
from kaon.ports.replicas import ReplicaSpec
from kaon.runtime.protocol import read_message, write_message

MODEL = """
    def load_ctx(model_dir):
        return None

    def predict(payload, ctx):
        return {"y": payload}
"""


async def client(address: str, stop: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_unix_connection(address)
    header = {"op": "predict", "id": "", "content_type": "application/json"}
    body = json.dumps([1.0, 2.0, 3.0, 4.0]).encode()
    n = 0
    try:
        while time.monotonic() < stop:
            n += 1
            header["id"] = str(n)
            started = time.perf_counter()
            await write_message(writer, header, body)
            reply, _ = await read_message(reader)
            latencies.append(time.perf_counter() - started)
            if reply["status"] != 200:
                raise SystemExit(f"predict failed: {reply}")
    finally:
        writer.close()


async def load(address: str, seconds: float, connections: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    started = time.monotonic()
    await asyncio.gather(
        *(client(address, started + seconds, latencies) for _ in range(connections))
    )
    return latencies, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    env = Environment("bench", Path(sys.prefix), Path(sys.executable).parent, Path(sys.executable))
    with tempfile.TemporaryDirectory(prefix="kaon-bench-") as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "model.py").write_text(textwrap.dedent(MODEL))
        replicas = LocalReplicas(root / "backend")
        spec = ReplicaSpec("bench", env, code, "model", code, run_dir=root / "run")
        replicas.start(spec, lambda line: None)
        try:
            deadline = time.monotonic() + 30
            while not (status := replicas.status("bench")) or not status.ready:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the replica did not start: {status}")
                time.sleep(0.02)
            address = status.addresses[0]
            answer = ping(address)
            assert answer is not None and isinstance(answer["pid"], int)
            replica = psutil.Process(answer["pid"])
            asyncio.run(load(address, 0.5, args.connections))  # warm-up
            cpu_before = sum(replica.cpu_times()[:2])
            latencies, elapsed = asyncio.run(load(address, args.seconds, args.connections))
            cpu = sum(replica.cpu_times()[:2]) - cpu_before
        finally:
            replicas.stop_all()
    latencies.sort()
    count = len(latencies)
    p99 = latencies[min(count - 1, int(count * 0.99))]
    print(f"cores: {psutil.cpu_count()}  connections: {args.connections}  seconds: {elapsed:.1f}")
    print(f"requests/s: {count / elapsed:,.0f}  ({count:,} requests)")
    print(f"latency: p50 {statistics.median(latencies) * 1e3:.3f} ms  p99 {p99 * 1e3:.3f} ms")
    print(f"replica CPU: {cpu / count * 1e6:.0f} µs per request ({cpu / elapsed:.0%} of a core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
