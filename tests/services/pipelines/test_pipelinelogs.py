"""PipelineLogs: JSON lines per job, read by offset (follow), by datum, failed datums only."""

from __future__ import annotations

import threading
from pathlib import Path

from kaon.core.pipelines.datums import DatumFile
from kaon.core.pipelines.records import InputCommit, JobState, PipelineJob
from kaon.services.pipelines.logs import PipelineLogs
from kaon.store.memory import MemoryObjectStore


def job(job_id: str = "a" * 32) -> PipelineJob:
    inputs = (InputCommit("in", "in", "master", "c" * 32),)
    return PipelineJob(job_id, "p", 1, JobState.RUNNING, 1.0, inputs, "p", "master")


def file(path: str) -> DatumFile:
    return DatumFile("in", "in", "master", "c" * 32, path, "d" * 64, 1)


def test_lines_are_written_from_several_threads_and_read_by_offset(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path / "logs", clock=lambda: 5.0)
    w = logs.writer(job())
    w.job("started")
    sinks = [w.datum(f"d{i}", [file(f"/{i}")]) for i in range(4)]
    threads = [
        threading.Thread(target=lambda s=s: [s(f"line {n}") for n in range(50)]) for s in sinks
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    page = logs.read("p", "a" * 32, limit=150)
    assert len(page.lines) == 150 and not page.done
    rest = logs.read("p", "a" * 32, offset=page.offset)
    assert len(rest.lines) == 51 and not rest.done  # the job has not ended
    assert page.lines[0] == {
        "ts": 5.0,
        "pipeline": "p",
        "job": "a" * 32,
        "datum": "",
        "data": [],
        "message": "started",
        "user": False,
    }
    user = [line for line in page.lines + rest.lines if line["user"]]
    assert len(user) == 200
    assert {line["datum"] for line in user} == {"d0", "d1", "d2", "d3"}
    assert all(
        line["data"] == [{"path": f"/{line['datum'][1]}", "hash": "d" * 64}] for line in user
    )
    w.close()
    end = logs.read("p", "a" * 32, offset=rest.offset)
    assert end.lines == [] and end.done and end.offset == rest.offset


def test_one_datum_failed_ones_and_the_newest_job(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path)
    w = logs.writer(job())
    w.datum("ok", [file("/1")])("fine")
    w.datum("bad", [file("/2")])("boom")
    w.datum("bad", [file("/2")], user=False)("datum failed: exited with code 1")
    w.failed("bad")
    w.close()
    assert [x["message"] for x in logs.read("p", "a" * 32, "ok").lines] == ["fine"]
    failed = logs.read("p", "a" * 32, failed=True)
    assert [x["message"] for x in failed.lines] == ["boom", "datum failed: exited with code 1"]
    later = logs.writer(job("b" * 32))
    later.job("second job")
    newest = logs.read("p", None)
    assert [x["message"] for x in newest.lines] == ["second job"] and not newest.done
    later.close()
    assert logs.read("p", "nope").lines == []
    logs.delete("p")
    assert logs.read("p", None).lines == [] and not (tmp_path / "p").exists()


def test_a_partly_written_line_waits_for_its_end(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path)
    path = logs.path("p", "a" * 32)
    path.parent.mkdir(parents=True)
    path.write_text('{"ts": 1, "pipeline": "p", "job": "x", "datum": "", "data": [], ')
    page = logs.read("p", "a" * 32)
    assert page.lines == [] and page.offset == 0 and not page.done


def test_job_log_appends_lines_of_a_service(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path)
    sink = logs.job_log(job())
    sink("serving on 8080")
    sink("stopped")
    assert [x["message"] for x in logs.read("p", "a" * 32).lines] == ["serving on 8080", "stopped"]


def test_a_log_kept_in_the_object_store_outlives_the_server_that_wrote_it(tmp_path: Path) -> None:
    """Several servers share one object store; the pipelines' leader writes the logs on its own
    disk. When it dies, the next leader reads what it kept there: the ended jobs' whole logs,
    and a running job's log as of its last keep, which the job's re-run appends to."""
    shared = MemoryObjectStore()
    first = PipelineLogs(tmp_path / "a", kept=shared)
    ended = first.writer(job())
    ended.datum("bad", [file("/2")])("boom")
    ended.failed("bad")
    ended.close()
    running = first.writer(job("b" * 32))
    running.job("started")
    running.keep()  # what the writer does every KEEP_EVERY seconds while the job runs
    running.job("lost with the server")  # after the last keep: the dead leader's disk only
    nxt = PipelineLogs(tmp_path / "b", kept=shared)  # the next leader: nothing on its disk
    page = nxt.read("p", "a" * 32)
    assert [x["message"] for x in page.lines] == ["boom"] and page.done
    assert [x["message"] for x in nxt.read("p", "a" * 32, failed=True).lines] == ["boom"]
    partial = nxt.read("p", "b" * 32)
    assert [x["message"] for x in partial.lines] == ["started"] and not partial.done
    rerun = nxt.writer(job("b" * 32))  # the new leader runs the interrupted job again
    rerun.job("run again")
    rerun.close()
    again = PipelineLogs(tmp_path / "c", kept=shared).read("p", "b" * 32)
    assert [x["message"] for x in again.lines] == ["started", "run again"] and again.done
    running.close(done=False)  # (the dead server's file, closed to leave no warning behind)
    nxt.delete("p")
    assert list(shared.list("pipeline-logs/")) == []
    assert PipelineLogs(tmp_path / "d", kept=shared).read("p", "a" * 32).lines == []


def test_a_writer_keeps_its_log_every_so_often_while_it_runs(tmp_path: Path) -> None:
    shared = MemoryObjectStore()
    logs = PipelineLogs(tmp_path / "a", kept=shared, keep_every=0.0)
    w = logs.writer(job())
    w.job("one")
    w.wait_kept()
    seen = PipelineLogs(tmp_path / "b", kept=shared).read("p", "a" * 32)
    assert [x["message"] for x in seen.lines] == ["one"] and not seen.done
    w.close()


class _Down(MemoryObjectStore):
    def put(self, key: str, data: object) -> None:  # type: ignore[override]
        raise OSError("the store is down")


def test_a_store_that_is_down_never_fails_the_job_whose_log_it_keeps(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path, kept=_Down())
    w = logs.writer(job())
    w.job("done")
    w.close()  # the keep fails: logged, the job's end goes on
    page = logs.read("p", "a" * 32)
    assert [x["message"] for x in page.lines] == ["done"] and page.done
