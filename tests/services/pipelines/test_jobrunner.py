"""The job runner end to end on a real local executor and the platform's stores: plan, skip,
run, retry, recover, merge, one output commit (or none), logs."""

from __future__ import annotations

import dataclasses
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kaon.core.address import parse_ref
from kaon.core.pipelines.records import DatumState, JobState
from kaon.exec.local import LocalExecutor
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import DatumFeed, RunResult, Task
from kaon.wiring import Backends, Platform

from .runhelp import Rig

FILES = {f"/f{i}.txt": f"line {i}\n".encode() for i in range(5)}


def spec(name: str = "copy", glob: str = "/*", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pipeline": {"name": name},
        "input": {"pfs": {"repo": "data", "glob": glob}},
        "transform": {
            "cmd": ["/bin/sh"],
            "stdin": ['for f in /pfs/data/*; do echo "copying $f"; cp "$f" /pfs/out/; done'],
        },
        "parallelism_spec": {"constant": 2},
    }
    doc.update(extra)
    return doc


@pytest.fixture
def rig(platform: Platform, backends: Backends, tmp_path: Path, seed: Any) -> Rig:
    platform.repos.create_repo("data")
    seed.commit("data", FILES)
    return Rig(platform, backends, tmp_path)


def test_one_datum_per_file_one_output_commit(rig: Rig) -> None:
    version = rig.pipeline(spec())
    job = rig.run(version)
    assert job.state is JobState.SUCCESS, job.reason
    assert job.counts.total == 5 and job.counts.processed == 5 and job.counts.skipped == 0
    assert job.output_commit is not None
    assert rig.files("copy", job.output_commit) == {k.lstrip("/"): v for k, v in FILES.items()}
    head = rig.platform.repos.get_branch("copy", "master").head
    assert head == job.output_commit
    assert len(rig.platform.repos.history("copy", parse_ref("master"), None)) == 1
    records = rig.datums(job)
    assert sorted(r.state for r in records) == [DatumState.SUCCESS] * 5
    assert all(r.output and r.upload_bytes == r.download_bytes for r in records)
    assert job.stats.download_bytes == sum(len(v) for v in FILES.values())
    assert job.stats.upload_bytes == job.stats.download_bytes
    assert job.pfs_mode in ("bubblewrap", "rewrite")
    saved = rig.store.get_job("copy", job.id)
    assert saved == job
    page = rig.logs.read("copy", job.id)
    user = [line for line in page.lines if line["user"]]
    assert len(user) == 5 and page.done
    assert all(line["datum"] and line["data"][0]["path"] in FILES for line in user)
    assert user[0]["message"].startswith("copying /pfs/data/") or "copying" in user[0]["message"]


def test_a_succeeded_jobs_hook_runs_before_anyone_can_see_it_succeeded(rig: Rig) -> None:
    """The success hook (its provenance, in wiring) runs while the stored job is not yet
    SUCCESS: a waiter that sees SUCCESS finds its provenance (it ran after, a race: a test
    reading the subvenance right after `wait_job` failed under load)."""
    seen: list[tuple[JobState, JobState, str | None]] = []

    def hook(job: Any, version: Any) -> None:
        stored = rig.store.get_job(job.pipeline, job.id)
        assert stored is not None
        seen.append((job.state, stored.state, job.output_commit))

    rig.runner.on_success = hook
    version = rig.pipeline(spec())
    job = rig.run(version)
    assert job.state is JobState.SUCCESS, job.reason
    assert seen == [(JobState.SUCCESS, JobState.FINISHING, job.output_commit)]
    assert job.output_commit is not None
    failing = rig.pipeline(spec("fails", transform={"cmd": ["/bin/sh", "-c", "exit 3"]}))
    assert rig.run(failing).state is JobState.FAILURE
    assert len(seen) == 1  # only a success


