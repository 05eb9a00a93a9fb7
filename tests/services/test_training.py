"""Training jobs through the real services: real processes, uv environments, SQLite, store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kaon.core.errors import InvalidBundle, InvalidInput, JobNotRunning, WorkspaceNotFound
from kaon.core.hyper import make_hyper
from kaon.core.jobs import Bundle, Job, JobFailure, JobState, Resources
from kaon.services.localfs import commit_folder, list_folder
from kaon.wiring import Backends, Platform

TRAIN_OK = """#!/usr/bin/env python3
import json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
params = json.load(open("params.json")) if os.path.exists("params.json") else {}
print("params", json.dumps(params, sort_keys=True))
print("data", sorted(p.name for p in pathlib.Path(os.environ["KAON_DATA_DIR"]).rglob("*")))
(out / "model").mkdir(parents=True)
(out / "model" / "model.json").write_text(json.dumps(params, sort_keys=True))
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(json.dumps({"score": params.get("a", 1) * 2}))
"""


def folder(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel in executable:
            path.chmod(0o755)
    return root


def source(tmp: Path, train: str = TRAIN_OK, requirements: str = "", **extra: str) -> Path:
    files = {"proj/model/train": train, "proj/model/requirements.txt": requirements}
    files |= {f"proj/model/{k}": v for k, v in extra.items()}
    return folder(tmp / "src", files, ("proj/model/train",))


def put(p: Platform, ws: str, kind: str, root: Path, branch: str = "b") -> Bundle:
    commit_folder(p.chunks, p.commits, f"{ws}-{kind}", branch, list_folder(root), replace=True)
    return p.workspaces.bundle(ws, kind, branch, branch, "tester")


def deploy(
    p: Platform, tmp: Path, hyper: dict[str, object] | None = None, **kw: object
) -> tuple[Job, Bundle, Bundle]:
    if "ws" not in [w.name for w in p.workspaces.all()]:
        p.workspaces.create("ws", "tester")
    src = put(p, "ws", "source", kw.pop("src", None) or source(tmp))  # type: ignore[arg-type]
    data = put(p, "ws", "data", folder(tmp / "data", {"features/x.csv": "1,2\n"}))
    h = make_hyper(hyper) if hyper else None
    job, _ = p.training.deploy("ws", "tester", src, data, h, Resources(**kw))  # type: ignore[arg-type]
    return job, src, data


def finished(p: Platform, job: Job, timeout: float = 60) -> Job:
    done = p.training.wait(job.id, timeout)
    assert done.state.finished, done
    return done


def log_text(p: Platform, job: Job, kind: str = "train") -> str:
    path = p.training.log_path(job, kind)
    return path.read_text() if path.exists() else ""


def test_grid_job_commits_one_model_per_trial(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    job, src, data = deploy(platform, tmp_path, {"a": [1, 2, 3]}, parallelism=2)
    job = finished(platform, job)
    assert job.state is JobState.SUCCESS, job.reason
    trials = backends.jobs.list_trials(job.id)
    assert [t.state for t in trials] == [JobState.SUCCESS] * 3
    assert [t.metrics["score"] for t in trials] == [2, 4, 6]
    for t in trials:
        assert t.model_id and t.model_id.startswith(f"{src.short}_{data.short}_")
        files = platform.files.list_files("ws-models", platform_ref(t.model_commit), t.model_path)
        assert sorted(f.path.rsplit("/", 1)[-1] for f in files) == [
            "hyperparams",
            "metrics",
            "model",
        ]
    assert job.env["lock_id"] and job.env["platform"]["env"]["PYTHONHASHSEED"] == "0"
    text = log_text(platform, job)
    assert "[trial 2] params" in text and text.startswith("[20")
    logs = platform.files.list_files("ws-logs", platform_ref("master"), f"/{job.id}")
    assert {f.path.rsplit("/", 1)[-1] for f in logs} == {"build.log", "train.log"}
    # the trials' folders and the job's fetched code and data are gone with the job
    work = platform.training.log_path(job, "train").parent
    assert list(work.glob("trials/*")) == [] and list(work.parent.glob(".inputs/*/*")) == []


def platform_ref(text: str | None) -> object:
    from kaon.core.address import parse_ref

    assert text is not None
    return parse_ref(text)


def test_identical_content_gives_the_same_bundle_id(platform: Platform, tmp_path: Path) -> None:
    platform.workspaces.create("ws", "tester")
    a = put(platform, "ws", "source", source(tmp_path / "a"))
    b = put(platform, "ws", "source", source(tmp_path / "b"), branch="other")
    assert a.digest == b.digest and a.path == "/proj:" + a.short
    assert a.commit != b.commit


def test_missing_inputs_are_the_workspaces_latest(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    first, src, data = deploy(platform, tmp_path)
    finished(platform, first)
    again, _ = platform.training.deploy(
        "ws", "tester", None, None, make_hyper({"a": [5]}), Resources()
    )
    again = finished(platform, again)
    assert again.source == src and again.data == data and again.state is JobState.SUCCESS
    assert backends.jobs.list_trials(again.id)[0].metrics == {"score": 10}


def test_no_source_yet_is_refused(platform: Platform) -> None:
    platform.workspaces.create("ws", "tester")
    with pytest.raises(InvalidInput, match="no source"):
        platform.training.deploy("ws", "t", None, None, None, Resources())
    with pytest.raises(WorkspaceNotFound):
        platform.training.deploy("nope", "t", None, None, None, Resources())


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"proj/readme.md": "x"}, "no `train` file"),
        ({"proj/train": "print(1)\n", "proj/requirements.txt": ""}, "does not start with a '#!'"),
        ({"proj/train": "#!/bin/sh\n"}, "no requirements.txt"),
        ({"proj/train.ipynb": "{}"}, "no requirements.txt beside proj/train.ipynb"),
    ],
)
def test_bad_source_bundles(
    platform: Platform, tmp_path: Path, files: dict[str, str], match: str
) -> None:
    platform.workspaces.create("ws", "tester")
    with pytest.raises(InvalidBundle, match=match):
        put(platform, "ws", "source", folder(tmp_path / "s", files))


def test_train_without_model_fails_with_the_reason(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    src = source(tmp_path, "#!/bin/sh\necho hello\n")
    job = finished(platform, deploy(platform, tmp_path, src=src)[0])
    assert job.state is JobState.FAILURE
    assert "wrote no model" in job.reason and "<out>/model/" in job.reason
    assert job.failure is JobFailure.OUTPUT
    assert [t.failure for t in backends.jobs.list_trials(job.id)] == [JobFailure.OUTPUT]


def test_nonzero_exit_and_syntax_error_show_in_logs(platform: Platform, tmp_path: Path) -> None:
    src = source(tmp_path, "#!/usr/bin/env python3\nx = (1,\nprint(x)\n")
    job = finished(platform, deploy(platform, tmp_path, src=src)[0])
    assert job.state is JobState.FAILURE and "exited with code 1" in job.reason
    assert job.failure is JobFailure.RUN
    text = log_text(platform, job)
    assert "SyntaxError" in text and "train" in text and "^" in text


def test_timeout_kills_a_hanging_train(platform: Platform, tmp_path: Path) -> None:
    src = source(tmp_path, "#!/bin/sh\nsleep 60\n")
    started = time.monotonic()
    job = finished(platform, deploy(platform, tmp_path, src=src, timeout=1.0)[0])
    assert job.state is JobState.FAILURE and "timed out after 1 s" in job.reason
    assert job.failure is JobFailure.TIMEOUT
    assert time.monotonic() - started < 20


def test_kill_a_running_job(platform: Platform, backends: Backends, tmp_path: Path) -> None:
    src = source(tmp_path, "#!/bin/sh\necho started\nsleep 60\n")
    job, _, _ = deploy(platform, tmp_path, src=src)
    deadline = time.monotonic() + 30
    while "started" not in log_text(platform, job) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = platform.training.kill(job.id[:8])
    assert killed.state is JobState.KILLED and killed.failure is JobFailure.CANCELLED
    assert [t.state for t in backends.jobs.list_trials(job.id)] == [JobState.KILLED]
    assert [t.failure for t in backends.jobs.list_trials(job.id)] == [JobFailure.CANCELLED]
    with pytest.raises(JobNotRunning):
        platform.training.kill(job.id)


def test_requirement_typo_fails_in_the_build_stage(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    src = source(tmp_path, requirements="pandas=0.24\n")
    job = finished(platform, deploy(platform, tmp_path, src=src)[0])
    assert job.state is JobState.FAILURE and job.reason.startswith("build failed")
    assert job.failure is JobFailure.BUILD
    assert "pandas=0.24" in log_text(platform, job, "build")
    assert all(t.started is None for t in backends.jobs.list_trials(job.id))


def test_random_search_runs_the_asked_trials(platform: Platform, tmp_path: Path) -> None:
    platform.workspaces.create("ws", "tester")
    src = put(platform, "ws", "source", source(tmp_path))
    data = put(platform, "ws", "data", folder(tmp_path / "d", {"x": "1"}))
    hyper = make_hyper({"a": {"low": 1, "high": 9, "int": True}}, "random", 4)
    job, trials = platform.training.deploy("ws", "t", src, data, hyper, Resources(parallelism=2))
    assert len(trials) == 4 and all(1 <= t.params["a"] <= 9 for t in trials)
    assert finished(platform, job).state is JobState.SUCCESS


def test_optuna_search_asks_and_tells(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    platform.workspaces.create("ws", "tester")
    src = put(platform, "ws", "source", source(tmp_path))
    data = put(platform, "ws", "data", folder(tmp_path / "d", {"x": "1"}))
    hyper = make_hyper({"a": [1, 2, 3, 4]}, "optuna", 5, "score", "maximize")
    job, trials = platform.training.deploy("ws", "t", src, data, hyper, Resources(parallelism=2))
    assert trials == []  # asked for while the job runs
    assert finished(platform, job).state is JobState.SUCCESS
    done = backends.jobs.list_trials(job.id)
    assert len(done) == 5 and all(t.metrics["score"] == 2 * t.params["a"] for t in done)


def test_restart_marks_interrupted_jobs_honestly(
    platform: Platform, backends: Backends, tmp_path: Path
) -> None:
    job, _, _ = deploy(platform, tmp_path)
    finished(platform, job)
    stuck = job.moved(JobState.BUILDING).moved(JobState.RUNNING, finished=None)
    backends.jobs.save_job(stuck)
    assert platform.training.recover() == [job.id]
    again = platform.training.get(job.id)
    assert again.state is JobState.FAILURE and "interrupted" in again.reason
    assert again.failure is JobFailure.INTERRUPTED


def test_sandboxed_job_reads_data_but_cannot_touch_it(platform: Platform, tmp_path: Path) -> None:
    import shutil

    if not platform.training._executor.can_sandbox:
        pytest.skip("bubblewrap is not available here")
    train = """#!/usr/bin/env python3
