"""A job's and a trial's lifecycle: the moves core allows, and nothing else."""

from __future__ import annotations

import pytest

from kaon.core.errors import InvalidTransition
from kaon.core.jobs import (
    JOB_MOVES,
    TRIAL_MOVES,
    Bundle,
    Job,
    JobFailure,
    JobId,
    JobState,
    Trial,
    WorkspaceName,
)

B = Bundle("source", "m", "ws-source", "b", "c" * 32, "d" * 64)
P, BU, R = JobState.PENDING, JobState.BUILDING, JobState.RUNNING
S, F, K = JobState.SUCCESS, JobState.FAILURE, JobState.KILLED


def job(state: JobState = P) -> Job:
    return Job(JobId("j" * 32), WorkspaceName("ws"), state, 1.0, "me", B, B)


def test_a_job_goes_pending_building_running_and_ends_once() -> None:
    done = job().moved(BU).moved(R).moved(S)
    assert done.state is S
    failed = job().moved(BU).moved(F, failure=JobFailure.BUILD, reason="build failed: x")
    assert failed.failure is JobFailure.BUILD
    assert job().moved(K, failure=JobFailure.CANCELLED).state is K  # killed while queued


@pytest.mark.parametrize(
    ("old", "new"),
    [(P, R), (P, S), (BU, S), (BU, P), (R, BU), (S, F), (F, R), (K, S), (S, S)],
)
def test_a_job_refuses_any_other_move(old: JobState, new: JobState) -> None:
    with pytest.raises(InvalidTransition, match=f"from {old.value} to {new.value}"):
        job(old).moved(new)


def test_trials_never_build_and_end_once() -> None:
    trial = Trial(JobId("j" * 32), 0, {})
    assert trial.moved(R).moved(S).state is S
    assert trial.moved(F, failure=JobFailure.CANCELLED).state is F  # never run
    for bad in (BU, S):
        with pytest.raises(InvalidTransition):
            trial.moved(bad)
    with pytest.raises(InvalidTransition, match="final"):
        trial.moved(R).moved(K).moved(R)


def test_every_state_has_its_moves_and_finished_states_none() -> None:
    assert set(JOB_MOVES) == set(TRIAL_MOVES) == set(JobState)
    for state in JobState:
        assert (JOB_MOVES[state] == frozenset()) is state.finished
