"""Pipeline records made into answers (kaon.api.answers): the INPUT column as pachctl shows
it, log lines whatever their time stamp's form, enums kept through the wire and back."""

from __future__ import annotations

from kaon.api.answers import input_text, log_page, pipeline_job_info
from kaon.core.pipelines.records import (
    DatumCounts,
    InputCommit,
    JobState,
    JobStats,
    PipelineJob,
)
from kaon.wire import PipelineJobInfo, PipelineLogPage


def pfs(repo: str, glob: str, **more: str) -> dict[str, object]:
    return {"pfs": {"repo": repo, "name": more.pop("name", repo), "glob": glob, **more}}


def test_the_input_column_reads_like_pachctl() -> None:
    assert input_text(pfs("images", "/*")) == "images:/*"
    cross = {"cross": [pfs("transform", "/"), pfs("tune", "/optimal_hp.json")]}
    assert input_text(cross) == "(transform:/ \u2a2f tune:/optimal_hp.json)"
    union = {"union": [pfs("a", "/*", name="in"), pfs("b", "/*", name="in", branch="dev")]}
    assert input_text(union) == "(in=a:/* \u222a in=b@dev:/*)"
    nested = {"group": [{"join": [pfs("a", "/(*)"), pfs("b", "/(*)")]}]}
    assert input_text(nested) == "((a:/(*) \u22c8 b:/(*)))"
    assert input_text({"cron": {"name": "tick", "spec": "@every 1h", "repo": "x_tick"}}) == (
        "tick:@every 1h"
    )
    assert input_text(None) == "none"


def test_log_lines_take_epoch_or_iso_times_and_missing_fields() -> None:
    page = log_page(
        [
            {
                "ts": 1700000000.5,
                "pipeline": "p",
                "job": "j",
                "datum": "d",
                "message": "hi",
                "data": [{"path": "/a", "hash": "h"}],
                "user": True,
            },
            {"ts": "2023-11-14T22:13:20Z", "pipeline": "p", "job": "j", "message": "job"},
        ],
        120,
        False,
    )
    first, second = page.lines
    assert (first.ts, first.datum, first.data[0].path, first.user) == (
        1700000000.5,
        "d",
        "/a",
        True,
    )
    assert (second.ts, second.datum, second.data, second.user) == (1700000000.0, "", [], False)
    again = PipelineLogPage.from_doc(
        {
            "lines": [first.__dict__ | {"data": [{"path": "/a", "hash": "h"}]}],
            "offset": 1,
            "done": True,
        }
    )
    assert again.lines[0].message == "hi"


def test_a_job_keeps_its_state_enum_through_the_wire() -> None:
    job = PipelineJob(
        id="a" * 32,
        pipeline="edges",
        version=2,
        state=JobState.SUCCESS,
        created=1.0,
        inputs=(InputCommit("images", "images", "master", "b" * 32),),
        output_repo="edges",
        output_branch="master",
        started=2.0,
        finished=5.0,
        counts=DatumCounts(total=3, processed=1, skipped=2),
        stats=JobStats(download_bytes=10),
    )
    info = pipeline_job_info(job)
    assert (info.progress, info.duration, info.key) == ("1 + 2 / 3", 3.0, f"edges@{'a' * 32}")
    from dataclasses import asdict

    doc = asdict(info) | {"state": info.state.value}
    back = PipelineJobInfo.from_doc(doc)
    assert back.state is JobState.SUCCESS and back.inputs[0].commit == "b" * 32
