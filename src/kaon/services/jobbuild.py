"""JobBuilder: a job's BUILDING step — find `train` and its requirements in the source bundle,
lock them (or take the recorded lock of a reproduction), and have the executor make the
environment ready where the trials will run. Reads the bundle from the store: nothing is
checked out here."""

from __future__ import annotations

import threading

from kaon.core import bundlelayout
from kaon.core.address import Ref
from kaon.core.errors import KaonError, NotFound
from kaon.core.jobs import Bundle, Job
from kaon.ports.envbuilder import EnvBuilder, EnvLock, LogSink
from kaon.ports.executor import Executor
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.repos import RepoService
from kaon.services.trials import Build
from kaon.services.workspaces import WorkspaceService, no_data


class JobBuilder:
    def __init__(
        self,
        workspaces: WorkspaceService,
        repos: RepoService,
        files: FileService,
        commits: CommitService,
        envs: EnvBuilder,
        executor: Executor,
    ) -> None:
        self._workspaces = workspaces
        self._repos = repos
        self._files = files
        self._commits = commits
        self._envs = envs
        self._executor = executor

    def build(self, job: Job, log: LogSink, cancel: threading.Event) -> Build:
        entry = self._workspaces.entrypoint(job.source)
        name = bundlelayout.NOTEBOOK if entry.notebook else bundlelayout.TRAIN
        log(
            f"source bundle {job.source.path} (commit {job.source.commit[:12]}): "
            f"./{entry.folder + '/' if entry.folder else ''}{name}, {entry.requirements}"
        )
        pinned = job.env.get("pinned")
        if isinstance(pinned, dict):  # a reproduction: the recorded lock, not a new resolution
            lock = EnvLock(str(pinned["lock_id"]), str(pinned["lock"]), str(pinned["python"]))
            log(f"reproducing job {job.env.get('reproduces')}: recorded lock")
        else:
            requirements = (self._read(job.source, entry.requirements) or b"").decode(
                errors="replace"
            )
            if entry.notebook:  # run by papermill: its tools join the environment
                requirements = bundlelayout.with_notebook_tools(requirements)
                log(
                    f"notebook entry point: run by papermill ({', '.join(bundlelayout.NOTEBOOK_TOOLS)} added when not required)"
                )
            lock = self._envs.lock(requirements, log, cancel)
        pins = [ln for ln in lock.text.splitlines() if "==" in ln and not ln.startswith("#")]
        log(f"environment {lock.id[:12]}: python {lock.python}, {len(pins)} packages")
        self._executor.prepare(lock, log, cancel)
        params = f"{entry.folder}/params.json" if entry.folder else "params.json"
        return Build(lock, entry.folder, self._read(job.source, params), entry.notebook)

    def no_data(self, workspace: str, author: str) -> Bundle:
        """The empty data bundle of a job given none (kaon.services.workspaces.no_data)."""
        return no_data(self._repos, self._commits, workspace, author)

    def missing(self, job: Job) -> list[str]:
        """The inputs of `job` no longer in the store (a reproduction needs them all)."""
        gone = []
        for b in (job.source, job.data):
            try:
                self._repos.resolve_required(b.repo, Ref(b.commit))
            except KaonError:
                gone.append(f"{b.kind} {b.path} (commit {b.commit[:12]} in {b.repo})")
        return gone

    def _read(self, bundle: Bundle, path: str) -> bytes | None:
        """The file at `path` of the bundle's commit, None when there is none."""
        try:
            _, node = self._files.file(bundle.repo, Ref(bundle.commit), "/" + path)
        except NotFound:
            return None
        return b"".join(self._files.content(node))
