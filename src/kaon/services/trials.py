"""One trial: a private working copy of the code, `./train <out>` in the built environment,
then the checks on what it wrote (the user-code contract, docs/user-code.md)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from kaon.core.errors import InvalidBundle
from kaon.core.jobs import Job, Trial, canonical_json, trial_name
from kaon.ports.envbuilder import Environment, LogSink
from kaon.ports.executor import Executor, RunResult, RunSpec
from kaon.services.jobtokens import ApiEnv
from kaon.services.localfs import list_folder
from kaon.services.s3keys import S3Env

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SEED = "0"


@dataclass(frozen=True)
class TrialOutcome:
    result: RunResult
    error: str  # "" when the trial produced a valid model
    files: list[tuple[str, Path]]  # the output files, relative to the output folder
    metrics: dict[str, Any]
    digest: str  # content hash of the output folder


def fingerprint(threads: int = 1) -> dict[str, Any]:
    """What the machine and run settings were (recorded with every job)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "os": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "env": {"PYTHONHASHSEED": "0", "KAON_SEED": SEED} | {v: str(threads) for v in THREAD_VARS},
    }


def trial_env(
    job: Job,
    trial: Trial,
    env: Environment,
    data: Path,
    out: Path,
    scratch: Path,
    threads: int,
    runtime: Path | None = None,
    s3: S3Env | None = None,
    api: ApiEnv | None = None,
) -> dict[str, str]:
    hyper_file = scratch / "hyperparams.json"
    hyper_file.write_text(canonical_json(trial.params))
    (scratch / "home").mkdir(exist_ok=True)
    (scratch / "tmp").mkdir(exist_ok=True)
    values = {
        "PATH": f"{env.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(env.root),
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KAON_DATA_DIR": str(data),
        "KAON_OUTPUT_DIR": str(out),
        "KAON_HYPERPARAMS": canonical_json(trial.params),
        "KAON_HYPERPARAMS_FILE": str(hyper_file),
        "KAON_JOB_ID": job.id,
        "KAON_TRIAL": str(trial.index),
        "KAON_WORKSPACE": job.workspace,
        "KAON_SEED": SEED,
    }
    if runtime is not None:  # `from kaon.determinism import seed_everything` works
        values["PYTHONPATH"] = str(runtime)
    if s3 is not None:  # the S3 gateway: endpoint and the job's own key pair (AWS_*)
        values |= s3.variables()
    if api is not None:  # the API: KAON_ENDPOINT and the job's own token (KAON_TOKEN)
        values |= api.variables()
    # the user's --env: their names were checked not to collide with any of these
    return job.variables | values | {v: str(threads) for v in THREAD_VARS}


def visible(env: Environment, runtime: Path | None) -> tuple[Path, ...]:
    """What user code reads besides its job folder: the environment, the interpreter it
    links to, the kaon runtime."""
    interpreter = Path(os.path.realpath(env.python)).parents[1]
    return (env.root, interpreter, *(() if runtime is None else (runtime,)))


def prepare_code(source: Path, dest: Path, folder: str, params: dict[str, Any]) -> Path:
    """Copy the code, make `train` executable, merge the trial's params into params.json."""
    shutil.copytree(source, dest, symlinks=True)
    workdir = dest / folder if folder else dest
    train = workdir / "train"
    train.chmod(train.stat().st_mode | stat.S_IXUSR)
    if params:
        path = workdir / "params.json"
        base: dict[str, Any] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise InvalidBundle(f"{folder}/params.json is not valid JSON: {exc.msg}") from None
            if isinstance(loaded, dict):
                base = loaded
        path.write_text(json.dumps(base | params, indent=2) + "\n")
    return workdir


def hash_files(files: list[tuple[str, Path]]) -> str:
    outer = blake3.blake3()
    for rel, path in files:
        inner = blake3.blake3()
        with open(path, "rb") as fh:
            while piece := fh.read(1 << 20):
                inner.update(piece)
        outer.update(f"{rel}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def collect(out: Path, result: RunResult, timeout: float | None) -> TrialOutcome:
    """Turn what the process did and wrote into an outcome with a reason users can act on."""

    def failed(error: str) -> TrialOutcome:
        return TrialOutcome(result, error, [], {}, "")

    if result.cancelled:
        return failed("killed")
    if result.timed_out:
        return failed(f"timed out after {timeout:g} s (raise it with --timeout)")
    if result.exit_code != 0:
        return failed(f"train exited with code {result.exit_code}: see `kaon train logs`")
    model = out / "model"
    try:
        files = list_folder(out) if out.is_dir() else []
    except InvalidBundle as exc:
        return failed(exc.message)
    if not model.is_dir() or not any(rel.startswith("model/") for rel, _ in files):
        return failed(
            "train exited 0 but wrote no model: write the model files into <out>/model/ "
            "(<out> is the first argument of train, also $KAON_OUTPUT_DIR)"
        )
    metrics: dict[str, Any] = {}
    metrics_file = out / "metrics" / "metrics.json"
    if metrics_file.exists():
        try:
            doc = json.loads(metrics_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return failed("metrics/metrics.json is not valid JSON: write a flat JSON object")
        if not isinstance(doc, dict) or any(isinstance(v, dict | list) for v in doc.values()):
            return failed(
                'metrics/metrics.json must be a flat JSON object, e.g. {"accuracy_test": 0.97}'
            )
        metrics = doc
    return TrialOutcome(result, "", files, metrics, hash_files(files))


def run_trial(
    executor: Executor,
    job: Job,
    trial: Trial,
    env: Environment,
    source: Path,
    folder: str,
    data: Path,
    scratch: Path,
    log: LogSink,
    cancel: threading.Event,
    threads: int = 1,
    runtime: Path | None = None,
    s3: S3Env | None = None,
    api: ApiEnv | None = None,
    hidden: tuple[Path, ...] = (),
    default_memory: int | None = None,
) -> TrialOutcome:
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    out = scratch / "out"
    out.mkdir()
    workdir = prepare_code(source, scratch / "code", folder, trial.params)
    if trial.params:
        log(f"hyperparameters {trial_name(trial.params)[:-5]}")
    spec = RunSpec(
        argv=("./train", str(out)),
        cwd=workdir,
        env=trial_env(job, trial, env, data, out, scratch, threads, runtime, s3, api),
        timeout=job.resources.timeout,
        read_only=(data, source, *visible(env, runtime)),
        writable=(scratch,),
        sandbox=job.resources.sandbox,
        hidden=hidden,
        memory_bytes=job.resources.memory or default_memory,
        memory_default=job.resources.memory is None and default_memory is not None,
        labels={"job": job.id, "trial": str(trial.index)},
    )
    result = executor.run(spec, log, cancel)
    return collect(out, result, job.resources.timeout)
