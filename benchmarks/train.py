#!/usr/bin/env python3
"""Training benchmark: deploy latency, the mnist template end to end, and grid parallelism.

Targets (PASS/FAIL), all with the environment already cached (one untimed warm-up deploy
builds it first):

  * `kaon train deploy` -> user code running: <= 1 s median. From the start of the CLI
    subprocess `kaon train deploy -s <tiny code> -d <tiny data>` to the first line of the
    tiny `train` script, which prints `time.time()` (read back with `kaon train logs`). Its
    requirements.txt is empty; one line of its code changes before every deploy (a new
    source bundle each time, as when iterating on code).
  * the mnist template (`kaon template get --name mnist`), `kaon train deploy -s
    templates/mnist/model-train -d templates/mnist/data --wait` -> JOB_SUCCESS: <= 10 s
    median (kaos needed ~70 s). Wall clock of the whole CLI command.
  * the template's 12-point grid (`-h templates/mnist/hyperopt/params.json -p 2`): the job's
    wall time (its `started` -> `finished`) <= 0.65 x the sum of its trials' own times
    (`started` -> `finished` of each trial in `kaon train info --json`).

Method: one throw-away KAON_HOME (free port, `kaon up` before timing), one workspace per
measurement group (`kaon workspace create`, then KAON_WORKSPACE). Every figure is a wall
clock on this machine; the breakdown of a deploy uses the CLI's own progress lines (time of
arrival), the job's and trials' epoch timestamps, and the train script's printed start time.

    uv run python benchmarks/train.py [--repeat N] [--grid-repeat N] [--check]

Exit code 0 unless --check is given and a target fails or a step fails (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import (
    kaon_exe,
    log,
    print_table,
    rmtree,
    stop_server,
    terminate_as_exit,
    verdict,
)

HERE = Path(__file__).resolve().parent
GiB = 1024**3
DEPLOY_TARGET = 1.0  # s, deploy -> user code running
MNIST_TARGET = 10.0  # s, deploy --wait -> JOB_SUCCESS
GRID_TARGET = 0.65  # wall / sum of trial times
KAOS_MNIST = 70.0  # s, what kaos needed for the same deploy
JOB_TIMEOUT = 600.0  # s, per CLI command
START_MARK = "KAON_BENCH_START"

TINY_TRAIN = f'''#!/usr/bin/env python3
import time

print("{START_MARK}", repr(time.time()), flush=True)

import sys
from pathlib import Path

out = Path(sys.argv[1])
(out / "model").mkdir(parents=True, exist_ok=True)
(out / "model" / "model.txt").write_text("tiny\\n")
print("{START_MARK}_END", repr(time.time()), flush=True)
# revision: {{rev}}
'''


# ---------------------------------------------------------------------------------------
# small helpers


def fmt_s(s: float | None, digits: int = 2) -> str:
    return "n/a" if s is None else f"{s:.{digits}f} s"


def fmt_ms(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1000:,.0f} ms"


def median(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def maximum(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return max(vals) if vals else None


def diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def run(
    cmd: Sequence[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """An untimed helper command; its stdout."""
    proc = subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=JOB_TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return str(proc.stdout)


@dataclass
class Timed:
    t0: float  # epoch seconds just before the subprocess started
    t1: float  # epoch seconds once it had exited
    stdout: str
    returncode: int
    lines: list[tuple[float, str]] = field(default_factory=list)  # stderr lines, arrival time

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    def first(self, prefix: str) -> float | None:
        """Arrival time of the first stderr line containing `prefix`."""
        for when, line in self.lines:
            if prefix in line:
                return when
        return None


def timed(cmd: Sequence[str | Path], env: dict[str, str], cwd: Path) -> Timed:
    """Run `cmd`, noting the epoch time at start, at exit and of every stderr line."""
    lines: list[tuple[float, str]] = []
    chunks: list[str] = []

    def pump_err(stream: Any) -> None:
        for line in iter(stream.readline, ""):
            lines.append((time.time(), line.rstrip("\n")))

    def pump_out(stream: Any) -> None:
        chunks.append(stream.read())

    t0 = time.time()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    readers = [
        threading.Thread(target=pump_err, args=(proc.stderr,), daemon=True),
        threading.Thread(target=pump_out, args=(proc.stdout,), daemon=True),
    ]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(
            f"timed out after {JOB_TIMEOUT:g} s: {' '.join(map(str, cmd))}"
        ) from None
    t1 = time.time()
    for r in readers:
        r.join(5)
    stdout = "".join(chunks)
    return Timed(t0, t1, stdout, proc.returncode, lines)


# ---------------------------------------------------------------------------------------
# kaon


def kaon_env(home: Path, workspace: str | None = None) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set by some shells and CI) would make every CLI start
    # recompile kaon's changed modules: measure what users see instead.
    drop = ("PYTHONDONTWRITEBYTECODE",)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_") and k not in drop}
    env["KAON_HOME"] = str(home)
    env["KAON_PORT"] = "0"  # a free port: never clash with another local server
    if workspace:
        env["KAON_WORKSPACE"] = workspace
    return env


@dataclass
class Deploy:
    """One deploy: the CLI's timings, the job document and the run log."""

    cli: Timed
    job: dict[str, Any]
    train_log: str = ""
    build_log: str = ""

    @property
    def trials(self) -> list[dict[str, Any]]:
        return list(self.job.get("trials") or [])

    def mark(self, name: str) -> float | None:
        """The epoch time printed by the tiny train after `name`."""
        m = re.search(rf"{name} (\d+\.\d+)", self.train_log)
        return float(m.group(1)) if m else None

    @property
    def env_built(self) -> bool:
        return "building environment" in self.build_log


