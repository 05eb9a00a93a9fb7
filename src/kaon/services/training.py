"""Training jobs: submit, build the environment, run the trials, commit the models.

Each job runs in its own thread: BUILDING (working copy of the code, lock, environment),
RUNNING (trials, `-p` at a time, every trial also waiting for one of the platform's slots),
then SUCCESS, FAILURE or KILLED with a reason. Jobs left BUILDING or RUNNING by a platform
stop are marked FAILURE on the next start (`recover`), never left running forever.
"""

from __future__ import annotations

import logging
import shutil
import threading
import traceback
from collections.abc import Callable, Container
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kaon.core.address import Ref
from kaon.core.errors import (
    BuildFailed,
    InvalidInput,
    JobNotFound,
    JobNotRunning,
    KaonError,
    ModelNotFound,
    NotFound,
)
from kaon.core.hyper import grid, random_points
from kaon.core.jobs import (
    Bundle,
    Hyper,
    Job,
    JobId,
    JobState,
    ModelId,
    Resources,
    Trial,
    make_model_id,
    new_job_id,
    trial_name,
)
from kaon.ports.envbuilder import EnvBuilder, Environment, EnvLock
from kaon.ports.executor import Executor
from kaon.ports.jobs import JobRecords as JobStore  # TEMPORARY (issue 14)
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.joblog import JobLog
from kaon.services.jobtokens import ApiEnv, JobTokens
from kaon.services.localfs import checkout, ingest
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.s3keys import CredentialService, S3Env
from kaon.services.search import OptunaSearch
from kaon.services.trials import TrialOutcome, fingerprint, run_trial
from kaon.services.workspaces import WorkspaceService, no_data, repo_of

log = logging.getLogger("kaon.training")