import os, pathlib, socket, sys
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
print("read", (data / "features" / "x.csv").read_text().strip())
try:
    (data / "features" / "x.csv").write_text("changed")
    print("data written")
except OSError:
    print("data read-only")
try:
    socket.create_connection(("1.1.1.1", 443), timeout=2)
    print("network")
except OSError:
    print("no network")
out = pathlib.Path(sys.argv[1]) / "model"
out.mkdir(parents=True)
(out / "m").write_text("ok")
"""
    job = finished(
        platform, deploy(platform, tmp_path, src=source(tmp_path, train), sandbox=True)[0]
    )
    assert job.state is JobState.SUCCESS, job.reason
    text = log_text(platform, job)
    assert "read 1,2" in text and "data read-only" in text and "no network" in text
    assert shutil.which("bwrap")


API_PROBE = """#!/usr/bin/env python3
import os, pathlib, sys
token = "token" if os.environ.get("KAON_TOKEN") else "no-token"
print("api", os.environ.get("KAON_ENDPOINT"), token)
(pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(pathlib.Path(sys.argv[1]) / "model" / "m.txt").write_text("ok")
"""


def job_tokens(p: Platform) -> list[object]:
    return [t for t in p.users.tokens() if t.job]


def test_a_job_gets_an_api_token_of_its_author_revoked_at_its_end(
    platform: Platform, tmp_path: Path
) -> None:
    platform.job_tokens.endpoint = "http://127.0.0.1:9"
    platform.users.add("tester")
    job, _, _ = deploy(platform, tmp_path, src=source(tmp_path, API_PROBE))
    assert finished(platform, job).state is JobState.SUCCESS
    assert "api http://127.0.0.1:9 token" in log_text(platform, job)
    assert job_tokens(platform) == []  # revoked when the job ended


def test_a_job_whose_author_is_no_user_gets_the_endpoint_only(
    platform: Platform, tmp_path: Path
) -> None:
    platform.job_tokens.endpoint = "http://127.0.0.1:9"
    job, _, _ = deploy(platform, tmp_path, src=source(tmp_path, API_PROBE))
    assert finished(platform, job).state is JobState.SUCCESS
    text = log_text(platform, job)
    assert "api http://127.0.0.1:9 no-token" in text
    assert "its author 'tester' is not a user of this platform" in text


def test_recover_revokes_the_api_tokens_of_jobs_not_running(
    platform: Platform, tmp_path: Path
) -> None:
    platform.users.add("tester")
    assert platform.users.for_job("f" * 32, "tester", "ws") is not None
    platform.training.recover()
    assert job_tokens(platform) == []