def deploy(
    kaon: Path,
    env: dict[str, str],
    cwd: Path,
    args: Sequence[str | Path],
) -> Deploy:
    """`kaon train deploy <args> --wait --json`; fails unless the job ends JOB_SUCCESS."""
    t = timed([kaon, "train", "deploy", *args, "--wait", "--json"], env, cwd)
    try:
        job = json.loads(t.stdout)
    except ValueError:
        job = None
    if not isinstance(job, dict):
        err = "\n".join(line for _, line in t.lines)
        raise RuntimeError(f"deploy failed ({t.returncode}): {err.strip()[-2000:]}")
    d = Deploy(t, job)
    d.train_log = run([kaon, "train", "logs", "-j", job["id"]], env=env)
    d.build_log = run([kaon, "train", "build-logs", "-j", job["id"]], env=env)
    if t.returncode != 0 or job.get("state") != "JOB_SUCCESS":
        raise RuntimeError(
            f"job {job['id']} ended {job.get('state')}: {job.get('reason')}\n"
            f"{d.build_log[-1500:]}{d.train_log[-1500:]}"
        )
    return d


def breakdown(d: Deploy) -> dict[str, float | None]:
    """Where the time of one single-trial deploy went (seconds)."""
    job, t = d.job, d.cli
    trial = d.trials[0] if d.trials else {}
    src0, src1 = t.first("Submitting source bundle"), t.first("Setting source bundle")
    dat0, dat1 = t.first("Submitting data bundle"), t.first("Setting data bundle")
    return {
        "cli_start": diff(src0, t.t0),  # interpreter, imports, workspace check
        "upload_source": diff(src1, src0),
        "upload_data": diff(dat1, dat0),
        "submit": diff(job.get("created"), dat1),  # POST of the job, until the server has it
        "cli_to_job": diff(job.get("created"), t.t0),
        "queue": diff(job.get("started"), job.get("created")),
        # source checkout, lock, environment check, data checkout
        "build": diff(trial.get("started"), job.get("started")),
        "trial": diff(trial.get("finished"), trial.get("started")),
        "commit": diff(job.get("finished"), trial.get("finished")),  # model commit, finish
        "cli_exit": diff(t.t1, job.get("finished")),  # --wait's poll interval + exit
        "cli_wall": t.seconds,
    }