def test_a_new_file_is_the_only_datum_processed(rig: Rig, seed: Any) -> None:
    version = rig.pipeline(spec())
    first = rig.run(version)
    seed.commit("data", {"/new.txt": b"new\n"})
    second = rig.run(version, parent=first.id)
    assert second.state is JobState.SUCCESS, second.reason
    assert (second.counts.processed, second.counts.skipped, second.counts.total) == (1, 5, 6)
    assert second.output_commit is not None
    assert set(rig.files("copy", second.output_commit)) == {
        *(k.lstrip("/") for k in FILES),
        "new.txt",
    }
    skipped = [r for r in rig.datums(second) if r.state is DatumState.SKIPPED]
    assert {r.reused_from for r in skipped} == {first.id}


def _job_lines(rig: Rig, job_id: str) -> list[str]:
    return [ln["message"] for ln in rig.logs.read("copy", job_id).lines if not ln["datum"]]


def test_the_output_commit_is_the_previous_one_changed_by_the_changed_datums(
    rig: Rig, seed: Any
) -> None:
    version = rig.pipeline(spec())
    first = rig.run(version)
    rig.platform.pipelines.stop("copy")  # the platform's own jobs: none (this rig runs them)
    seed.commit("data", {"/f1.txt": b"changed\n", "/new.txt": b"new\n"}, ["/f2.txt"])
    second = rig.run(version, parent=first.id)
    assert second.state is JobState.SUCCESS, second.reason
    assert (second.counts.processed, second.counts.skipped) == (2, 3)
    want = {k.lstrip("/"): v for k, v in FILES.items() if k != "/f2.txt"}
    want |= {"f1.txt": b"changed\n", "new.txt": b"new\n"}
    assert rig.files("copy", second.output_commit or "") == want
    said = [m for m in _job_lines(rig, second.id) if m.startswith("output commit")]
    assert said and said[0].endswith(": 2 file(s) written, 1 removed"), said
    parent = rig.platform.repos.resolve_required("copy", parse_ref(second.output_commit or ""))
    assert parent.parent == first.output_commit


def test_a_new_datum_writing_an_unchanged_datums_path_fails_naming_both(
    rig: Rig, seed: Any
) -> None:
    doc = spec()
    doc["transform"]["stdin"] = [
        'for f in /pfs/data/*; do cp "$f" "/pfs/out/$(tr -d \' \\n\' < "$f")"; done'
    ]
    version = rig.pipeline(doc)
    first = rig.run(version)
    assert first.state is JobState.SUCCESS, first.reason
    assert "line0" in rig.files("copy", first.output_commit or "")
    rig.platform.pipelines.stop("copy")  # the platform's own jobs: none (this rig runs them)
    seed.commit("data", {"/g.txt": b"line 0\n"})
    second = rig.run(version, parent=first.id)
    assert second.state is JobState.FAILURE
    by_path = {r.files[0]["path"]: r.id for r in rig.datums(second)}
    ids = sorted((by_path["/f0.txt"], by_path["/g.txt"]))
    assert second.reason == f"datums {ids[0]} and {ids[1]} both wrote /line0"
    assert rig.platform.repos.get_branch("copy", "master").head == first.output_commit


def test_an_output_branch_written_by_hand_is_replaced_whole(rig: Rig, seed: Any) -> None:
    version = rig.pipeline(spec())
    first = rig.run(version)
    rig.platform.pipelines.stop("copy")  # the platform's own jobs: none (this rig runs them)
    seed.commit("copy", {"/stray.txt": b"by hand\n"})
    second = rig.run(version, parent=first.id)
    assert second.state is JobState.SUCCESS, second.reason
    assert rig.files("copy", second.output_commit or "") == {
        k.lstrip("/"): v for k, v in FILES.items()
    }


def test_a_new_salt_reprocesses_every_datum(rig: Rig) -> None:
    rig.run(rig.pipeline(spec()))
    again = rig.run(rig.pipeline(spec(), nonce="v2"))
    assert (again.counts.processed, again.counts.skipped) == (5, 0)


def test_reprocess_runs_every_datum(rig: Rig) -> None:
    version = rig.pipeline(spec())
    rig.run(version)
    again = rig.run(version, reprocess=True)
    assert (again.counts.processed, again.counts.skipped) == (5, 0)


