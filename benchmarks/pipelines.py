#!/usr/bin/env python3
"""Pipelines benchmark (issue 15): datum throughput, incremental latency, job start on a big
input, and a 3-stage chain, against baselines measured in the same run.

Targets (PASS/FAIL, on the median of the repeats; every figure printed as min-max):

  1. 1,000 datums (`glob: /*`, one small file each), a trivial Python transform (copy its
     input to /pfs/out), `parallelism_spec.constant: 2`: the job's wall time (`kaon inspect
     job`: started -> finished) <= 1.5 x a bare serial loop running the same command once per
     file with `subprocess`; with `datum_batching: true` (one process asking
     `kaon.runtime.datums.next_datum()`) >= 5 x faster than that bare loop. Also shown:
     input commit -> output commit (both commits' `finished`).
  2. Incremental: one more file committed to those 1,000: the start of `kaon put file` ->
     the downstream output commit (its `finished`) <= 1.5 s, and exactly 1 datum processed.
  3. Job start: 200,000 files in the input repo (one `kaon put file -r` of a folder),
     `glob: /*`: input commit (`finished`) -> first datum running (the time the transform
     prints first, read back with `kaon logs`) <= 5 s. The job is then stopped.
  4. A 3-stage chain (each stage a source bundle with an empty requirements.txt, `glob: /`)
     on one small commit, environments warm (one untimed run first): the start of `kaon put
     file` -> the last stage's output commit <= 3 s.

Method: one throw-away KAON_HOME (`kaon up` on a free port before timing); fresh repos and
pipelines per repeat of item 1 (so no datum is skipped); every figure is a wall clock on
this machine, read from the platform's own epoch timestamps where it has them.

    uv run python benchmarks/pipelines.py [--repeat N] [--quick] [--files N] [--big N]

--quick: 200 datums and 20,000 big-input files, one repeat. Exit code 0 unless --check is
given and a target fails or a step fails (then 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import kaon_exe, log, print_table, rmtree, stop_server, terminate_as_exit, verdict

PYTHON = sys.executable  # the platform's own Python runs a transform without a source bundle
COPY = (
    "import os, shutil, sys\n"
    "src, dst = sys.argv[1], sys.argv[2]\n"
    "names = [os.path.join(src, n) for n in os.listdir(src)] if os.path.isdir(src) else [src]\n"
    "for n in names: shutil.copy(n, dst)\n"
)
BATCH = (
    "import os, shutil\n"
    "from kaon.runtime.datums import next_datum\n"
    "while next_datum() is not None:\n"
    "    root = os.environ.get('PFS_DIR', '/pfs')\n"
    "    src = os.path.join(root, 'in')\n"
    "    for n in os.listdir(src): shutil.copy(os.path.join(src, n), os.path.join(root, 'out'))\n"
)
STAMP = "import time; print('KAON_BENCH_FIRST', repr(time.time()), flush=True)\n"
TIMEOUT = 1800.0
RATIO_TARGET, BATCH_TARGET, INCR_TARGET, START_TARGET, CHAIN_TARGET = 1.5, 5.0, 1.5, 5.0, 3.0
FINAL = {"JOB_SUCCESS", "JOB_FAILURE", "JOB_KILLED", "JOB_UNRUNNABLE"}


class Kaon:
    def __init__(self, exe: Path, home: Path) -> None:
        self.exe, self.home = exe, home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        self.env.update(KAON_HOME=str(home), KAON_PORT="0")

    def __call__(self, *args: str) -> str:
        p = subprocess.run(
            [str(self.exe), *args], env=self.env, capture_output=True, text=True, timeout=TIMEOUT
        )
        if p.returncode != 0:
            raise RuntimeError(f"kaon {' '.join(args)} -> {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))

    def head(self, repo: str) -> dict[str, Any]:
        commits: list[dict[str, Any]] = self.json("list", "commit", f"{repo}@master", "-n", "1")
        return commits[0]

    def spec(self, folder: Path, name: str, text: str) -> None:
        path = folder / f"{name}.json" if text.startswith("{") else folder / f"{name}.yaml"
        path.write_text(text)
        self("create", "pipeline", "-f", str(path))

    def wait_jobs(self, gid: str, count: int) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            jobs = self.json("list", "job", gid)
            if len(jobs) >= count and all(j["state"] in FINAL for j in jobs):
                bad = [j for j in jobs if j["state"] != "JOB_SUCCESS"]
                if bad:
                    raise RuntimeError(f"job {bad[0]['pipeline']}@{gid}: {bad[0]['reason']}")
                return {j["pipeline"]: j for j in jobs}
            time.sleep(0.05)
        raise RuntimeError(f"the jobs of {gid} did not end within {TIMEOUT:.0f} s")

    def output_finished(self, repo: str, commit: str) -> float:
        for c in self.json("list", "commit", f"{repo}@master", "-n", "5"):
            if c["id"] == commit:
                return float(c["finished"])
        raise RuntimeError(f"output commit {repo}@{commit} not found")


def copy_spec(name: str, repo: str, *, batching: bool = False) -> str:
    doc: dict[str, Any] = {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": repo, "name": "in", "glob": "/*"}},
        "transform": {"cmd": [PYTHON, "-c", COPY, "/pfs/in", "/pfs/out"]},
        "parallelism_spec": {"constant": 2},
    }
    if batching:
        doc["transform"] = {"cmd": [PYTHON, "-c", BATCH], "datum_batching": True}
    return json.dumps(doc)


def small_files(folder: Path, count: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (folder / f"f{i:06d}").write_bytes(b"%d\n" % i * 8)
    return folder


def bare_loop(files: Path, out: Path) -> float:
    """The baseline: the same command once per file, serially, with subprocess."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for f in sorted(files.iterdir()):
        subprocess.run([PYTHON, "-c", COPY, str(f), str(out)], check=True)
    return time.perf_counter() - t0