def body_seconds(train_log: str) -> float | None:
    """The mnist train's own `wrote ... in X.XXs` (the work after its imports)."""
    m = re.search(r"wrote \S+ in (\d+(?:\.\d+)?)s", train_log)
    return float(m.group(1)) if m else None


def env_root(build_log: str) -> Path | None:
    m = re.search(r"environment ready at (\S+)", build_log)
    return Path(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------
# the three measurement groups


@dataclass
class Results:
    values: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, group: str, sample: dict[str, Any]) -> None:
        self.runs.setdefault(group, []).append(sample)

    def col(self, group: str, key: str) -> list[Any]:
        return [r.get(key) for r in self.runs.get(group, [])]


def workspace(kaon: Path, home: Path, name: str) -> dict[str, str]:
    run([kaon, "workspace", "create", "-n", name], env=kaon_env(home))
    return kaon_env(home, name)


def tiny_bundle(root: Path) -> tuple[Path, Path]:
    code, data = root / "code", root / "data"
    model = code / "tiny" / "model"
    model.mkdir(parents=True)
    (model / "requirements.txt").write_text("")
    (model / "params.json").write_text('{"size": 1}\n')
    data.mkdir()
    (data / "rows.csv").write_text("x,y\n1,2\n3,4\n")
    return code, data


def write_tiny_train(code: Path, rev: str) -> None:
    train = code / "tiny" / "model" / "train"
    train.write_text(TINY_TRAIN.format(rev=rev))
    train.chmod(0o755)


def group_tiny(kaon: Path, home: Path, work: Path, repeat: int, res: Results) -> None:
    env = workspace(kaon, home, "bench_tiny")
    code, data = tiny_bundle(work / "tiny")
    write_tiny_train(code, "warm-up")
    log("tiny: warm-up deploy (builds the empty environment)")
    d = deploy(kaon, env, work, ["-s", code, "-d", data])
    res.values["tiny_warmup"] = diff(d.mark(START_MARK), d.cli.t0)
    res.values["tiny_warmup_built"] = d.env_built
    for i in range(repeat):
        write_tiny_train(code, f"run {i}")  # new code each time; requirements unchanged
        d = deploy(kaon, env, work, ["-s", code, "-d", data])
        start = d.mark(START_MARK)
        if start is None:
            raise RuntimeError(f"tiny train printed no {START_MARK}:\n{d.train_log[-1500:]}")
        b = breakdown(d)
        trial = d.trials[0]
        b["to_code"] = start - d.cli.t0
        b["spawn"] = diff(start, trial.get("started"))  # code copy, exec, interpreter start
        b["env_built"] = d.env_built
        res.add("tiny", b)
        log(f"tiny {i + 1}/{repeat}: user code running after {fmt_s(b['to_code'], 3)}")


def group_mnist(
    kaon: Path, home: Path, work: Path, repeat: int, res: Results
) -> tuple[Path, Path, Path]:
    env = workspace(kaon, home, "bench_mnist")
    run([kaon, "template", "get", "--name", "mnist"], env=env, cwd=work)
    tpl = work / "templates" / "mnist"
    src, data, grid = tpl / "model-train", tpl / "data", tpl / "hyperopt" / "params.json"
    args: list[str | Path] = ["-s", src, "-d", data]
    log("mnist: warm-up deploy (locks and builds the scikit-learn environment if needed)")
    d = deploy(kaon, env, work, args)
    res.values["mnist_warmup"] = d.cli.seconds
    res.values["mnist_warmup_built"] = d.env_built
    res.values["mnist_env"] = env_root(d.build_log)
    for i in range(repeat):
        d = deploy(kaon, env, work, args)
        b = breakdown(d)
        b["body"] = body_seconds(d.train_log)
        b["env_built"] = d.env_built
        res.add("mnist", b)
        log(f"mnist {i + 1}/{repeat}: JOB_SUCCESS after {fmt_s(b['cli_wall'])}")
    return src, data, grid