def test_a_failing_datum_is_retried_then_fails_the_job_without_output(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", datum_tries=2)
    doc["transform"]["stdin"] = ["echo trying; exit 3"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    assert job.restarts == 1 and job.counts.failed == 1
    assert "exited with code 3" in job.reason
    assert job.output_commit is None
    assert rig.platform.repos.list_branches("copy") == []
    (record,) = rig.datums(job)
    assert record.state is DatumState.FAILED and record.tries == 2
    failed = rig.logs.read("copy", job.id, failed=True)
    assert [line["message"] for line in failed.lines if line["user"]] == ["trying", "trying"]


def test_err_cmd_recovers_a_datum(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", datum_tries=1)
    doc["transform"]["stdin"] = ["exit 1"]
    doc["transform"]["err_cmd"] = ["/bin/sh", "-c", "echo recovering"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    assert job.counts.recovered == 1 and job.counts.processed == 0
    assert job.output_commit is not None
    assert rig.files("copy", job.output_commit) == {}


def test_accept_return_code_counts_as_success(rig: Rig) -> None:
    doc = spec(glob="/f1.txt")
    doc["transform"]["stdin"] = ["echo ok > /pfs/out/ok; exit 7"]
    doc["transform"]["accept_return_code"] = [7]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    assert rig.files("copy", job.output_commit or "") == {"ok": b"ok\n"}


def test_two_datums_writing_one_path_fail_the_job_naming_both(rig: Rig) -> None:
    doc = spec(glob="/f[12].txt")
    doc["transform"]["stdin"] = ["echo x > /pfs/out/same.txt"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    ids = sorted(r.id for r in rig.datums(job))
    assert job.reason == f"datums {ids[0]} and {ids[1]} both wrote /same.txt"
    assert rig.platform.repos.list_branches("copy") == []


def test_a_symlink_into_an_input_is_stored_by_reference(rig: Rig) -> None:
    doc = spec(glob="/f1.txt")
    doc["transform"]["stdin"] = [
        "ln -s /pfs/data/f1.txt /pfs/out/link.txt",
        "echo own > /pfs/out/own.txt",
        "ln -s own.txt /pfs/out/alias.txt",
    ]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    files = rig.platform.files
    out = rig.platform.repos.resolve_required("copy", parse_ref(job.output_commit or ""))
    data = rig.platform.repos.resolve_required("data", parse_ref("master"))
    nodes = dict(files.walk(out, "/"))
    original = dict(files.walk(data, "/"))["f1.txt"]
    assert nodes["link.txt"].chunks == original.chunks
    assert rig.files("copy", out.id)["alias.txt"] == b"own\n"


def test_a_symlink_out_of_pfs_fails_the_datum(rig: Rig) -> None:
    doc = spec(glob="/f1.txt")
    doc["transform"]["stdin"] = ["ln -s /etc/hostname /pfs/out/host"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    assert "/pfs/out/host is a symbolic link to /etc/hostname" in job.reason


def test_cancel_kills_the_job(rig: Rig) -> None:
    doc = spec(glob="/f1.txt")
    doc["transform"]["stdin"] = ["echo started; sleep 60"]
    version = rig.pipeline(doc)
    job = rig.job(version)
    cancel = threading.Event()
    logs = rig.logs

    def cancel_once_running() -> None:
        while not any(line["user"] for line in logs.read("copy", job.id).lines):
            threading.Event().wait(0.05)
        cancel.set()

    watcher = threading.Thread(target=cancel_once_running, daemon=True)
    watcher.start()
    ended = rig.runner.run(job, version, cancel)
    assert ended.state is JobState.KILLED and ended.reason == "killed"
    assert ended.output_commit is None


def test_a_glob_matching_nothing_succeeds_with_an_empty_commit(rig: Rig) -> None:
    job = rig.run(rig.pipeline(spec(glob="/nothing/*")))
    assert job.state is JobState.SUCCESS
    assert job.counts.total == 0 and job.output_commit is not None
    assert rig.files("copy", job.output_commit) == {}
    assert "glob /nothing/* matched nothing in data@" in job.reason
    messages = [line["message"] for line in rig.logs.read("copy", job.id).lines]
    assert any("matched nothing" in m for m in messages)


def test_a_gpu_request_without_a_gpu_fails_before_running(rig: Rig) -> None:
    job = rig.run(
        rig.pipeline(spec(resource_requests={"gpu": {"type": "nvidia.com/gpu", "number": 1}}))
    )
    assert job.state is JobState.FAILURE and "requests 1 GPU" in job.reason
    assert rig.datums(job) == []


def test_a_job_run_again_after_a_restart_keeps_its_finished_datums(rig: Rig) -> None:
    version = rig.pipeline(spec())
    job = rig.run(version)
    # as if the platform died before the commit: the job is moved back to STARTING
    interrupted = rig.store.get_job("copy", job.id)
    assert interrupted is not None

    again = dataclasses.replace(interrupted, state=JobState.RUNNING, output_commit=None)
    ended = rig.runner.run(again, version, threading.Event())
    assert ended.state is JobState.SUCCESS
    assert (ended.counts.processed, ended.counts.skipped) == (5, 0)
    assert {r.tries for r in rig.datums(ended)} == {1}


def test_datum_batching_runs_datums_through_long_lived_processes(rig: Rig) -> None:
    doc = spec(transform={"cmd": ["/bin/sh"], "datum_batching": True})
    doc["transform"]["stdin"] = [
        'while d=$(kaon-next-datum); do eval "$d"; '
        'for f in /pfs/data/*; do cp "$f" /pfs/out/; echo $$ > "/pfs/out/$(basename $f).pid"; '
        "done; done"
    ]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    assert job.counts.processed == 5
    out = rig.files("copy", job.output_commit or "")
    assert {k: v for k, v in out.items() if k.endswith(".txt")} == {
        k.lstrip("/"): v for k, v in FILES.items()
    }
    pids = {v for k, v in out.items() if k.endswith(".pid")}
    assert 1 <= len(pids) <= 2  # parallelism 2: at most two processes for five datums


def test_each_datum_gets_pachyderms_variables(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", transform={"cmd": ["/bin/sh"], "env": {"MINE": "yes"}})
    doc["transform"]["stdin"] = [
        'echo "$PACH_JOB_ID $PACH_OUTPUT_COMMIT_ID $KAON_JOB_ID $PACH_PIPELINE_NAME" > /pfs/out/job',
        'echo "$PACH_DATUM_ID $KAON_DATUM_ID $data_COMMIT $MINE" > /pfs/out/datum',
    ]
    version = rig.pipeline(doc)
    job = rig.job(version)
    ended = rig.runner.run(job, version, threading.Event())
    assert ended.state is JobState.SUCCESS, ended.reason
    out = rig.files("copy", ended.output_commit or "")
    (datum,) = rig.datums(ended)
    head = job.inputs[0].commit
    assert out["job"].decode().split() == [job.id, job.id, job.id, "copy"]
    assert out["datum"].decode().split() == [datum.id, datum.id, head, "yes"]


def test_a_cross_shows_each_datum_both_inputs(rig: Rig, seed: Any) -> None:
    rig.platform.repos.create_repo("params")
    seed.commit("params", {"/p.json": b"{}"})
    doc = spec()
    doc["input"] = {
        "cross": [{"pfs": {"repo": "data", "glob": "/*"}}, {"pfs": {"repo": "params", "glob": "/"}}]
    }
    doc["transform"]["stdin"] = [
        'for f in /pfs/data/*; do n=$(basename $f); ls /pfs/params > "/pfs/out/$n.seen"; done'
    ]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    out = rig.files("copy", job.output_commit or "")
    assert out == {f"f{i}.txt.seen": b"p.json\n" for i in range(5)}


def test_code_of_a_source_bundle_is_the_working_directory(rig: Rig, seed: Any) -> None:
    rig.platform.repos.create_repo("src")
    code = seed.commit("src", {"/proj/run.sh": b"cp /pfs/data/* /pfs/out/; echo from $(pwd)\n"})
    doc = spec(glob="/f1.txt", transform={"cmd": ["/bin/sh", "run.sh"], "working_dir": "/proj"})
    version = dataclasses.replace(rig.pipeline(doc), source_repo="src", source_commit=code.id)
    job = rig.run(version)
    assert job.state is JobState.SUCCESS, job.reason
    assert rig.files("copy", job.output_commit or "") == {"f1.txt": FILES["/f1.txt"]}
    said = [x["message"] for x in rig.logs.read("copy", job.id).lines if x["user"]]
    assert len(said) == 1 and said[0].startswith("from /") and said[0].endswith("proj")


def test_a_datum_past_its_timeout_fails(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", datum_tries=1, datum_timeout="1s")
    doc["transform"]["stdin"] = ["sleep 60"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    assert "timed out after 1 s (datum_timeout)" in job.reason


def test_a_job_past_its_timeout_is_killed(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", job_timeout="1s")
    doc["transform"]["stdin"] = ["sleep 60"]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.KILLED
    assert job.reason == "job_timeout of 1 s exceeded" and job.output_commit is None


def test_a_command_not_found_is_named(rig: Rig) -> None:
    doc = spec(glob="/f1.txt", datum_tries=1, transform={"cmd": ["kaon-no-such-command"]})
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    assert "command not found (kaon-no-such-command" in job.reason


def test_a_datum_over_its_memory_limit_says_so(rig: Rig) -> None:
    grab = "b = bytearray(400 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    doc = spec(
        glob="/f1.txt",
        datum_tries=1,
        transform={"cmd": [sys.executable, "-c", grab]},
        resource_limits={"memory": "64M"},
    )
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.FAILURE
    assert "out of memory (its memory limit is" in job.reason, job.reason


def test_nested_files_are_seen_at_their_own_paths(rig: Rig, seed: Any) -> None:
    seed.commit("data", {"/dir/a.txt": b"a\n", "/dir/b.txt": b"b\n"})
    doc = spec(glob="/dir/*")
    doc["transform"]["stdin"] = [
        "for f in /pfs/data/dir/*; do ln -s $f /pfs/out/$(basename $f); done",
        "ls /pfs/data > /pfs/out/$(ls /pfs/data/dir).top",
    ]
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    out = rig.files("copy", job.output_commit or "")
    assert out == {"a.txt": b"a\n", "b.txt": b"b\n", "a.txt.top": b"dir\n", "b.txt.top": b"dir\n"}


class _EndsAfterOneDatum(LocalExecutor):
    """The local executor, except that its first batch process dies on its first datum and
    the batch then ends (the port allows it: `run_batch` may return with datums left)."""

    def __init__(self, real: LocalExecutor) -> None:
        self.__dict__.update(real.__dict__)
        self.first = True

    def run_batch(
        self, task: Task, feed: DatumFeed, log: LogSink, cancel: threading.Event
    ) -> RunResult:
        if not self.first:
            return super().run_batch(task, feed, log, cancel)
        self.first = False
        datum = feed.next_datum()
        assert datum is not None
        died = RunResult(137, False, False, 0.0)
        datum.outputs.deliver(Path("/nonexistent"), died)
        feed.finished(datum, died)
        return died


def test_a_batch_retry_queued_after_every_worker_ended_still_runs(rig: Rig) -> None:
    doc = spec(transform={"cmd": ["/bin/sh"], "datum_batching": True}, datum_tries=2)
    doc["parallelism_spec"] = {"constant": 1}
    doc["transform"]["stdin"] = [
        'while d=$(kaon-next-datum); do eval "$d"; cp /pfs/data/* /pfs/out/; done'
    ]
    rig.runner.executor = _EndsAfterOneDatum(rig.executor)
    job = rig.run(rig.pipeline(doc))
    assert job.state is JobState.SUCCESS, job.reason
    assert job.counts.processed == 5 and job.restarts == 1
    out = rig.files("copy", job.output_commit or "")
    assert sorted(out) == sorted(k.lstrip("/") for k in FILES)