def datums(k: Kaon, work: Path, n: int, repeat: int, res: dict[str, list[float]]) -> None:
    """Items 1 and 2."""
    files = small_files(work / "many", n)
    for r in range(repeat):
        log(f"[1] repeat {r + 1}/{repeat}: bare loop over {n} files")
        res["bare"].append(bare_loop(files, work / f"bare-{r}"))
        for kind in ("plain", "batch"):
            repo, name = f"many-{kind}-{r}", f"copy-{kind}-{r}"
            k("repo", "create", repo)
            k.spec(work, name, copy_spec(name, repo, batching=kind == "batch"))
            log(f"[1] repeat {r + 1}/{repeat}: {kind} pipeline over {n} datums")
            k("put", "file", f"{repo}@master:/", "-f", str(files), "-r")
            commit = k.head(repo)
            job = k.wait_jobs(commit["id"], 1)[name]
            if job["counts"]["processed"] != n:
                raise RuntimeError(f"{name}: {job['counts']} (expected {n} processed)")
            res[f"{kind}_wall"].append(job["finished"] - job["started"])
            out = k.output_finished(name, job["output_commit"])
            res[f"{kind}_commit"].append(out - commit["finished"])
        res["ratio"].append(res["plain_wall"][-1] / res["bare"][-1])
        res["speedup"].append(res["bare"][-1] / res["batch_wall"][-1])
        if r == 0:
            incremental(k, work, n, repeat, res)


def incremental(k: Kaon, work: Path, n: int, repeat: int, res: dict[str, list[float]]) -> None:
    repo, name = "many-plain-0", "copy-plain-0"
    for i in range(max(repeat, 3)):
        one = small_files(work / f"one-{i}", 1, start=n + i)
        f = next(one.iterdir())
        t0 = time.time()
        k("put", "file", f"{repo}@master:/{f.name}", "-f", str(f))
        commit = k.head(repo)
        job = k.wait_jobs(commit["id"], 1)[name]
        out = k.output_finished(name, job["output_commit"])
        res["incr"].append(out - t0)
        res["incr_commit"].append(out - commit["finished"])
        res["incr_processed"].append(job["counts"]["processed"])
        log(f"[2] one more file: {res['incr'][-1]:.2f} s, {job['counts']}")


