"""SqlJobStore: the JobStore port (jobs and their trials) on SQLAlchemy Core.

Jobs and trials keep their queryable fields (workspace, state, created, model id) as columns
and everything else as one JSON document, so that adding a recorded detail needs no migration
(the failure kind of issue 14 is one: documents without it load with none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Row, cast, func, insert, select, type_coerce, update

from kaon.core.ids import is_hex
from kaon.core.jobs import (
    Bundle,
    Hyper,
    Job,
    JobFailure,
    JobId,
    JobState,
    ModelId,
    Resources,
    Trial,
    WorkspaceName,
)
from kaon.db import schema
from kaon.db.sqlstore import SqlStore, batches, guarded
from kaon.ports.jobs import TrialTally


def _job_doc(job: Job) -> str:
    r = job.resources
    return json.dumps(
        {
            "author": job.author,
            "source": job.source.to_dict(),
            "data": job.data.to_dict(),
            "hyper": job.hyper.to_dict() if job.hyper else None,
            "resources": {
                "cpu": r.cpu,
                "memory": r.memory,
                "timeout": r.timeout,
                "parallelism": r.parallelism,
                "sandbox": r.sandbox,
            },
            "started": job.started,
            "finished": job.finished,
            "reason": job.reason,
            "env": job.env,
            "variables": job.variables,
            "failure": job.failure.value if job.failure else None,
        }
    )


def _job(row: Row[Any]) -> Job:
    m = row._mapping
    doc = json.loads(m["doc"])
    r = doc["resources"]
    return Job(
        id=JobId(m["id"]),
        workspace=WorkspaceName(m["workspace"]),
        state=JobState(m["state"]),
        created=float(m["created"]),
        author=doc["author"],
        source=Bundle.from_dict(doc["source"]),
        data=Bundle.from_dict(doc["data"]),
        hyper=Hyper.from_dict(doc["hyper"]) if doc["hyper"] else None,
        resources=Resources(
            cpu=r["cpu"],
            memory=r["memory"],
            timeout=r["timeout"],
            parallelism=int(r["parallelism"]),
            sandbox=bool(r["sandbox"]),
        ),
        started=doc["started"],
        finished=doc["finished"],
        reason=doc["reason"],
        env=doc["env"],
        variables=dict(doc.get("variables") or {}),
        failure=_failure(doc),
    )


def _failure(doc: dict[str, Any]) -> JobFailure | None:
    """The recorded failure kind; rows written before kinds were have none."""
    kind = doc.get("failure")
    return JobFailure(kind) if kind else None


def _trial_row(t: Trial) -> dict[str, Any]:
    doc = {
        "params": t.params,
        "started": t.started,
        "finished": t.finished,
        "exit_code": t.exit_code,
        "model_commit": t.model_commit,
        "model_path": t.model_path,
        "metrics": t.metrics,
        "reason": t.reason,
        "failure": t.failure.value if t.failure else None,
    }
    return {
        "job": t.job,
        "ind": t.index,
        "state": t.state.value,
        "model_id": t.model_id,
        "doc": json.dumps(doc),
    }


def _trial(row: Row[Any]) -> Trial:
    m = row._mapping
    doc = json.loads(m["doc"])
    return Trial(
        job=JobId(m["job"]),
        index=int(m["ind"]),
        params=doc["params"],
        state=JobState(m["state"]),
        started=doc["started"],
        finished=doc["finished"],
        exit_code=doc["exit_code"],
        model_id=None if m["model_id"] is None else ModelId(m["model_id"]),
        model_commit=doc["model_commit"],
        model_path=doc["model_path"],
        metrics=doc["metrics"],
        reason=doc["reason"],
        failure=_failure(doc),
    )


class SqlJobStore(SqlStore):
    # -- jobs ------------------------------------------------------------------------------

    @guarded
    def add_job(self, job: Job, trials: Sequence[Trial]) -> None:
        row = {
            "id": job.id,
            "workspace": job.workspace,
            "state": job.state.value,
            "created": job.created,
            "doc": _job_doc(job),
        }
        with self._writer.begin() as conn:
            conn.execute(insert(schema.jobs), row)
            if trials:
                conn.execute(insert(schema.trials), [_trial_row(t) for t in trials])

    @guarded
    def save_job(self, job: Job) -> None:
        t = schema.jobs
        with self._writer.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == job.id).values(state=job.state.value, doc=_job_doc(job))
            )

    @guarded
    def get_job(self, job_id: JobId) -> Job | None:
        t = schema.jobs
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == job_id)).first()
        return None if row is None else _job(row)

    @guarded
    def job_workspaces(self, job_ids: Sequence[JobId]) -> dict[JobId, WorkspaceName]:
        t = schema.jobs
        found: dict[JobId, WorkspaceName] = {}
        with self._engine.connect() as conn:
            for batch in batches(job_ids):
                stmt = select(t.c.id, t.c.workspace).where(t.c.id.in_(batch))
                found.update((JobId(i), WorkspaceName(w)) for i, w in conn.execute(stmt))
        return found

    @guarded
    def find_jobs(self, prefix: str, limit: int = 2) -> list[JobId]:
        if not prefix or not is_hex(prefix):
            return []
        t = schema.jobs
        stmt = select(t.c.id).where(t.c.id.startswith(prefix, autoescape=True)).limit(limit)
        with self._engine.connect() as conn:
            return [JobId(r[0]) for r in conn.execute(stmt)]

    @guarded
    def list_jobs(
        self,
        workspace: WorkspaceName | None = None,
        states: Sequence[JobState] = (),
        limit: int | None = None,
    ) -> list[Job]:
        t = schema.jobs
        stmt = select(t).order_by(t.c.created.desc(), t.c.id)
        if limit is not None:
            stmt = stmt.limit(max(0, limit))
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        if states:
            stmt = stmt.where(t.c.state.in_([s.value for s in states]))
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    # -- trials ----------------------------------------------------------------------------

    @guarded
    def add_trials(self, trials: Sequence[Trial]) -> None:
        if trials:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.trials), [_trial_row(t) for t in trials])

    @guarded
    def save_trial(self, trial: Trial) -> None:
        t = schema.trials
        row = _trial_row(trial)
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.job == trial.job, t.c.ind == trial.index)
                .values(state=row["state"], model_id=row["model_id"], doc=row["doc"])
            )

    @guarded
    def list_trials(self, job_id: JobId) -> list[Trial]:
        t = schema.trials
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.job == job_id).order_by(t.c.ind))
            return [_trial(r) for r in rows]

    def _time(self, key: str) -> ColumnElement[float]:
        """A trial's `started`/`finished` read from its JSON document by the database."""
        doc = schema.trials.c.doc
        as_json = cast(doc, JSON) if self._dialect == "postgresql" else type_coerce(doc, JSON)
        value: ColumnElement[float] = as_json[key].as_float()
        return value

    @guarded
    def tally_trials(self, job_ids: Sequence[JobId]) -> dict[JobId, TrialTally]:
        t = schema.trials
        started, finished = self._time("started"), self._time("finished")
        ran = func.coalesce(finished, started) - started  # NULL (not summed) for unstarted
        found: dict[JobId, TrialTally] = {}
        with self._engine.connect() as conn:
            for batch in batches(job_ids):
                stmt = (
                    select(t.c.job, func.count(), func.count(started), func.sum(ran))
                    .where(t.c.job.in_(batch))
                    .group_by(t.c.job)
                )
                for job, count, ran_count, process in conn.execute(stmt):
                    found[JobId(job)] = TrialTally(int(count), int(ran_count), float(process or 0))
        return found

    @guarded
    def last_trials(self, job_id: JobId, limit: int) -> list[Trial]:
        t = schema.trials
        stmt = (
            select(t)
            .where(t.c.job == job_id)
            .order_by(func.coalesce(self._time("finished"), 0.0).desc(), t.c.ind)
            .limit(max(0, limit))
        )
        with self._engine.connect() as conn:
            return [_trial(r) for r in conn.execute(stmt)]

    @guarded
    def find_model(self, workspace: WorkspaceName, model_id: ModelId) -> Trial | None:
        t, j = schema.trials, schema.jobs
        stmt = (
            select(t)
            .join(j, j.c.id == t.c.job)
            .where(t.c.model_id == model_id, j.c.workspace == workspace)
            .order_by(j.c.created.desc(), t.c.job, t.c.ind)
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _trial(row)

    @guarded
    def model_workspaces(self, model_id: ModelId) -> list[WorkspaceName]:
        t, j = schema.trials, schema.jobs
        stmt = (
            select(j.c.workspace)
            .join(t, j.c.id == t.c.job)
            .where(t.c.model_id == model_id)
            .distinct()
            .order_by(j.c.workspace)
        )
        with self._engine.connect() as conn:
            return [WorkspaceName(r[0]) for r in conn.execute(stmt)]