class TrainingService:
    def __init__(
        self,
        jobs: JobStore,
        workspaces: WorkspaceService,
        repos: RepoService,
        commits: CommitService,
        files: FileService,
        chunks: ChunkStore,
        envs: EnvBuilder,
        executor: Executor,
        root: Path,
        clock: Callable[[], float],
        slots: int,
        provenance: ProvenanceService,
        runtime: Path | None = None,
        keys: CredentialService | None = None,
        hidden: tuple[Path, ...] = (),
        default_memory: int | None = None,
        tokens: JobTokens | None = None,
    ) -> None:
        self._default_memory = default_memory  # a trial's when its job gives no --memory
        self._tokens = tokens  # API tokens: each running job gets its own (KAON_TOKEN)
        self._hidden = hidden  # what user code must not see (the platform's home)
        self._keys = keys  # S3 gateway keys: each running job gets its own pair
        self._provenance = provenance
        self._runtime = runtime
        self._jobs = jobs
        self._workspaces = workspaces
        self._repos = repos
        self._commits = commits
        self._files = files
        self._chunks = chunks
        self._envs = envs
        self._executor = executor
        self._root = root
        self._clock = clock
        self._slots = threading.BoundedSemaphore(max(1, slots))
        self._cancel: dict[JobId, threading.Event] = {}
        self._threads: dict[JobId, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # set by shutdown: cancelled jobs were interrupted

    # queries -----------------------------------------------------------------------------
    def get(self, ref: str) -> Job:
        job = self._jobs.get_job(JobId(ref)) if len(ref) == 32 else None
        if job is None:
            found = self._jobs.find_jobs(ref.lower(), limit=2) if len(ref) >= 4 else []
            if len(found) > 1:
                raise InvalidInput(f"job id prefix '{ref}' is ambiguous: give more characters")
            job = self._jobs.get_job(found[0]) if found else None
        if job is None:
            raise JobNotFound(f"there is no job with id '{ref}': see `kaon train list`")
        return job

    def jobs(self, workspace: str) -> list[Job]:
        return self._jobs.list_jobs(self._workspaces.get(workspace).name)

    def trials(self, job: Job) -> list[Trial]:
        return self._jobs.list_trials(job.id)

    def model(
        self, workspace: str, model_id: ModelId, visible: Container[str] | None = None
    ) -> Trial:
        """The trial that produced `model_id` in `workspace` (model ids are content
        addresses: the same id trained elsewhere is another workspace's model; the 404
        names those of them in `visible`, by default all)."""
        ws = self._workspaces.get(workspace).name
        trial = self._jobs.find_model(ws, model_id)
        if trial is None:
            elsewhere = [
                w for w in self._jobs.model_workspaces(model_id) if visible is None or w in visible
            ]
            where = (
                f"it was trained in workspace{'s' if len(elsewhere) > 1 else ''} "
                f"{', '.join(repr(w) for w in elsewhere)}: train it "
                f"in '{ws}' or switch with `kaon workspace set -n {elsewhere[0]}`"
                if elsewhere
                else "see `kaon train list` and `kaon train info`"
            )
            raise ModelNotFound(f"there is no model '{model_id}' in workspace '{ws}': {where}")
        return trial

    def outputs(self, ref: str) -> dict[str, Any]:
        """Every trial's model id and output files (path -> content hash), for comparisons."""
        job = self.get(ref)
        out: dict[str, Any] = {"job": job.id, "state": job.state.value, "trials": []}
        for trial in self._jobs.list_trials(job.id):
            files: dict[str, str] = {}
            if trial.model_commit and trial.model_path:
                repo = repo_of(job.workspace, "models")
                commit = self._repos.resolve_required(repo, Ref(trial.model_commit))
                for rel, node in self._files.walk(commit, trial.model_path):
                    files[rel] = str(node.content_digest)
            out["trials"].append(
                {
                    "index": trial.index,
                    "state": trial.state.value,
                    "model_id": trial.model_id,
                    "params": trial.params,
                    "files": files,
                }
            )
        return out

    def log_path(self, job: Job, kind: str) -> Path:
        return self._root / job.id / f"{kind}.log"

    # commands ----------------------------------------------------------------------------
    def deploy(
        self,
        workspace: str,
        author: str,
        source: Bundle | None,
        data: Bundle | None,
        hyper: Hyper | None,
        resources: Resources,
        variables: dict[str, str] | None = None,
    ) -> tuple[Job, list[Trial]]:
        """Submit a job; source, data and --env variables not given are the workspace's
        latest (kaos' incremental development); a workspace that never had data gets the
        empty data bundle (the job reads over S3); hyperparameters apply only to the deploy
        that gives them, as in kaos. Returns at once: the job runs in the background."""
        ws = self._workspaces.get(workspace)
        current = ws.current
        if source is None and current.get("source"):
            source = Bundle.from_dict(current["source"])
        if data is None and current.get("data"):
            data = Bundle.from_dict(current["data"])
        if variables is None:
            variables = dict(current.get("variables") or {})
        if source is None:
            raise InvalidInput(
                f"workspace '{ws.name}' has no source (-s) bundle yet: give one to "
                "`kaon train deploy`"
            )
        if data is None:
            data = no_data(self._repos, self._commits, ws.name, author)
        self._workspaces.set_current(
            ws.name,
            source=source.to_dict(),
            data=data.to_dict(),
            hyper=hyper.to_dict() if hyper else None,
            variables=variables,
        )
        job = Job(
            new_job_id(),
            ws.name,
            JobState.PENDING,
            self._clock(),
            author,
            source,
            data,
            hyper,
            resources,
            variables=variables,
        )
        trials = [Trial(job.id, i, p) for i, p in enumerate(self._points(hyper))]
        self._jobs.add_job(job, trials)
        self._start(job)
        return job, trials

    def reproduce(self, ref: str, author: str) -> tuple[Job, list[Trial]]:
        """Run a finished job again from its recorded inputs: the same code and data commits,
        the same trials' parameters and the recorded environment lock (rebuilt if deleted)."""
        job = self.get(ref)
        if "lock" not in job.env:
            raise InvalidInput(
                f"job {job.id} never built its environment ({job.state.value}): nothing to reproduce"
            )
        missing = []
        for b in (job.source, job.data):
            try:
                self._repos.resolve_required(b.repo, Ref(b.commit))
            except KaonError:
                missing.append(f"{b.kind} {b.path} (commit {b.commit[:12]} in {b.repo})")
        if missing:
            raise NotFound(
                f"job {job.id} cannot be reproduced: no longer available: " + "; ".join(missing)
            )
        pinned = {k: job.env[k] for k in ("lock_id", "lock", "python")}
        again = Job(
            new_job_id(),
            job.workspace,
            JobState.PENDING,
            self._clock(),
            author,
            job.source,
            job.data,
            job.hyper,
            job.resources,
            env={"pinned": pinned, "reproduces": job.id},
            variables=job.variables,
        )
        trials = [Trial(again.id, t.index, t.params) for t in self._jobs.list_trials(job.id)]
        self._jobs.add_job(again, trials)
        self._start(again)
        return again, trials

    def kill(self, ref: str) -> Job:
        job = self.get(ref)
        if job.state.finished:
            raise JobNotRunning(f"job {job.id} is not running (state {job.state.value})")
        with self._lock:
            cancel = self._cancel.get(job.id)
        if cancel is not None:
            cancel.set()
            thread = self._threads.get(job.id)
            if thread is not None:
                thread.join(timeout=30)
        job = self.get(job.id)
        if not job.state.finished:  # no thread (it was never started here): mark it
            job = self._finish(job, JobState.KILLED, "killed by request")
        return job

    def recover(self) -> list[JobId]:
        """At start-up: fail honestly what a stop interrupted (its processes died with the
        platform), revoke the keys and API tokens of every job not running, restart what was
        queued."""
        failed: list[JobId] = []
        for job in self._jobs.list_jobs(states=[JobState.BUILDING, JobState.RUNNING]):
            what = "building" if job.state is JobState.BUILDING else "running"
            self._finish(job, JobState.FAILURE, interrupted(what))
            failed.append(job.id)
        if self._keys is not None:  # interrupted jobs never revoked their keys: now
            running = self._jobs.list_jobs(states=[JobState.BUILDING, JobState.RUNNING])
            for job_id in self._keys.revoke_stale({job.id for job in running}):
                log.warning("revoked the S3 keys of job %s, which is not running", job_id)
        if self._tokens is not None:
            running = self._jobs.list_jobs(states=[JobState.BUILDING, JobState.RUNNING])
            for job_id in self._tokens.revoke_stale({job.id for job in running}):
                log.warning("revoked the API token of job %s, which is not running", job_id)
        for job in reversed(self._jobs.list_jobs(states=[JobState.PENDING])):
            self._start(job)
        return failed

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every job's processes (the jobs are recovered as interrupted on restart)."""
        self._stopping.set()  # what it cancels ends JOB_FAILURE "interrupted", not KILLED
        with self._lock:
            events = list(self._cancel.values())
            threads = list(self._threads.values())
        for event in events:
            event.set()
        for thread in threads:
            thread.join(timeout=timeout)

    def wait(self, job_id: JobId, timeout: float | None = None) -> Job:
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    # the job thread ----------------------------------------------------------------------
    def _points(self, hyper: Hyper | None) -> list[dict[str, Any]]:
        if hyper is None:
            return [{}]
        if hyper.search == "grid":
            return grid(hyper.space)
        if hyper.search == "random":
            return random_points(hyper)
        return []  # optuna: asked for while the job runs

    def _start(self, job: Job) -> None:
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(job, cancel), name=f"job-{job.id[:8]}", daemon=True
        )
        with self._lock:
            self._cancel[job.id] = cancel
            self._threads[job.id] = thread
        thread.start()

    def _run(self, job: Job, cancel: threading.Event) -> None:
        work = self._root / job.id
        build_log = JobLog(work / "build.log")
        train_log = JobLog(work / "train.log")
        try:
            job = self._save(job.moved(JobState.BUILDING, started=self._clock()))
            env, folder, lock = self._build(job, work, build_log, cancel)
            recorded = {
                "lock_id": lock.id,
                "lock": lock.text,
                "python": lock.python,
                "platform": fingerprint(),
                "memory_limit": self._executor.describe_memory(
                    job.resources.memory or self._default_memory, job.resources.memory is None
                ),
            } | {k: v for k, v in job.env.items() if k == "reproduces"}
            job = self._save(job.moved(JobState.RUNNING, env=recorded))
            self._provenance.job_started(job, self._jobs.list_trials(job.id))
            # S3 gateway access for the job's code: a key pair of its own, revoked at the end
            # (`finally` below), so what it reads and writes through S3 is in its provenance;
            # it reaches the shared repos and its own workspace's, no other workspace's
            keys = self._keys
            s3 = keys.for_job(job.id, job.author, job.workspace) if keys else None
            # the API likewise: a token acting as the job's author in its workspace only
            api = self._api_access(job, train_log)
            data = work / "data"
            commit = self._repos.resolve_required(job.data.repo, Ref(job.data.commit))
            checkout(self._files, commit, "/", data)
            _read_only(data)
            train_log.write(f"job {job.id}: source {job.source.path}, data {job.data.path}")
            outcomes = self._run_trials(job, env, work, folder, data, train_log, cancel, s3, api)
            if cancel.is_set():
                self._finish(job, *self._cancelled("running"))
            elif not outcomes:
                self._finish(job, JobState.FAILURE, "no trial ran")
            elif any(o.error for o in outcomes):
                bad = [o.error for o in outcomes if o.error]
                reason = (
                    bad[0]
                    if len(outcomes) == 1
                    else f"{len(bad)} of {len(outcomes)} trials failed: {bad[0]}"
                )
                self._finish(job, JobState.FAILURE, reason)
            else:
                self._finish(job, JobState.SUCCESS, "")
        except BuildFailed as exc:
            build_log.write(f"build failed: {exc.message}")
            if cancel.is_set():
                self._finish(job, *self._cancelled("building"))
            else:
                self._finish(job, JobState.FAILURE, f"build failed: {exc.message}")
        except KaonError as exc:
            build_log.write(f"error: {exc.message}")
            self._finish(job, JobState.FAILURE, exc.message)
        except Exception as exc:
            for line in traceback.format_exc().splitlines():
                build_log.write(line)
            log.exception("job %s failed", job.id)
            self._finish(job, JobState.FAILURE, f"internal error: {exc} (see build logs)")
        finally:
            if self._keys is not None:
                self._keys.revoke_job(job.id)
            if self._tokens is not None:
                self._tokens.revoke_job(job.id)
            self._keep_logs(job, work)
            _remove(work / "source", work / "data", work / "trials")
            with self._lock:
                self._cancel.pop(job.id, None)

    def _api_access(self, job: Job, train_log: JobLog) -> ApiEnv | None:
        if self._tokens is None:
            return None
        api = self._tokens.for_job(job.id, job.author, job.workspace)
        if api is not None and api.token is None:
            train_log.write(
                f"no API token for this job: its author {job.author!r} is not a user of this "
                "platform (`kaon user list`); KAON_TOKEN is not set"
            )
        return api

    def _build(
        self, job: Job, work: Path, build_log: JobLog, cancel: threading.Event
    ) -> tuple[Environment, str, EnvLock]:
        source = work / "source"
        _remove(source)
        commit = self._repos.resolve_required(job.source.repo, Ref(job.source.commit))
        checkout(self._files, commit, "/", source)
        entry = self._workspaces.entrypoint(job.source)
        build_log.write(
            f"source bundle {job.source.path} (commit {job.source.commit[:12]}): "
            f"./{entry.folder + '/' if entry.folder else ''}train, {entry.requirements}"
        )
        pinned = job.env.get("pinned")
        if isinstance(pinned, dict):  # a reproduction: the recorded lock, not a new resolution
            lock = EnvLock(str(pinned["lock_id"]), str(pinned["lock"]), str(pinned["python"]))
            build_log.write(f"reproducing job {job.env.get('reproduces')}: recorded lock")
        else:
            requirements = (source / entry.requirements).read_text(errors="replace")
            lock = self._envs.lock(requirements, build_log.write, cancel)
        pins = [ln for ln in lock.text.splitlines() if "==" in ln and not ln.startswith("#")]
        build_log.write(f"environment {lock.id[:12]}: python {lock.python}, {len(pins)} packages")
        env = self._envs.ensure(lock, build_log.write, cancel)
        build_log.write(f"environment ready at {env.root}")
        return env, entry.folder, lock

    def _run_trials(
        self,
        job: Job,
        env: Environment,
        work: Path,
        folder: str,
        data: Path,
        train_log: JobLog,
        cancel: threading.Event,
        s3: S3Env | None = None,
        api: ApiEnv | None = None,
    ) -> list[TrialOutcome]:
        source = work / "source"
        parallel = max(1, job.resources.parallelism)
        hyperopt = job.hyper is not None

        def one(trial: Trial) -> TrialOutcome | None:
            with self._slots:
                if cancel.is_set():
                    state, reason = self._cancelled("running")
                    self._save_trial(trial.moved(state, reason=reason))
                    return None
                sink = train_log.child(f"[trial {trial.index}] ") if hyperopt else train_log
                trial = self._save_trial(trial.moved(JobState.RUNNING, started=self._clock()))
                outcome = run_trial(
                    self._executor,
                    job,
                    trial,
                    env,
                    source,
                    folder,
                    data,
                    work / "trials" / str(trial.index),
                    sink.write,
                    cancel,
                    runtime=self._runtime,
                    s3=s3,
                    api=api,
                    hidden=self._hidden,
                    default_memory=self._default_memory,
                )
            self._record(job, trial, outcome, sink)
            return outcome

        if job.hyper is not None and job.hyper.search == "optuna" and "reproduces" not in job.env:
            search = OptunaSearch(job.hyper)
            outcomes: list[TrialOutcome] = []
            index = 0
            while index < job.hyper.trials and not cancel.is_set():
                batch = []
                for _ in range(min(parallel, job.hyper.trials - index)):
                    params = search.ask()
                    batch.append(Trial(job.id, index, params))
                    index += 1
                self._jobs.add_trials(batch)
                self._provenance.job_started(job, batch)
                with ThreadPoolExecutor(len(batch)) as pool:
                    done = list(pool.map(one, batch))
                for trial, outcome in zip(batch, done, strict=True):
                    search.tell(
                        trial.params, outcome.metrics if outcome and not outcome.error else None
                    )
                    if outcome is not None:
                        outcomes.append(outcome)
            return outcomes
        trials = self._jobs.list_trials(job.id)
        with ThreadPoolExecutor(parallel) as pool:
            results = list(pool.map(one, trials))
        return [o for o in results if o is not None]

    def _record(self, job: Job, trial: Trial, outcome: TrialOutcome, sink: JobLog) -> None:
        now = self._clock()
        if outcome.error:
            state = JobState.FAILURE
            if outcome.result.cancelled:
                state = self._cancelled("running")[0]
            sink.write(f"trial failed: {outcome.error}")
            self._save_trial(
                trial.moved(
                    state, finished=now, exit_code=outcome.result.exit_code, reason=outcome.error
                )
            )
            return
        model_id = make_model_id(job.source, job.data, job.hyper, outcome.digest)
        combo, short = model_id.split(":")
        files = list(outcome.files)
        scratch = self._root / job.id / "trials" / str(trial.index)
        if trial.params:
            files.append((f"hyperparams/{trial_name(trial.params)}", scratch / "hyperparams.json"))
        commit = ingest(
            self._chunks,
            self._commits,
            repo_of(job.workspace, "models"),
            combo,
            files,
            prefix=f"/{short}",
            message=f"model {model_id}: job {job.id} trial {trial.index}",
            author=job.author,
        )
        sink.write(f"model {model_id} committed ({len(files)} files)")
        done = self._save_trial(
            trial.moved(
                JobState.SUCCESS,
                finished=now,
                exit_code=0,
                model_id=model_id,
                model_commit=str(commit.id),
                model_path=f"/{short}",
                metrics=outcome.metrics,
            )
        )
        self._provenance.model_produced(job, done)

    # state changes -----------------------------------------------------------------------
    def _cancelled(self, what: str) -> tuple[JobState, str]:
        """How a cancelled job ends: KILLED by `kaon train kill`, FAILURE "interrupted" when the
        platform stops (`kaon down`), as a crash is reported at the next start."""
        if self._stopping.is_set():
            return JobState.FAILURE, interrupted(what)
        return JobState.KILLED, "killed by request"

    def _save(self, job: Job) -> Job:
        self._jobs.save_job(job)
        return job

    def _save_trial(self, trial: Trial) -> Trial:
        self._jobs.save_trial(trial)
        return trial

    def _finish(self, job: Job, state: JobState, reason: str) -> Job:
        current = self._jobs.get_job(job.id) or job
        now = self._clock()
        for trial in self._jobs.list_trials(job.id):
            if not trial.state.finished:
                mark = JobState.KILLED if state is JobState.KILLED else JobState.FAILURE
                self._save_trial(trial.moved(mark, finished=now, reason=reason or "not run"))
        done = current.moved(state, finished=now, reason=reason, started=current.started or now)
        return self._save(done)

    def _keep_logs(self, job: Job, work: Path) -> None:
        """Commit the job's logs to the workspace's logs repo (the local copies stay too)."""
        files = [(p.name, p) for p in sorted(work.glob("*.log")) if p.stat().st_size > 0]
        if not files:
            return
        try:
            ingest(
                self._chunks,
                self._commits,
                repo_of(job.workspace, "logs"),
                "master",
                files,
                prefix=f"/{job.id}",
                message=f"logs of job {job.id}",
                author=job.author,
            )
        except KaonError as exc:  # the workspace was killed meanwhile: local logs remain
            log.warning("logs of job %s not committed: %s", job.id, exc.message)


def interrupted(what: str) -> str:
    """The reason of a job a platform stop interrupted while it was `what` (building, running)."""
    return (
        f"interrupted: the platform stopped while the job was {what}; "
        "submit it again with `kaon train deploy`"
    )


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = 0o500 if path.is_dir() else 0o400  # the job's user only (it is the platform's)
        path.chmod(mode)


def _remove(*folders: Path) -> None:
    for folder in folders:
        if not folder.exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o700)
        shutil.rmtree(folder, ignore_errors=True)
