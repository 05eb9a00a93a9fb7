"""TrialRunner: a job's RUNNING step — its trials as tasks on the executor, `-p` at a time,
each also waiting for one of the platform's slots; an optuna search asks for its trials as
it goes. Cancelling stops the running tasks and starts no other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from kaon.core.ids import CommitId, RepoName
from kaon.core.jobs import Job, JobFailure, JobState, Trial, trial_name
from kaon.ports.content import TreeRef
from kaon.ports.executor import Executor
from kaon.services.jobaccess import Access
from kaon.services.joblog import JobLog
from kaon.services.joboutputs import JobOutputs, TrialModel
from kaon.services.jobrecord import JobRecorder
from kaon.services.search import OptunaSearch
from kaon.services.trials import Build, TrialOutcome, trial_task


class TrialRunner:
    def __init__(
        self,
        executor: Executor,
        recorder: JobRecorder,
        outputs: JobOutputs,
        slots: int,
        default_memory: int | None = None,
    ) -> None:
        self._executor = executor
        self._recorder = recorder
        self._outputs = outputs
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._default_memory = default_memory  # a trial's when its job gives no --memory

    @property
    def executor(self) -> Executor:
        return self._executor

    def describe_memory(self, job: Job) -> str:
        """How a trial's memory is bounded, for the job's record."""
        memory = job.resources.memory or self._default_memory
        return self._executor.describe_memory(memory, job.resources.memory is None)

    def run(
        self, job: Job, build: Build, access: Access, log: JobLog, cancel: threading.Event
    ) -> list[TrialOutcome]:
        """Run the job's trials (the outcomes of those that ran), its code and data fetched
        once for all of them."""
        log.write(f"job {job.id}: source {job.source.path}, data {job.data.path}")
        trees = [TreeRef(RepoName(b.repo), CommitId(b.commit)) for b in (job.source, job.data)]
        with self._executor.keep(trees):
            if (
                job.hyper is not None
                and job.hyper.search == "optuna"
                and "reproduces" not in job.env
            ):
                return self._search(job, build, access, log, cancel)
            trials = self._recorder.trials(job)
            with ThreadPoolExecutor(max(1, job.resources.parallelism)) as pool:
                results = list(
                    pool.map(lambda t: self._one(job, t, build, access, log, cancel), trials)
                )
            return [o for o in results if o is not None]

    def _search(
        self, job: Job, build: Build, access: Access, log: JobLog, cancel: threading.Event
    ) -> list[TrialOutcome]:
        assert job.hyper is not None
        parallel = max(1, job.resources.parallelism)
        search = OptunaSearch(job.hyper)
        outcomes: list[TrialOutcome] = []
        index = 0
        while index < job.hyper.trials and not cancel.is_set():
            batch = []
            for _ in range(min(parallel, job.hyper.trials - index)):
                batch.append(Trial(job.id, index, search.ask()))
                index += 1
            self._recorder.trials_added(job, batch)
            with ThreadPoolExecutor(len(batch)) as pool:
                done = list(
                    pool.map(lambda t: self._one(job, t, build, access, log, cancel), batch)
                )
            for trial, outcome in zip(batch, done, strict=True):
                search.tell(
                    trial.params, outcome.metrics if outcome and not outcome.error else None
                )
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    def _one(
        self,
        job: Job,
        trial: Trial,
        build: Build,
        access: Access,
        log: JobLog,
        cancel: threading.Event,
    ) -> TrialOutcome | None:
        with self._slots:
            if cancel.is_set():
                state, kind, reason = self._recorder.cancelled("running")
                self._recorder.save_trial(trial.moved(state, reason=reason, failure=kind))
                return None
            sink = log.child(f"[trial {trial.index}] ") if job.hyper is not None else log
            trial = self._recorder.trial_started(trial)
            task = trial_task(job, trial, build, access.s3, access.api, self._default_memory)
            if trial.params:
                sink.write(f"hyperparameters {trial_name(trial.params)[:-5]}")
            model = self._outputs.sink(job, trial, sink.write)
            self._executor.run(task, sink.write, model, cancel)
        return self._record(job, trial, model, sink)

    def _record(self, job: Job, trial: Trial, model: TrialModel, sink: JobLog) -> TrialOutcome:
        outcome = model.outcome
        if outcome is None:
            raise RuntimeError(f"the executor ran trial {trial.index} but delivered no outputs")
        if outcome.error:
            state, kind = JobState.FAILURE, outcome.failure or JobFailure.RUN
            if outcome.result.cancelled:
                state, kind, _ = self._recorder.cancelled("running")
            sink.write(f"trial failed: {outcome.error}")
            self._recorder.trial_ended(
                trial, state, kind, outcome.error, exit_code=outcome.result.exit_code
            )
        else:
            self._recorder.model_made(job, trial, **model.model)
        return outcome
