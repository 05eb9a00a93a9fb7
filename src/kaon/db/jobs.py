"""SqlJobStore: the JobStore port on SQLAlchemy Core (SQLite or PostgreSQL).

Jobs and trials keep their queryable fields (workspace, state, created, model id) as columns
and everything else as one JSON document, so that adding a recorded detail needs no migration
(the failure kind of issue 14 is one: documents without it load with none).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Row, delete, exc, insert, select, update

from kaon.core.endpoints import Endpoint
from kaon.core.errors import AlreadyExists, WorkspaceNotFound
from kaon.core.ids import is_hex
from kaon.core.jobs import (
    Bundle,
    FailureKind,
    Hyper,
    Job,
    JobId,
    JobState,
    ModelId,
    Resources,
    Trial,
    WorkspaceName,
)
from kaon.db import schema
from kaon.db.engine import DEFAULT_BUSY_TIMEOUT, WRITE_OPTION, backend_errors
from kaon.db.migrate import migrated_engine
from kaon.ports.jobs import Workspace

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[SqlJobStore, _P], _R],
) -> Callable[Concatenate[SqlJobStore, _P], _R]:
    @wraps(method)
    def wrapper(self: SqlJobStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with backend_errors(self.url, self._busy_timeout):
            return method(self, *args, **kwargs)

    return wrapper


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


def _failure(doc: dict[str, Any]) -> FailureKind | None:
    """The recorded failure kind; rows written before kinds were have none."""
    kind = doc.get("failure")
    return FailureKind(kind) if kind else None


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


def _workspace(row: Row[Any]) -> Workspace:
    m = row._mapping
    return Workspace(
        name=WorkspaceName(m["name"]),
        created=float(m["created"]),
        author=str(m["author"]),
        current=json.loads(m["current"]),
    )


class SqlJobStore:
    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.url = url
        self._busy_timeout = busy_timeout
        self._engine = migrated_engine(url, busy_timeout)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})

    def close(self) -> None:
        self._engine.dispose()

    # -- workspaces ------------------------------------------------------------------------

    @_guarded
    def create_workspace(self, workspace: Workspace) -> None:
        row = {
            "name": workspace.name,
            "created": workspace.created,
            "author": workspace.author,
            "current": json.dumps(workspace.current),
        }
        try:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.workspaces), row)
        except exc.IntegrityError:
            raise AlreadyExists(
                f"workspace '{workspace.name}' already exists: use `kaon workspace set -n "
                f"{workspace.name}`"
            ) from None

    @_guarded
    def get_workspace(self, name: WorkspaceName) -> Workspace | None:
        t = schema.workspaces
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _workspace(row)

    @_guarded
    def list_workspaces(self) -> list[Workspace]:
        t = schema.workspaces
        with self._engine.connect() as conn:
            return [_workspace(r) for r in conn.execute(select(t).order_by(t.c.name))]

    @_guarded
    def set_current(self, name: WorkspaceName, current: dict[str, Any]) -> None:
        t = schema.workspaces
        with self._writer.begin() as conn:
            done = conn.execute(
                update(t).where(t.c.name == name).values(current=json.dumps(current))
            )
        if done.rowcount == 0:
            raise WorkspaceNotFound(f"workspace '{name}' does not exist")

    @_guarded
    def delete_workspace(self, name: WorkspaceName) -> None:
        with self._writer.begin() as conn:
            jobs = select(schema.jobs.c.id).where(schema.jobs.c.workspace == name)
            conn.execute(delete(schema.trials).where(schema.trials.c.job.in_(jobs)))
            conn.execute(delete(schema.endpoints).where(schema.endpoints.c.workspace == name))
            conn.execute(delete(schema.jobs).where(schema.jobs.c.workspace == name))
            conn.execute(delete(schema.workspaces).where(schema.workspaces.c.name == name))

    # -- jobs ------------------------------------------------------------------------------

    @_guarded
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

    @_guarded
    def save_job(self, job: Job) -> None:
        t = schema.jobs
        with self._writer.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == job.id).values(state=job.state.value, doc=_job_doc(job))
            )

    @_guarded
    def get_job(self, job_id: JobId) -> Job | None:
        t = schema.jobs
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == job_id)).first()
        return None if row is None else _job(row)

    @_guarded
    def find_jobs(self, prefix: str, limit: int = 2) -> list[JobId]:
        if not prefix or not is_hex(prefix):
            return []
        t = schema.jobs
        stmt = select(t.c.id).where(t.c.id.startswith(prefix, autoescape=True)).limit(limit)
        with self._engine.connect() as conn:
            return [JobId(r[0]) for r in conn.execute(stmt)]

    @_guarded
    def list_jobs(
        self, workspace: WorkspaceName | None = None, states: Sequence[JobState] = ()
    ) -> list[Job]:
        t = schema.jobs
        stmt = select(t).order_by(t.c.created.desc(), t.c.id)
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        if states:
            stmt = stmt.where(t.c.state.in_([s.value for s in states]))
        with self._engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    # -- trials ----------------------------------------------------------------------------

    @_guarded
    def add_trials(self, trials: Sequence[Trial]) -> None:
        if trials:
            with self._writer.begin() as conn:
                conn.execute(insert(schema.trials), [_trial_row(t) for t in trials])

    @_guarded
    def save_trial(self, trial: Trial) -> None:
        t = schema.trials
        row = _trial_row(trial)
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.job == trial.job, t.c.ind == trial.index)
                .values(state=row["state"], model_id=row["model_id"], doc=row["doc"])
            )

    @_guarded
    def list_trials(self, job_id: JobId) -> list[Trial]:
        t = schema.trials
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.job == job_id).order_by(t.c.ind))
            return [_trial(r) for r in rows]

    @_guarded
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

    @_guarded
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

    # -- endpoints -------------------------------------------------------------------------

    @_guarded
    def add_endpoint(self, endpoint: Endpoint) -> None:
        row = {
            "name": endpoint.name,
            "workspace": endpoint.workspace,
            "state": endpoint.state.value,
            "created": endpoint.created,
            "doc": json.dumps(endpoint.to_doc()),
        }
        with self._writer.begin() as conn:
            conn.execute(insert(schema.endpoints), row)

    @_guarded
    def save_endpoint(self, endpoint: Endpoint) -> None:
        t = schema.endpoints
        with self._writer.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == endpoint.name)
                .values(state=endpoint.state.value, doc=json.dumps(endpoint.to_doc()))
            )

    @_guarded
    def get_endpoint(self, name: str) -> Endpoint | None:
        t = schema.endpoints
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.name == name)).first()
        return None if row is None else _endpoint(row)

    @_guarded
    def list_endpoints(self, workspace: WorkspaceName | None = None) -> list[Endpoint]:
        t = schema.endpoints
        stmt = select(t).order_by(t.c.created.desc(), t.c.name)
        if workspace is not None:
            stmt = stmt.where(t.c.workspace == workspace)
        with self._engine.connect() as conn:
            return [_endpoint(r) for r in conn.execute(stmt)]


def _endpoint(row: Row[Any]) -> Endpoint:
    m = row._mapping
    return Endpoint.from_doc(
        m["name"], m["workspace"], m["state"], float(m["created"]), json.loads(m["doc"])
    )
