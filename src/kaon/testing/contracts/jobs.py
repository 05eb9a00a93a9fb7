"""Contract of the JobStore port: jobs and their trials (kaon.ports.jobs)."""

from __future__ import annotations

import dataclasses

import pytest

from kaon.core.jobs import JobState, ModelId, Trial, WorkspaceName
from kaon.ports.database import MetadataDatabase
from kaon.ports.jobs import JobStore
from kaon.ports.workspaces import Workspace, WorkspaceStore
from kaon.testing.samples import WS, job, job_id


class JobStoreContract:
    @pytest.fixture
    def workspaces(self, database: MetadataDatabase) -> WorkspaceStore:
        database.workspaces.create_workspace(Workspace(WS, 1.0, "me"))
        return database.workspaces

    @pytest.fixture
    def jobs(self, database: MetadataDatabase, workspaces: WorkspaceStore) -> JobStore:
        """The database's JobStore, with the workspace 'ws'."""
        return database.jobs

    def test_jobs_and_trials_round_trip(self, jobs: JobStore) -> None:
        first, second = job(1), job(2, JobState.RUNNING)
        jobs.add_job(first, [Trial(first.id, 0, {"a": 1}), Trial(first.id, 1, {"a": 2})])
        jobs.add_job(second, [])
        assert jobs.get_job(first.id) == first
        assert [j.id for j in jobs.list_jobs(WS)] == [second.id, first.id]
        assert [j.id for j in jobs.list_jobs(states=[JobState.RUNNING])] == [second.id]
        assert jobs.find_jobs(first.id[:4]) == [first.id]
        done = (
            jobs.list_trials(first.id)[1]
            .moved(JobState.RUNNING)
            .moved(JobState.SUCCESS, model_id=ModelId("abcde_abcde:abcdef"), metrics={"acc": 0.5})
        )
        jobs.save_trial(done)
        assert jobs.find_model(WS, ModelId("abcde_abcde:abcdef")) == done
        jobs.save_job(first.moved(JobState.FAILURE, reason="why"))
        assert jobs.get_job(first.id).reason == "why"  # type: ignore[union-attr]

    def test_missing_jobs_and_trials(self, jobs: JobStore) -> None:
        assert jobs.get_job(job_id(7)) is None
        assert jobs.list_trials(job_id(7)) == []
        jobs.save_job(job(7, JobState.RUNNING))  # an unknown job is ignored
        jobs.save_trial(Trial(job_id(7), 0, {}, JobState.RUNNING))
        assert jobs.get_job(job_id(7)) is None and jobs.list_jobs() == []

    def test_list_newest_first_with_filters(
        self, jobs: JobStore, workspaces: WorkspaceStore
    ) -> None:
        other = WorkspaceName("other")
        workspaces.create_workspace(Workspace(other, 1.0, "me"))
        tie = dataclasses.replace(job(3), id=job_id(0xFFFF), state=JobState.SUCCESS)
        made = [job(1), job(3, JobState.RUNNING), tie, job(2, JobState.FAILURE, other)]
        for j in made:
            jobs.add_job(j, [])
        assert [j.id for j in jobs.list_jobs()] == [
            job_id(3),  # created at 3, then by id
            job_id(0xFFFF),
            job_id(2),
            job_id(1),
        ]
        assert [j.id for j in jobs.list_jobs(other)] == [job_id(2)]
        running = jobs.list_jobs(states=[JobState.RUNNING, JobState.FAILURE])
        assert [j.id for j in running] == [job_id(3), job_id(2)]
        assert jobs.list_jobs(WS, [JobState.FAILURE]) == []
        assert jobs.list_jobs(WorkspaceName("nope")) == []

    def test_job_workspaces_in_one_read(self, jobs: JobStore, workspaces: WorkspaceStore) -> None:
        other = WorkspaceName("other")
        workspaces.create_workspace(Workspace(other, 1.0, "me"))
        jobs.add_job(job(1), [])
        jobs.add_job(job(2, workspace=other), [])
        asked = [job_id(1), job_id(2), job_id(9), job_id(1)]
        assert jobs.job_workspaces(asked) == {job_id(1): WS, job_id(2): other}
        assert jobs.job_workspaces([]) == {}
        many = [job_id(n) for n in range(3, 1203)]  # more than one IN (...) batch
        assert jobs.job_workspaces([*many, job_id(2)]) == {job_id(2): other}

    def test_find_jobs_by_prefix(self, jobs: JobStore) -> None:
        ids = [job_id(n) for n in (0x1A, 0x1B, 0x2A)]
        for n in (0x1A, 0x1B, 0x2A):
            jobs.add_job(job(n), [])
        assert jobs.find_jobs(ids[0]) == [ids[0]]
        assert sorted(jobs.find_jobs("001", limit=5)) == ids[:2]
        assert len(jobs.find_jobs("00")) == 2  # at most `limit`, 2 by default
        assert jobs.find_jobs("00", limit=1)[0] in ids
        assert jobs.find_jobs("") == []
        assert jobs.find_jobs("001A") == []  # ids are lowercase hex
        assert jobs.find_jobs("zz%_") == []
        assert jobs.find_jobs("ff") == []

    def test_trials_by_index(self, jobs: JobStore) -> None:
        j = job(1)
        jobs.add_job(j, [Trial(j.id, 1, {"a": 2})])
        jobs.add_trials([Trial(j.id, 2, {"a": 3}), Trial(j.id, 0, {"a": 1})])
        jobs.add_trials([])
        assert [(t.index, t.params) for t in jobs.list_trials(j.id)] == [
            (0, {"a": 1}),
            (1, {"a": 2}),
            (2, {"a": 3}),
        ]
        running = jobs.list_trials(j.id)[2].moved(JobState.RUNNING, started=5.0)
        jobs.save_trial(running)
        assert jobs.list_trials(j.id)[2] == running
        assert jobs.list_trials(j.id)[0].state is JobState.PENDING

    def test_trials_tallied_and_the_last_finished(self, jobs: JobStore) -> None:
        """Counts and process time without loading trials; the trials that finished last
        (then the unfinished by index), so a list of jobs never loads a search's 1,000."""
        j, empty = job(1), job(2)
        jobs.add_job(j, [Trial(j.id, i, {"a": i}) for i in range(5)])
        jobs.add_job(empty, [])

        def finish(index: int, started: float, finished: float | None) -> None:
            trial = jobs.list_trials(j.id)[index].moved(JobState.RUNNING, started=started)
            if finished is not None:
                trial = trial.moved(JobState.SUCCESS, finished=finished)
            jobs.save_trial(trial)

        finish(1, 10.0, 14.5)
        finish(3, 11.0, 20.0)
        finish(4, 12.0, None)  # running: started, no time yet
        jobs.save_trial(jobs.list_trials(j.id)[2].moved(JobState.KILLED, finished=30.0))
        tally = jobs.tally_trials([j.id, empty.id, job_id(9)])
        assert list(tally) == [j.id]  # no trials, or no such job: left out
        assert (tally[j.id].count, tally[j.id].started) == (5, 3)
        assert tally[j.id].process == pytest.approx(4.5 + 9.0)
        assert [t.index for t in jobs.last_trials(j.id, 3)] == [2, 3, 1]
        assert [t.index for t in jobs.last_trials(j.id, 10)] == [2, 3, 1, 0, 4]
        assert jobs.last_trials(j.id, 0) == [] and jobs.last_trials(empty.id, 5) == []
        assert jobs.last_trials(j.id, 1)[0] == jobs.list_trials(j.id)[2]
        assert [x.id for x in jobs.list_jobs(WS, limit=1)] == [empty.id]

    def test_models_are_found_per_workspace(
        self, jobs: JobStore, workspaces: WorkspaceStore
    ) -> None:
        """The same content-addressed model id produced in two workspaces: each workspace
        finds its own trial (the newest job's when it made it twice), never the other's."""
        other = WorkspaceName("other")
        workspaces.create_workspace(Workspace(other, 1.0, "me"))
        mid = ModelId("abcde_abcde:abcdef")

        def produce(n: int, ws: WorkspaceName, commit: str) -> Trial:
            made = dataclasses.replace(job(n), workspace=ws)
            jobs.add_job(made, [Trial(made.id, 0, {})])
            trial = (
                Trial(made.id, 0, {})
                .moved(JobState.RUNNING)
                .moved(JobState.SUCCESS, model_id=mid, model_commit=commit, model_path="/abcdef")
            )
            jobs.save_trial(trial)
            return trial

        assert jobs.find_model(WS, mid) is None and jobs.model_workspaces(mid) == []
        mine = produce(1, WS, "c-ws")
        assert jobs.model_workspaces(mid) == [WS]
        assert jobs.find_model(other, mid) is None
        theirs = produce(2, other, "c-other")
        again = produce(3, WS, "c-ws-again")
        assert jobs.find_model(other, mid) == theirs
        assert jobs.find_model(WS, mid) == again != mine
        assert jobs.model_workspaces(mid) == [other, WS]
        assert jobs.model_workspaces(ModelId("fffff_fffff:ffffff")) == []
        workspaces.delete_workspace(other)
        assert jobs.model_workspaces(mid) == [WS] and jobs.find_model(other, mid) is None
