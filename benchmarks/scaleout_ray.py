#!/usr/bin/env python3
"""Ray executor benchmark: a 12-trial grid with `-p 2` on a one-node Ray cluster against the
local executor, on this machine.

Target (PASS/FAIL): the grid's wall time on Ray (the job's `started` -> `finished`) <= 1.25 x
the same grid with the local executor (median over repeats). Also reported: each trial's
start overhead — from the trial's `started` (the server hands the task to its executor) to the
first line of its `train` (which prints `time.time()` first thing) — per executor, and the
CLI's `train deploy --wait` wall clock. Ranges (min..max) over the repeats.

Method: one throw-away KAON_HOME per executor below --workdir, a `kaon server` each (the Ray
one with KAON_EXECUTOR=ray://…); a one-node Ray cluster (2 CPUs, 150 MB object store; the
test suite's, tests/rayfixtures.py) is started unless --ray ADDRESS names one. The trainer
is pure Python (empty requirements: the environment is cached after one warm-up deploy) and
burns ~1 s of CPU per trial, so the figures are the executor's own cost, not the model's.
A Ray trial reads its code and data from the object store by manifest, runs in a Ray task
and sends its model back as a tar; the local one reads the store's files directly.

    uv run python benchmarks/scaleout_ray.py [--workdir DIR] [--repeat N | --quick]
        [--ray ray://h:p] [--json FILE] [--check]

Exit code 0 unless --check is given and the target fails or a step fails (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import HERE, kaon_exe, log, print_table, rmtree, stop_server, terminate_as_exit
from _common import verdict as verdict_of

TARGET = 1.25  # Ray's grid wall / the local one's
START_SECONDS = 300.0
MARK = "KAON_RAY_BENCH_START"
TRAIN = f"""#!/usr/bin/env python3
import time
print("{MARK}", repr(time.time()), flush=True)
import json, sys, pathlib
params = json.load(open("params.json"))
x = 0
for i in range(3_000_000):  # ~1 s of CPU
    x = (x * 31 + i) % 1_000_003
out = pathlib.Path(sys.argv[1])
(out / "model").mkdir(parents=True)
(out / "model" / "m.json").write_text(json.dumps({{"x": x, **params}}))
"""
GRID = {"a": [1, 2, 3, 4], "b": [1, 2, 3]}  # 12 trials


@contextlib.contextmanager
def server(kaon: Path, home: Path, extra: dict[str, str]) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env |= {"KAON_HOME": str(home), "KAON_PORT": "0", **extra}
    home.mkdir(parents=True, exist_ok=True)
    out = (home / "server.out").open("wb")
    proc = subprocess.Popen([str(kaon), "server"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (home / "server.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"kaon server did not start: {(home / 'server.out').read_text()}"
                )
            time.sleep(0.5)
        yield env
    finally:
        stop_server(kaon, home, env)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        out.close()


def cli(kaon: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(kaon), *args], env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"kaon {' '.join(args)} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout


def grid_once(kaon: Path, env: dict[str, str], work: Path) -> dict[str, Any]:
    """One grid deploy --wait: its walls and each trial's start overhead."""
    t0 = time.time()
    job = json.loads(
        cli(
            kaon,
            env,
            *("train", "deploy", "-s", str(work / "code"), "-d", str(work / "data")),
            *("-h", str(work / "grid.json"), "-p", "2", "--wait", "--json"),
        )
    )
    cli_wall = time.time() - t0
    if job["state"] != "JOB_SUCCESS":
        raise RuntimeError(f"job {job['id']} ended {job['state']}: {job.get('reason')}")
    logs = cli(kaon, env, "train", "logs", "-j", job["id"])
    first: dict[int, float] = {}
    for line in logs.splitlines():
        if MARK in line and "[trial " in line:
            index = int(line.split("[trial ", 1)[1].split("]", 1)[0])
            first.setdefault(index, float(line.rsplit(" ", 1)[1]))
    overheads = [first[t["index"]] - t["started"] for t in job["trials"] if t["index"] in first]
    return {
        "wall": job["finished"] - job["started"],
        "cli": cli_wall,
        "overheads": overheads,
        "trials": len(job["trials"]),
    }


