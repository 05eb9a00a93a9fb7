"""JobOutputs: where a job's outputs go — each trial's model folder becomes a commit of the
workspace's models repo (through the executor port's OutputSink), its logs a commit of the
logs repo — and how they are read back."""

from __future__ import annotations

import logging
from pathlib import Path

from kaon.core.address import Ref
from kaon.core.errors import KaonError
from kaon.core.jobs import Job, ModelId, Trial, canonical_json, make_model_id, trial_name
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import RunResult
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.joblog import MAX_READ, read_from, read_tail, tail_of
from kaon.services.localfs import commit_folder
from kaon.services.repos import RepoService
from kaon.services.trials import TrialOutcome, collect
from kaon.services.workspaces import repo_of

log = logging.getLogger("kaon.training")


class TrialModel:
    """The OutputSink of one trial: checks what it wrote (kaon.services.trials.collect) and
    commits a valid model with its hyperparameters to the models repo."""

    def __init__(self, outputs: JobOutputs, job: Job, trial: Trial, log: LogSink) -> None:
        self._outputs = outputs
        self._job = job
        self._trial = trial
        self._log = log
        self.outcome: TrialOutcome | None = None  # set by deliver
        self.model: dict[str, object] = {}  # model_id, model_commit, model_path, metrics

    def deliver(self, folder: Path, result: RunResult) -> None:
        job, trial = self._job, self._trial
        self.outcome = outcome = collect(folder, result, job.resources.timeout)
        if outcome.error:
            return
        model_id = make_model_id(job.source, job.data, job.hyper, outcome.digest)
        combo, short = model_id.split(":")
        files = list(outcome.files)
        params = self._outputs.work(job) / f".hyperparams-{trial.index}.json"
        if trial.params:
            params.parent.mkdir(parents=True, exist_ok=True)
            params.write_text(canonical_json(trial.params))
            files.append((f"hyperparams/{trial_name(trial.params)}", params))
        try:
            commit = self._outputs.commit(
                job,
                "models",
                combo,
                files,
                f"/{short}",
                f"model {model_id}: job {job.id} trial {trial.index}",
            )
        finally:
            params.unlink(missing_ok=True)
        self._log(f"model {model_id} committed ({len(files)} files)")
        self.model = {
            "model_id": ModelId(model_id),
            "model_commit": str(commit),
            "model_path": f"/{short}",
            "metrics": outcome.metrics,
        }


class JobOutputs:
    def __init__(
        self,
        chunks: ChunkStore,
        commits: CommitService,
        repos: RepoService,
        files: FileService,
        root: Path,
    ) -> None:
        self._chunks = chunks
        self._commits = commits
        self._repos = repos
        self._files = files
        self._root = root  # one folder per job: its logs, while and after it runs

    def work(self, job: Job) -> Path:
        return self._root / job.id

    def log_path(self, job: Job, kind: str) -> Path:
        return self._root / job.id / f"{kind}.log"

    def sink(self, job: Job, trial: Trial, log: LogSink) -> TrialModel:
        return TrialModel(self, job, trial, log)

    def commit(
        self,
        job: Job,
        kind: str,
        branch: str,
        files: list[tuple[str, Path]],
        prefix: str,
        what: str,
    ) -> str:
        done = commit_folder(
            self._chunks,
            self._commits,
            repo_of(job.workspace, kind),
            branch,
            files,
            prefix=prefix,
            message=what,
            author=job.author,
        )
        return str(done.id)

    def keep_logs(self, job: Job) -> None:
        """Commit the job's logs to the workspace's logs repo (the local copies stay too)."""
        work = self.work(job)
        files = [(p.name, p) for p in sorted(work.glob("*.log")) if p.stat().st_size > 0]
        if not files:
            return
        try:
            self.commit(job, "logs", "master", files, f"/{job.id}", f"logs of job {job.id}")
        except KaonError as exc:  # the workspace was killed meanwhile: local logs remain
            log.warning("logs of job %s not committed: %s", job.id, exc.message)

    def read_log(self, job: Job, kind: str, offset: int) -> tuple[bytes, int]:
        """Up to MAX_READ bytes of the job's `kind` log from `offset` (and the next offset):
        the local file this server writes while it runs the job, else the copy committed to
        the logs repo when it ended (another server ran it)."""
        path = self.log_path(job, kind)
        if path.exists() or not job.state.finished:
            return read_from(path, offset)
        text = self.committed_log(job, kind)[offset : offset + MAX_READ]
        return text, offset + len(text)

    def read_log_tail(self, job: Job, kind: str, lines: int) -> tuple[bytes, int, int]:
        """The last `lines` lines of the job's `kind` log: (text, its start, end offset); the
        local file is read backwards from its end (the committed copy is read whole)."""
        path = self.log_path(job, kind)
        if path.exists() or not job.state.finished:
            return read_tail(path, lines)
        return tail_of(self.committed_log(job, kind), lines)

    def committed_log(self, job: Job, kind: str) -> bytes:
        """The job's log as committed to the logs repo when it ended (b"" if it never was:
        another server ran the job and died before)."""
        try:
            _, node = self._files.file(
                repo_of(job.workspace, "logs"), Ref("master"), f"/{job.id}/{kind}.log"
            )
        except KaonError:
            return b""
        return b"".join(self._files.content(node))

    def model_files(self, job: Job, trial: Trial) -> dict[str, str]:
        """The files of the model `trial` made (path -> content hash), none if it made none."""
        files: dict[str, str] = {}
        if trial.model_commit and trial.model_path:
            repo = repo_of(job.workspace, "models")
            commit = self._repos.resolve_required(repo, Ref(trial.model_commit))
            for rel, node in self._files.walk(commit, trial.model_path):
                files[rel] = str(node.content_digest)
        return files
