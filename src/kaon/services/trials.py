"""One trial: the task it runs (`./train <out>` in the job's environment, in a private copy
of the code) and the checks on what it wrote (the user-code contract, docs/user-code.md)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from kaon.core import bundlelayout
from kaon.core.errors import InvalidBundle
from kaon.core.ids import CommitId, RepoName
from kaon.core.jobs import Job, JobFailure, Trial, canonical_json
from kaon.ports.content import TreeRef
from kaon.ports.envbuilder import EnvLock
from kaon.ports.executor import Input, Limits, Place, RunResult, Task
from kaon.services.jobtokens import ApiEnv
from kaon.services.localfs import list_folder
from kaon.services.s3.credentials import S3Env

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SEED = "0"
HYPERPARAMS = "hyperparams.json"  # the trial's params, a file of its own (KAON_HYPERPARAMS_FILE)


@dataclass(frozen=True)
class Build:
    """What a job's BUILDING step found, for its trials' tasks."""

    lock: EnvLock
    folder: str  # the folder of `train` in the source bundle ("" at its root)
    params: bytes | None  # the params.json beside `train`, if the bundle has one
    notebook: bool = False  # the entry is train.ipynb: papermill runs it


@dataclass(frozen=True)
class TrialOutcome:
    result: RunResult
    error: str  # "" when the trial produced a valid model
    files: list[tuple[str, Path]]  # the output files, relative to the output folder
    metrics: dict[str, Any]
    digest: str  # content hash of the output folder
    failure: JobFailure | None = None  # why it failed (None when it produced a model)


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


def trial_task(
    job: Job,
    trial: Trial,
    build: Build,
    s3: S3Env | None = None,
    api: ApiEnv | None = None,
    default_memory: int | None = None,
    threads: int = 1,
) -> Task:
    """What one trial runs (kaon.ports.executor): `./train <out>` in the job's environment,
    in a private copy of the code with the trial's params merged into params.json, reading
    the job's data; where the folders are is the executor's to decide."""
    folder = build.folder
    values: dict[str, str | Place] = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",  # after the environment's bin folder
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KAON_DATA_DIR": Place.input("data"),
        "KAON_OUTPUT_DIR": Place.output(),
        "KAON_HYPERPARAMS": canonical_json(trial.params),
        "KAON_HYPERPARAMS_FILE": Place.file(HYPERPARAMS),
        "KAON_JOB_ID": job.id,
        "KAON_TRIAL": str(trial.index),
        "KAON_WORKSPACE": job.workspace,
        "KAON_SEED": SEED,
    }
    if s3 is not None:  # the S3 gateway: endpoint and the job's own key pair (AWS_*)
        values |= s3.variables()
    if api is not None:  # the API: KAON_ENDPOINT and the job's own token (KAON_TOKEN)
        values |= api.variables()
    # the user's --env: their names were checked not to collide with any of these
    env = job.variables | values | {v: str(threads) for v in THREAD_VARS}
    code = Input(
        TreeRef(RepoName(job.source.repo), CommitId(job.source.commit)),
        private=True,
        overlay=params_overlay(build.params, folder, trial.params),
        executable=() if build.notebook else (_join(folder, "train"),),
    )
    data = Input(TreeRef(RepoName(job.data.repo), CommitId(job.data.commit)))
    return Task(
        key=f"{job.id}/trials/{trial.index}",
        argv=notebook_argv(trial.params) if build.notebook else ("./train", Place.output()),
        workdir=Place.input("code", folder),
        inputs={"code": code, "data": data},
        lock=build.lock,
        env=env,
        files={HYPERPARAMS: canonical_json(trial.params).encode()},
        limits=Limits(
            timeout=job.resources.timeout,
            memory_bytes=job.resources.memory or default_memory,
            memory_default=job.resources.memory is None and default_memory is not None,
            sandbox=job.resources.sandbox,
            cpus=job.resources.cpu,
        ),
        labels={"job": job.id, "trial": str(trial.index)},
    )


def notebook_argv(params: dict[str, Any]) -> tuple[str | Place, ...]:
    """papermill running train.ipynb with the trial's hyperparameters as its parameters (a
    YAML/JSON mapping: the `parameters` cell's values are replaced, types kept), the executed
    notebook written to <out>/train.ipynb, the cells' output in the job's log."""
    return (
        "python",
        "-m",
        "papermill",
        "--log-output",
        "--kernel",
        "python3",
        "--language",
        "python",
        "--cwd",
        ".",
        bundlelayout.NOTEBOOK,
        Place.output(bundlelayout.NOTEBOOK),
        "--parameters_yaml",
        canonical_json(params),
    )


def params_overlay(base: bytes | None, folder: str, params: dict[str, Any]) -> dict[str, bytes]:
    """The trial's params merged into the bundle's params.json (`base`, beside train), as the
    file to write over its copy of the code; nothing without params."""
    if not params:
        return {}
    loaded: Any = {}
    if base is not None:
        try:
            loaded = json.loads(base)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            raise InvalidBundle(f"{folder}/params.json is not valid JSON: {why}") from None
    merged = (loaded if isinstance(loaded, dict) else {}) | params
    return {_join(folder, "params.json"): (json.dumps(merged, indent=2) + "\n").encode()}


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


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

    def failed(error: str, kind: JobFailure = JobFailure.OUTPUT) -> TrialOutcome:
        return TrialOutcome(result, error, [], {}, "", kind)

    if result.cancelled:
        return failed("killed", JobFailure.CANCELLED)
    if result.timed_out:
        return failed(
            f"timed out after {timeout:g} s (raise it with --timeout)", JobFailure.TIMEOUT
        )
    if result.exit_code != 0:
        return failed(
            f"train exited with code {result.exit_code}: see `kaon train logs`", JobFailure.RUN
        )
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