def measure(
    kaon: Path, name: str, home: Path, extra: dict[str, str], work: Path, repeat: int
) -> list[dict[str, Any]]:
    log(f"{name}: starting a kaon server")
    with server(kaon, home, extra) as env:
        env = {**env, "KAON_WORKSPACE": "bench"}
        cli(kaon, env, "workspace", "create", "-n", "bench")
        log(f"{name}: warm-up grid (environment, Ray workers)")
        grid_once(kaon, env, work)
        runs = []
        for i in range(repeat):
            runs.append(grid_once(kaon, env, work))
            log(f"{name} {i + 1}/{repeat}: grid wall {runs[-1]['wall']:.2f} s")
        return runs


def span(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    if not values:
        return "n/a"
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"median {mid * scale:.2f} {unit} ({lo * scale:.2f}..{hi * scale:.2f})"


def arg_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, help="where the homes go (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=None, help="timed grids (default 3; 1 --quick)")
    ap.add_argument("--quick", action="store_true", help="one timed grid per executor")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--ray", help="a running cluster's ray://host:port (default: start one)")
    ap.add_argument("--kaon", help="the kaon CLI (default: found)")
    ap.add_argument("--check", action="store_true", help="exit 1 when the target fails")
    return ap


def main() -> int:
    args = arg_parser().parse_args()
    args.repeat = args.repeat or (1 if args.quick else 3)
    kaon = kaon_exe(args.kaon)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-ray-", dir=args.workdir))
    (work / "code" / "proj").mkdir(parents=True)
    (work / "code" / "proj" / "train").write_text(TRAIN)
    (work / "code" / "proj" / "train").chmod(0o755)
    (work / "code" / "proj" / "requirements.txt").write_text("")
    (work / "code" / "proj" / "params.json").write_text("{}")
    (work / "data" / "rows").mkdir(parents=True)
    (work / "data" / "rows" / "x.csv").write_text("1,2\n" * 100)
    (work / "grid.json").write_text(json.dumps(GRID))
    sys.path.insert(0, str(HERE.parent / "tests"))
    from rayfixtures import start_ray_cluster

    try:
        with terminate_as_exit(), contextlib.ExitStack() as stack:
            address = args.ray
            if address is None:
                log("starting a one-node Ray cluster (2 CPUs)")
                address = stack.enter_context(start_ray_cluster()).address
            local = measure(kaon, "local", work / "home-local", {}, work, args.repeat)
            ray_extra = {
                "KAON_EXECUTOR": address,
                "KAON_RAY_WORKDIR": str(work / "node" / "tasks"),
                "KAON_RAY_ENVS": str(work / "node" / "envs"),
            }
            on_ray = measure(kaon, "ray", work / "home-ray", ray_extra, work, args.repeat)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        rmtree(work)
    walls = {n: [r["wall"] for r in runs] for n, runs in (("local", local), ("ray", on_ray))}
    ratios = [r / lo for r, lo in zip(walls["ray"], walls["local"], strict=True)]
    ratio = statistics.median(walls["ray"]) / statistics.median(walls["local"])
    ok = ratio <= TARGET
    print(f"12-trial grid, -p 2, {args.repeat} repeats after a warm-up; Ray at {address}")
    rows = []
    for name, runs in (("local", local), ("ray", on_ray)):
        over = [o for r in runs for o in r["overheads"]]
        rows.append(
            [
                name,
                span([r["wall"] for r in runs]),
                span([r["cli"] for r in runs]),
                span(over, "ms", 1000.0),
            ]
        )
    print_table(["EXECUTOR", "GRID WALL", "CLI WALL", "TRIAL START OVERHEAD"], rows)
    print(
        f"ray / local grid wall: {ratio:.2f}x (per repeat {min(ratios):.2f}..{max(ratios):.2f}), "
        f"target <= {TARGET}x: {verdict_of(ok)}"
    )
    if args.json:
        figures = {"address": address, "local": local, "ray": on_ray, "ratio": ratio, "ok": ok}
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