def job_start(k: Kaon, work: Path, big: int, res: dict[str, list[float]]) -> None:
    """Item 3: commit -> first datum running, over `big` files."""
    log(f"[3] writing {big:,} files")
    files = small_files(work / "big", big)
    k("repo", "create", "big")
    spec = {
        "pipeline": {"name": "bigstart"},
        "input": {"pfs": {"repo": "big", "name": "in", "glob": "/*"}},
        "transform": {"cmd": [PYTHON, "-c", STAMP]},
        "parallelism_spec": {"constant": 2},
    }
    k.spec(work, "bigstart", json.dumps(spec))
    t0 = time.monotonic()
    k("put", "file", "big@master:/", "-f", str(files), "-r")
    res["big_put"].append(time.monotonic() - t0)
    log(f"[3] put file -r of {big:,} files: {res['big_put'][-1]:.1f} s")
    commit = k.head("big")
    gid = commit["id"]
    deadline = time.monotonic() + TIMEOUT
    first = None
    while first is None and time.monotonic() < deadline:
        try:
            text = k("logs", "--job", f"bigstart@{gid}", "--raw")
        except RuntimeError:  # no job yet
            text = ""
        stamps = [
            float(line["message"].split()[1])
            for line in map(json.loads, text.splitlines())
            if line["message"].startswith("KAON_BENCH_FIRST")
        ]
        first = min(stamps) if stamps else None
        time.sleep(0.05)
    if first is None:
        raise RuntimeError("bigstart: no datum ran")
    job = k.json("inspect", "job", f"bigstart@{gid}")
    for line in map(json.loads, text.splitlines()):  # where the time went: the job's own lines
        if not line["datum"]:
            log(f"[3]   +{line['ts'] - commit['finished']:6.2f} s  {line['message'][:100]}")
    k("stop", "job", f"bigstart@{gid}")
    res["start"].append(first - commit["finished"])
    res["start_from_job"].append(first - job["created"])


def chain(k: Kaon, work: Path, repeat: int, res: dict[str, list[float]]) -> None:
    """Item 4: put file -> last stage's output commit, environments warm."""
    code = work / "chain" / "code"
    code.mkdir(parents=True)
    (code / "requirements.txt").write_text("")
    (code / "copy.py").write_text(COPY)
    docs = []
    for name, src in (("stage1", "chainin"), ("stage2", "stage1"), ("stage3", "stage2")):
        docs.append(
            f"pipeline: {{name: {name}}}\ninput: {{pfs: {{repo: {src}, name: in, glob: /}}}}\n"
            "transform: {cmd: [python, copy.py, /pfs/in, /pfs/out], source: code}\n"
        )
    (work / "chain" / "specs.yaml").write_text("---\n".join(docs))
    k("repo", "create", "chainin")
    k("create", "pipeline", "-f", str(work / "chain" / "specs.yaml"))
    for i in range(repeat + 1):
        f = work / "chain" / f"x{i}"
        f.write_text(f"{i}\n")
        t0 = time.time()
        k("put", "file", f"chainin@master:/x{i}", "-f", str(f))
        gid = k.head("chainin")["id"]
        last = k.wait_jobs(gid, 3)["stage3"]
        took = k.output_finished("stage3", last["output_commit"]) - t0
        log(f"[4] chain {'(warm-up) ' if i == 0 else ''}{took:.2f} s")
        if i:
            res["chain"].append(took)


def span(xs: Sequence[float], fmt: str = "{:.2f}") -> str:
    if not xs:
        return "n/a"
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"