def max_overlap(trials: list[dict[str, Any]]) -> int:
    events = []
    for t in trials:
        if t.get("started") is not None and t.get("finished") is not None:
            events += [(t["started"], 1), (t["finished"], -1)]
    best = now = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        now += step
        best = max(best, now)
    return best


def group_grid(
    kaon: Path, home: Path, work: Path, bundle: tuple[Path, Path, Path], repeat: int, res: Results
) -> None:
    env = workspace(kaon, home, "bench_grid")
    src, data, grid = bundle
    for i in range(repeat):
        d = deploy(kaon, env, work, ["-s", src, "-d", data, "-h", grid, "-p", "2"])
        info = json.loads(run([kaon, "train", "info", "-j", d.job["id"], "--json"], env=env))
        trials = info["trials"]
        times = [t["finished"] - t["started"] for t in trials]
        wall = info["finished"] - info["started"]
        total = sum(times)
        sample = {
            "wall": wall,
            "sum": total,
            "ratio": wall / total if total else None,
            "trials": len(trials),
            "trial_median": median(times),
            "overlap": max_overlap(trials),
            "cli_wall": d.cli.seconds,
            "build": min(t["started"] for t in trials) - info["started"],
            "env_built": d.env_built,
        }
        res.add("grid", sample)
        log(
            f"grid {i + 1}/{repeat}: {len(trials)} trials, wall {fmt_s(wall)}, "
            f"sum {fmt_s(total)}, ratio {sample['ratio']:.3f}"
        )


def import_probe(root: Path | None, work: Path, res: Results) -> None:
    """How long the mnist imports take in the job's environment, as a trial runs them
    (PYTHONDONTWRITEBYTECODE=1), and with bytecode cached elsewhere (the env untouched)."""
    if root is None or not (root / "bin" / "python").exists():
        return
    res.values["env_pyc"] = sum(1 for _ in root.rglob("*.pyc"))
    code = "import sklearn.svm, sklearn.metrics, threadpoolctl"
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    base["OMP_NUM_THREADS"] = "1"
    prefix = work / "pycache-prefix"

    def once(extra: dict[str, str]) -> float:
        t0 = time.perf_counter()
        run([root / "bin" / "python", "-c", code], env=base | extra)
        return time.perf_counter() - t0

    res.values["import_as_trial"] = median([once({"PYTHONDONTWRITEBYTECODE": "1"}) for _ in "ab"])
    once({"PYTHONPYCACHEPREFIX": str(prefix)})  # compile once, outside the environment
    res.values["import_with_pyc"] = median(
        [once({"PYTHONPYCACHEPREFIX": str(prefix)}) for _ in "ab"]
    )


def cli_startup(kaon: Path, home: Path, res: Results) -> None:
    """`kaon workspace current`: CLI start-up plus nothing else (no request)."""
    env = kaon_env(home, "bench_tiny")
    times = []
    for _ in range(3):
        t = timed([kaon, "workspace", "current"], env, home)
        times.append(t.seconds)
    res.values["cli_startup"] = median(times)


# ---------------------------------------------------------------------------------------
# report


@dataclass
class Check:
    name: str
    kaon: str
    detail: str
    target: str
    ok: bool | None  # None: could not be measured


