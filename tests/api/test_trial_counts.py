"""A list of jobs and a job's summary count its trials without loading them (issue 18: the
overview and the jobs page of a search of 1,000 trials): counted with SQLAlchemy's statement
events on the platform's SQLite engine, only the statements that read the trials table."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kaon.core.jobs import JobState, Trial, WorkspaceName
from kaon.testing.samples import job
from kaon.wiring import Backends

TRIALS = 300


@pytest.fixture
def search(api: TestClient, backends: Backends) -> str:
    """A finished search of TRIALS trials in workspace 'wa' (trial i ran i/10 seconds, the
    last one finished last), and an older job of one trial that never started."""
    assert api.post("/v1/workspaces", json={"name": "wa"}).status_code == 201
    ws = WorkspaceName("wa")
    old = job(1, JobState.FAILURE, ws)
    backends.jobs.add_job(old, [Trial(old.id, 0, {}, JobState.FAILURE, finished=2.0)])
    made = job(2, JobState.SUCCESS, ws)
    trials = [
        Trial(made.id, i, {"c": i}, JobState.SUCCESS, started=10.0, finished=10.0 + i / 10)
        for i in range(TRIALS)
    ]
    backends.jobs.add_job(made, trials)
    return made.id


def _trial_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM trials" in s]


def test_jobs_list_counts_trials_and_loads_only_those_kept(
    api: TestClient, search: str, statements: list[str]
) -> None:
    statements.clear()
    answer = api.get("/v1/workspaces/wa/jobs", params={"limit": 5, "trials": 2})
    assert answer.status_code == 200, answer.text
    newest, old = answer.json()
    assert newest["id"] == search and newest["trial_count"] == TRIALS
    assert [t["index"] for t in newest["trials"]] == [TRIALS - 1, TRIALS - 2]
    expected = sum(i / 10 for i in range(TRIALS))
    assert newest["process_time"] == pytest.approx(expected)
    assert newest["trials_started"] == TRIALS
    assert (old["trial_count"], old["trials_started"]) == (1, 0)
    assert [t["index"] for t in old["trials"]] == [0]
    reads = _trial_reads(statements)
    counted = [s for s in reads if "count(" in s.lower()]
    assert len(counted) == 1  # one read counts every job's trials
    assert all("LIMIT" in s for s in reads if s not in counted)  # the kept trials only
    assert len(reads) == 3

    statements.clear()
    answer = api.get("/v1/workspaces/wa/jobs", params={"trials": 0})
    assert [j["trial_count"] for j in answer.json()] == [TRIALS, 1]
    assert len(_trial_reads(statements)) == 1  # the count alone


def test_job_summary_counts_trials_without_loading_them(
    api: TestClient, search: str, statements: list[str]
) -> None:
    statements.clear()
    answer = api.get(f"/v1/jobs/{search}", params={"trials": "false"})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert (doc["trial_count"], doc["trials_started"], doc["trials"]) == (TRIALS, TRIALS, [])
    assert doc["process_time"] == pytest.approx(sum(i / 10 for i in range(TRIALS)))
    reads = _trial_reads(statements)
    assert len(reads) == 1 and "count(" in reads[0].lower()
    whole = api.get(f"/v1/jobs/{search}").json()  # still every trial when asked
    assert len(whole["trials"]) == TRIALS and whole["trials_started"] == TRIALS