def med(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def check(xs: Sequence[float], target: float, *, at_least: bool = False) -> bool | None:
    m = med(xs)
    if m is None:
        return None
    return m >= target if at_least else m <= target


def report(res: dict[str, list[float]], n: int, big: int) -> list[list[str]]:
    processed_ok = None
    if res["incr_processed"]:
        processed_ok = all(p == 1 for p in res["incr_processed"])
    ok_incr = check(res["incr"], INCR_TARGET)
    both = None if ok_incr is None else ok_incr and bool(processed_ok)
    return [
        [
            f"{n} datums, parallelism 2: job wall / bare loop",
            span(res["ratio"], "{:.2f}x"),
            f"job {span(res['plain_wall'])} s, bare loop {span(res['bare'])} s, "
            f"commit->output {span(res['plain_commit'])} s",
            f"<= {RATIO_TARGET}x",
            verdict(check(res["ratio"], RATIO_TARGET)),
        ],
        [
            "datum_batching: bare loop / job wall",
            span(res["speedup"], "{:.1f}x"),
            f"job {span(res['batch_wall'])} s, commit->output {span(res['batch_commit'])} s",
            f">= {BATCH_TARGET}x",
            verdict(check(res["speedup"], BATCH_TARGET, at_least=True)),
        ],
        [
            "one more file: put file -> output commit",
            f"{span(res['incr'])} s",
            f"datums processed {sorted(set(int(p) for p in res['incr_processed']))}; "
            f"input commit -> output commit {span(res['incr_commit'])} s",
            f"<= {INCR_TARGET} s, 1 datum",
            verdict(both),
        ],
        [
            f"{big:,} files: commit -> first datum running",
            f"{span(res['start'])} s",
            f"from the job's creation {span(res['start_from_job'])} s; "
            f"put -r {span(res['big_put'], '{:.0f}')} s",
            f"<= {START_TARGET} s",
            verdict(check(res["start"], START_TARGET)),
        ],
        [
            "3-stage chain, warm: put file -> last output",
            f"{span(res['chain'])} s",
            "",
            f"<= {CHAIN_TARGET} s",
            verdict(check(res["chain"], CHAIN_TARGET)),
        ],
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeat", type=int, default=3, help="timed repeats (default 3)")
    p.add_argument("--quick", action="store_true", help="200 datums, 20,000 big files, 1 repeat")
    p.add_argument("--files", type=int, default=None, help="datums of item 1 (default 1,000)")
    p.add_argument("--big", type=int, default=None, help="files of item 3 (default 200,000)")
    p.add_argument("--only", choices=["datums", "start", "chain"], action="append")
    p.add_argument("--kaon", default=None, help="the kaon CLI (default: beside this Python)")
    p.add_argument("--workdir", type=Path, default=None, help="where the temp folder goes")
    p.add_argument("--keep", action="store_true", help="keep the temp folder")
    p.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = args.files or (200 if args.quick else 1000)
    big = args.big or (20_000 if args.quick else 200_000)
    repeat = 1 if args.quick else max(1, args.repeat)
    only = set(args.only or ["datums", "start", "chain"])
    parent = args.workdir.absolute() if args.workdir else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-pipelines-", dir=parent))
    k = Kaon(kaon_exe(args.kaon), work / "home")
    res: dict[str, list[float]] = defaultdict(list)
    error = None
    started = time.monotonic()
    with terminate_as_exit():
        try:
            log(f"workdir {work}: kaon up")
            k("up")
            if "chain" in only:
                chain(k, work, repeat, res)
            if "datums" in only:
                datums(k, work, n, repeat, res)
            if "start" in only:
                job_start(k, work, big, res)
        except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log(f"benchmark step failed: {error}")
        finally:
            stop_server(k.exe, k.home, k.env)
            if args.keep:
                log(f"kept {work}")
            else:
                rmtree(work)
    rows = report(res, n, big)
    print()
    print(
        f"kaon pipelines benchmark - {os.cpu_count()} CPU; {repeat} repeat(s), min-max; "
        f"verdicts on medians; took {time.monotonic() - started:.0f} s"
    )
    if error:
        print(f"ERROR: a step failed, its figures and those after it are missing: {error}")
    print()
    print_table(["CHECK", "KAON", "DETAIL", "TARGET", "RESULT"], rows)
    failed = error is not None or any(r[-1] == "FAIL" for r in rows)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