def build_report(res: Results) -> tuple[list[Check], list[list[str]], dict[str, Any]]:
    def m(group: str, key: str) -> Any:
        return median(res.col(group, key))

    def mx(group: str, key: str) -> Any:
        return maximum(res.col(group, key))

    v = res.values.get
    checks: list[Check] = []
    to_code, to_code_max = m("tiny", "to_code"), mx("tiny", "to_code")
    checks.append(
        Check(
            "train deploy -> user code running (env cached)",
            f"median {fmt_s(to_code, 3)}, max {fmt_s(to_code_max, 3)}",
            f"{len(res.runs.get('tiny', []))} runs, empty requirements.txt",
            f"<= {DEPLOY_TARGET:g} s median",
            None if to_code is None else to_code <= DEPLOY_TARGET,
        )
    )
    mnist = m("mnist", "cli_wall")
    checks.append(
        Check(
            "mnist deploy --wait -> JOB_SUCCESS (warm cache)",
            f"median {fmt_s(mnist)}, max {fmt_s(mx('mnist', 'cli_wall'))}",
            f"kaos ~{KAOS_MNIST:g} s = {KAOS_MNIST / mnist:.0f}x faster" if mnist else "-",
            f"<= {MNIST_TARGET:g} s median",
            None if mnist is None else mnist <= MNIST_TARGET,
        )
    )
    ratio = m("grid", "ratio")
    checks.append(
        Check(
            "mnist 12-point grid -p 2: wall / sum of trials",
            f"{ratio:.3f}" if ratio is not None else "n/a",
            f"wall {fmt_s(m('grid', 'wall'))}, sum {fmt_s(m('grid', 'sum'))}",
            f"<= {GRID_TARGET:g}",
            None if ratio is None else ratio <= GRID_TARGET,
        )
    )

    def parts(group: str, keys: Sequence[tuple[str, str]]) -> str:
        return ", ".join(f"{label} {fmt_ms(m(group, k))}" for k, label in keys)

    def x(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}x" if a is not None and b else "n/a"

    alone, n_trials = m("mnist", "trial"), m("grid", "trials")
    serial = alone * n_trials if alone is not None and n_trials else None
    rebuilt = [g for g in ("tiny", "mnist", "grid") if any(res.col(g, "env_built"))]
    info = [
        [
            "deploy -> code, tiny: CLI side",
            parts(
                "tiny",
                [
                    ("cli_start", "start-up"),
                    ("upload_source", "source upload"),
                    ("upload_data", "data upload"),
                    ("submit", "submit"),
                ],
            ),
        ],
        [
            "deploy -> code, tiny: server side",
            parts("tiny", [("queue", "queue"), ("build", "build+checkout"), ("spawn", "spawn")]),
        ],
        [
            "tiny deploy --wait, whole CLI",
            f"{fmt_s(m('tiny', 'cli_wall'))} (after the job finished: "
            f"{fmt_ms(m('tiny', 'cli_exit'))} poll + exit)",
        ],
        ["CLI start to exit, `kaon workspace current`", fmt_ms(v("cli_startup"))],
        [
            "mnist deploy: CLI side",
            parts(
                "mnist",
                [
                    ("cli_start", "start-up"),
                    ("upload_source", "source upload"),
                    ("upload_data", "data upload"),
                    ("submit", "submit"),
                ],
            ),
        ],
        [
            "mnist deploy: server side",
            parts(
                "mnist",
                [
                    ("queue", "queue"),
                    ("build", "build+checkout"),
                    ("trial", "trial"),
                    ("commit", "model commit"),
                    ("cli_exit", "poll+exit"),
                ],
            ),
        ],
        [
            "mnist trial: train body (its own 'wrote ... in')",
            f"{fmt_ms(m('mnist', 'body'))}; the rest of the trial is code copy, interpreter "
            "start and imports",
        ],
        [
            "mnist imports in the job env",
            f"{fmt_s(v('import_as_trial'))} as a trial runs them (no bytecode written), "
            f"{fmt_s(v('import_with_pyc'))} with bytecode cached; "
            f".pyc files in the env: {v('env_pyc') if v('env_pyc') is not None else 'n/a'}",
        ],
        [
            "grid -p 2",
            f"{m('grid', 'trials') or 0:.0f} trials, at most {m('grid', 'overlap') or 0:.0f} at "
            f"once, median trial {fmt_s(m('grid', 'trial_median'))} (alone: "
            f"{fmt_s(m('mnist', 'trial'))}), build {fmt_ms(m('grid', 'build'))}, "
            f"CLI --wait {fmt_s(m('grid', 'cli_wall'))}",
        ],
        [
            "grid -p 2 vs one trial at a time",
            f"speed-up {x(serial, m('grid', 'wall'))} over {fmt_s(serial)} = trials x the "
            "median mnist trial run alone (2 at once slow each trial down by "
            f"{x(m('grid', 'trial_median'), m('mnist', 'trial'))})",
        ],
        [
            "warm-up deploys (untimed)",
            f"tiny -> code {fmt_s(v('tiny_warmup'))} (env built: {v('tiny_warmup_built')}); "
            f"mnist {fmt_s(v('mnist_warmup'))} (env built: {v('mnist_warmup_built')})",
        ],
        [
            "timed runs that rebuilt an env",
            ", ".join(rebuilt) + " (NOT warm!)" if rebuilt else "none (all warm)",
        ],
    ]
    summary: dict[str, Any] = {
        k: str(x) if isinstance(x, Path) else x for k, x in res.values.items()
    }
    for group, runs in res.runs.items():
        for key in sorted({k for r in runs for k in r}):
            summary[f"{group}_{key}"] = median(
                [x for x in res.col(group, key) if not isinstance(x, bool)]
            )
    return checks, info, summary


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="kaon training benchmark (deploy latency, mnist template, grid -p 2)."
    )
    p.add_argument("--repeat", type=int, default=5, help="timed deploys per group (median)")
    p.add_argument("--grid-repeat", type=int, default=3, help="timed grid jobs (median)")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the temp dir (KAON_HOME, bundles); default the system temp dir",
    )
    p.add_argument("--kaon", default=None, help="path of the kaon CLI (default: beside python)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    p.add_argument("--check", action="store_true", help="exit 1 if any target fails")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kaon = kaon_exe(args.kaon)
    parent = args.workdir.absolute() if args.workdir else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-train-", dir=parent))
    home = work / "home"
    res = Results()
    error: str | None = None
    started = time.monotonic()
    with terminate_as_exit():
        try:
            log(f"workdir {work}: kaon up")
            run([kaon, "up"], env=kaon_env(home))
            group_tiny(kaon, home, work, args.repeat, res)
            cli_startup(kaon, home, res)
            bundle = group_mnist(kaon, home, work, args.repeat, res)
            group_grid(kaon, home, work, bundle, args.grid_repeat, res)
            import_probe(res.values.get("mnist_env"), work, res)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log(f"benchmark step failed: {error}")
        finally:
            stop_server(kaon, home, kaon_env(home))
            if args.keep:
                log(f"kept {work}")
            else:
                rmtree(work)

    kaon_version = "?"
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        kaon_version = version("kaon")
    env_line = (
        f"{os.cpu_count()} CPU, {psutil.virtual_memory().total / GiB:.0f} GiB RAM, "
        f"Python {platform.python_version()}, kaon {kaon_version}"
    )
    checks, info, summary = build_report(res)
    print()
    print(f"kaon training benchmark - {env_line}")
    print(
        f"{args.repeat} timed deploy(s) per group after one warm-up, {args.grid_repeat} grid "
        f"job(s); medians; wall clock of real CLI subprocesses against a local server; "
        f"took {time.monotonic() - started:.0f} s"
    )
    if error:
        print(f"ERROR: a step failed, its figures and those after it are missing: {error}")
    print()
    print_table(
        ["CHECK", "KAON", "DETAIL", "TARGET", "RESULT"],
        [[c.name, c.kaon, c.detail, c.target, verdict(c.ok)] for c in checks],
    )
    print()
    print_table(["MORE FIGURES", "VALUE"], info)
    if args.json:
        doc = {
            "env": env_line,
            "error": error,
            "median": summary,
            "runs": res.runs,
            "checks": [c.__dict__ for c in checks],
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str))
    if error:
        return 1 if args.check else 0
    failed = any(c.ok is False for c in checks)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
