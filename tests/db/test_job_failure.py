"""The failure kind of a job and its trials is stored with them; rows written before kinds
existed (no "failure" in their document) still load."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, select, update

from kaon.core.jobs import Bundle, Job, JobFailure, JobId, JobState, Trial, WorkspaceName
from kaon.db import schema
from kaon.db.database import Database
from kaon.ports.jobs import Workspace

WS = WorkspaceName("ws")
B = Bundle("source", "m", "ws-source", "b", "c" * 32, "d" * 64)


def test_failure_kinds_round_trip_and_old_rows_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kaon.db'}"
    database = Database(url)
    store = database.jobs
    try:
        database.workspaces.create_workspace(Workspace(WS, 1.0, "me"))
        job = Job(JobId("a" * 32), WS, JobState.PENDING, 1.0, "me", B, B)
        store.add_job(job, [Trial(job.id, 0, {})])
        failed = job.moved(JobState.BUILDING).moved(
            JobState.FAILURE, failure=JobFailure.BUILD, reason="build failed: x"
        )
        store.save_job(failed)
        trial = store.list_trials(job.id)[0].moved(JobState.FAILURE, failure=JobFailure.BUILD)
        store.save_trial(trial)
        assert store.get_job(job.id) == failed and store.list_trials(job.id) == [trial]

        older = create_engine(url)  # rewrite the rows as an older kaon wrote them
        with older.begin() as conn:
            for table in (schema.jobs, schema.trials):
                for row in conn.execute(select(table)).mappings():
                    doc = json.loads(row["doc"])
                    del doc["failure"]
                    key = table.c.id if table is schema.jobs else table.c.job
                    conn.execute(
                        update(table).where(key == row[key.name]).values(doc=json.dumps(doc))
                    )
        older.dispose()
        old = store.get_job(job.id)
        assert old is not None and old.failure is None and old.reason == "build failed: x"
        assert store.list_trials(job.id)[0].failure is None
    finally:
        database.close()
