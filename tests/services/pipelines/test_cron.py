"""Cron schedules (pure) and ticks (a commit named by its RFC 3339 time starts a job)."""

from __future__ import annotations

import datetime as dt

import pytest

from kaon.core.address import Ref
from kaon.core.errors import InvalidInput
from kaon.services.pipelines.cron import first_tick, parse_schedule, tick_name
from kaon.services.pipelines.service import SpecRequest


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("@every 90s", "2026-12-06T12:00:00", "2026-12-06T12:01:30"),
        ("@every 1h30m", "2026-12-06T12:00:00", "2026-12-06T13:30:00"),
        ("@hourly", "2026-12-06T12:00:00", "2026-12-06T13:00:00"),
        ("@hourly", "2026-12-06T12:59:59", "2026-12-06T13:00:00"),
        ("@daily", "2026-12-06T12:00:00", "2026-12-07T00:00:00"),
        ("*/15 * * * *", "2026-12-06T12:07:00", "2026-12-06T12:15:00"),
        ("0 9 * * mon-fri", "2026-12-05T10:00:00", "2026-12-07T09:00:00"),  # Sat → Mon
        ("30 2 1 jan *", "2026-12-06T00:00:00", "2027-01-01T02:30:00"),
        ("0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),  # next leap day
        ("0 12 * * 7", "2026-12-06T12:00:00", "2026-12-13T12:00:00"),  # 7 = Sunday too
    ],
)
def test_next_tick(spec: str, after: str, expected: str) -> None:
    assert parse_schedule(spec).next_after(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("@every", "takes a duration"),
        ("@every 10x", "takes a duration"),
        ("* * *", "expected 5 fields"),
        ("61 * * * *", "minute field '61' is out of range 0-59"),
        ("* * * foo *", "bad month field 'foo'"),
        ("*/0 * * * *", "out of range"),
    ],
)
def test_bad_schedules_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_schedule(spec)


def test_tick_names_are_rfc3339_utc() -> None:
    assert tick_name(at("2026-12-06T12:00:05")) == "2026-12-06T12:00:05Z"


def test_a_forced_tick_commits_a_file_and_starts_a_job(platform, seed) -> None:  # type: ignore[no-untyped-def]
    spec = {
        "pipeline": {"name": "ticker"},
        "input": {"cron": {"name": "tick", "spec": "@daily", "overwrite": True}},
        "transform": {"cmd": ["sh", "-c", "ls /pfs/tick > /pfs/out/seen"]},
    }
    platform.pipelines.create([SpecRequest(spec)], "alice")
    assert platform.pipelines.jobs("ticker") == []  # no tick yet: the daily one is far away
    first = platform.pipelines.tick("ticker")[0]
    second = platform.pipelines.tick("ticker")[0]
    files = platform.files.list_files("ticker_tick", Ref("master"), "/")
    assert len(files) == 1  # overwrite: the second tick replaced the first one's file
    job = platform.pipelines.wait_job("ticker", second, timeout=120.0)
    assert job.inputs[0].commit == second and job.state.label == "success", job.reason
    assert {j.id for j in platform.pipelines.jobs("ticker")} == {first, second}
    seen = seed.read("ticker", "master", "/seen").decode().split()
    assert [f"/{name}" for name in seen] == [f.path for f in files]


def test_the_first_tick_counts_from_start() -> None:
    from kaon.core.pipelines.spec import CronInput

    later = CronInput("t", "@every 1h", "p_t", start="2026-12-07T00:00:00Z")
    assert first_tick(later, at("2026-12-06T12:00:00")) == at("2026-12-07T01:00:00")
    past = CronInput("t", "@every 1h", "p_t", start="2020-01-01T00:00:00Z")
    assert first_tick(past, at("2026-12-06T12:00:00")) == at("2026-12-06T13:00:00")
