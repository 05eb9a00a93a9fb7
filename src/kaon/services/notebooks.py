"""Notebooks (issue 19): a JupyterLab per notebook, in the environment of its bundle's
requirements plus JupyterLab (the uv cache of training and serving: the same requirements
start in seconds the second time), behind the gateway at `/<name>/lab` with a token of its own.

deploy → BUILDING (a thread: lock + build the environment, check the bundle out into the
notebook's working folder, the data bundle read-only beside it, start JupyterLab) → RUNNING
once it answers, FAILED when the build fails (the reason and `build-logs`). The runner
restarts a JupyterLab that exits; `recover` brings every RUNNING notebook back at start-up,
in its working folder as it was (unsaved work included) and its stored environment.

Inside, KAON_ENDPOINT/KAON_TOKEN (a token acting as the owner in this workspace only, like a
job's) make `Client.from_env()` work, and an S3 key pair of its own (AWS_*) where the S3
gateway listens; both are revoked when the notebook stops.

Files under `<root>/<name>/`: work/ (JupyterLab's root: what `save` commits), data/<repo>/,
run/ (HOME, TMPDIR, its socket), lab.log, token (0600: read back on recovery), saved (the
fingerprint of the last save); `<root>/builds/<build>.log`. With several servers, the one
that starts a notebook runs it; the others send what needs it there
(kaon.services.notebookplaces).
"""

from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, BackendUnavailable, Conflict, KaonError, NotFound
from kaon.core.jobs import Bundle, WorkspaceName
from kaon.core.notebooks import (
    MAX_READS,
    Gate,
    Notebook,
    NotebookState,
    cookie_key,
    default_name,
    new_build_id,
    new_token,
    notebook_name,
    recovery_branch,
    token_digest,
)
from kaon.core.provenance import Graph
from kaon.ports.notebooks import NotebookRunner, NotebookStatus, NotebookStore
from kaon.services.commits import CommitService
from kaon.services.ingest import FileIngest
from kaon.services.joblog import JobLog, read_from
from kaon.services.notebookplaces import Elsewhere, NotebookPlaces
from kaon.services.notebooksave import commit_folder, fingerprint
from kaon.services.notebooksite import ACCESS_PREFIX, NotebookSite
from kaon.services.provenance import ProvenanceService
from kaon.services.workspaces import WorkspaceService

log = logging.getLogger("kaon.notebooks")

READY_WAIT = 300.0  # seconds a start waits for JupyterLab to answer before saying so


@dataclass(frozen=True)
class Deployed:
    notebook: Notebook
    token: str  # shown once, to its owner


@dataclass(frozen=True)
class Saved:
    notebook: Notebook
    repo: str
    branch: str
    commit: str
    path: str  # the bundle's kaos name, `/<branch>:<hash>`


class NotebookService:
    def __init__(
        self,
        store: NotebookStore,
        workspaces: WorkspaceService,
        commits: CommitService,
        ingest: FileIngest,
        site: NotebookSite,
        runner: NotebookRunner,
        clock: Callable[[], float],
        is_endpoint: Callable[[str], bool],
        provenance: ProvenanceService,
        secret: bytes,
        places: NotebookPlaces,
    ) -> None:
        self._store = store
        self._places = places
        self._cookie_key = cookie_key(secret)
        self._provenance = provenance
        self._workspaces = workspaces
        self._commits = commits
        self._ingest = ingest
        self._site = site
        self._runner = runner
        self._clock = clock
        self._is_endpoint = is_endpoint
        self._gates: dict[str, Gate] = {}  # live notebooks of this server, by name
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # queries -----------------------------------------------------------------------------
    def get(self, name: str, workspace: str | None = None) -> Notebook:
        found = self._store.get_notebook(name)
        if found is None or (workspace is not None and found.workspace != workspace):
            where = f" in workspace '{workspace}'" if workspace else ""
            raise NotFound(f"there is no notebook '{name}'{where}: see `kaon notebook list`")
        return found

    def notebooks(self, workspace: str) -> list[Notebook]:
        ws = self._workspaces.get(workspace)
        return self._store.list_notebooks(ws.name)

    def unsaved(self, notebook: Notebook) -> bool:
        """Whether its working folder differs from what it last saved (or started from)."""
        home = self._home(notebook.name)
        if not notebook.live or not (home / "work").is_dir():
            return False
        saved = home / "saved"
        before = saved.read_text() if saved.exists() else ""
        return fingerprint(home / "work") != before

    def gate(self, name: str) -> Gate | None:
        """The gateway's fast path (no database access): None when `name` is no live
        notebook of this server."""
        with self._lock:
            gate = self._gates.get(name)
        if gate is None:
            return None
        status = self._runner.status(name)
        socket = status.socket if status is not None and status.ready else None
        return replace(gate, socket=socket)

    def elsewhere(self, notebook: Notebook) -> Elsewhere | None:
        """Where `notebook` runs when another server runs it (None: here, or not live)."""
        return self._places.elsewhere(notebook)

    def kept_by(self, notebook: Notebook) -> str | None:
        """The URL of the other live server holding `notebook`'s logs (None: this one)."""
        return self._places.kept_by(notebook)

    def away(self, name: str) -> Elsewhere | None:
        """The gateway's slow path: where live notebook `name` runs when not here."""
        found = self._store.get_notebook(name)
        return None if found is None else self._places.elsewhere(found)

    def status(self, name: str) -> NotebookStatus | None:
        return self._runner.status(name)

    def limits(self, notebook: Notebook) -> str:
        """How its --cpu/--memory are enforced on this server ("" when it gave neither)."""
        return self._runner.describe_limits(notebook.cpu, notebook.memory)

    def log_path(self, notebook: Notebook) -> Path:
        return self._home(notebook.name) / "lab.log"

    def build_log(self, workspace: str, build: str) -> tuple[Notebook, Path]:
        ws = self._workspaces.get(workspace)
        for notebook in self._store.list_notebooks(ws.name):
            if notebook.build == build:
                return notebook, self._site.root / "builds" / f"{build}.log"
        raise NotFound(
            f"no notebook build {build!r} in workspace '{ws.name}': `kaon notebook list` shows "
            "the builds (job_id)"
        )

    def logs(self, notebook: Notebook, offset: int) -> tuple[bytes, int]:
        return read_from(self.log_path(notebook), offset)

    # commands ----------------------------------------------------------------------------
    def deploy(
        self,
        workspace: str,
        author: str,
        source: Bundle,
        data: Bundle | None,
        name: str | None = None,
        cpu: float | None = None,
        memory: int | None = None,
    ) -> Deployed:
        ws = self._workspaces.get(workspace)
        name = notebook_name(name) if name else default_name(ws.name, author)
        if self._is_endpoint(name):
            raise AlreadyExists(
                f"'{name}' is an endpoint's name (the gateway routes /{name}/): give the "
                "notebook another with --name"
            )
        if data is None and ws.current.get("data"):
            data = Bundle.from_dict(ws.current["data"])
        old = self._store.get_notebook(name)
        if old is not None:
            if old.live:
                raise AlreadyExists(
                    f"notebook {name} is {old.state.value}: open it, or kill it first "
                    f"(`kaon notebook kill -n {name}`), or give another --name"
                )
            self._store.delete_notebook(name)  # a killed or failed one: its name is free
        self._site.remove(name)  # a killed one's: its last state is in a branch
        token = new_token()
        notebook = Notebook(
            name=name,
            workspace=ws.name,
            state=NotebookState.BUILDING,
            created=self._clock(),
            author=author,
            source=replace(source, kind="source"),
            data=data,
            build=new_build_id(),
            token_digest=token_digest(token),
            cpu=cpu,
            memory=memory,
            saved=source.commit,
            server=self._places.me,
            server_url=self._places.url,
        )
        if not self._places.claim(name):
            raise Conflict(f"notebook {name} is being stopped by another server: try again")
        self._store.add_notebook(notebook)
        self._provenance.notebook_started(notebook)  # its environment once it is locked
        home = self._home(name)
        home.mkdir(parents=True, exist_ok=True)
        secret = home / "token"
        secret.write_text(token)
        secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
        self._launch(notebook, token)
        return Deployed(notebook, token)

    def save(self, name: str, author: str, message: str = "", outputs: bool = False) -> Saved:
        """Commit the working folder to the branch `<name>` of the workspace's source repo
        (a bundle of its own: `kaon train deploy` can run it; another notebook's saves of the
        same bundle do not mix with it)."""
        notebook = self.get(name)
        _here(self.elsewhere(notebook), gone_too=True)
        work = self._home(name) / "work"
        if not notebook.live or not work.is_dir():
            raise Conflict(f"notebook {name} is {notebook.state.value}: nothing to save")
        branch = name
        commit = commit_folder(
            self._commits,
            self._ingest,
            work,
            notebook.source.repo,
            branch,
            _message(message or f"notebook {name} saved", notebook),
            author,
            outputs,
        )
        (self._home(name) / "saved").write_text(fingerprint(work))
        self._provenance.notebook_saved(notebook, commit)
        with self._lock:  # the row read afresh: `recorded` may have added reads meanwhile
            notebook = replace(self.get(name), saved=str(commit.id))
            self._store.save_notebook(notebook)
        short = str(commit.tree or "")[:5]
        return Saved(notebook, notebook.source.repo, branch, str(commit.id), f"/{branch}:{short}")

    def kill(self, name: str, workspace: str | None = None) -> tuple[Notebook, Saved | None]:
        """Stop a notebook; its working folder is first committed, outputs kept, to the
        branch `recovery_branch(name)` of the source repo (returned), whatever was saved."""
        notebook = self.get(name, workspace)
        away = self.elsewhere(notebook)
        _here(away, gone_too=False)  # a gone server's: ended here, its folder not kept
        kept: Saved | None = None
        work = self._home(name) / "work"
        if notebook.live and work.is_dir():
            branch = recovery_branch(name)
            commit = commit_folder(
                self._commits,
                self._ingest,
                work,
                notebook.source.repo,
                branch,
                f"notebook {name}: its last state when it was killed",
                notebook.author,
                outputs=True,
            )
            self._provenance.notebook_saved(notebook, commit)
            short = str(commit.tree or "")[:5]
            kept = Saved(
                notebook, notebook.source.repo, branch, str(commit.id), f"/{branch}:{short}"
            )
        self._halt(name)
        notebook = self.get(name)
        if notebook.state is not NotebookState.KILLED:
            reason = f"last state kept in branch {kept.branch} of {kept.repo}" if kept else ""
            if away is not None:
                reason = f"killed while its server {away.url} was gone: its last state not kept"
            notebook = notebook.moved(NotebookState.KILLED, reason)
            self._store.save_notebook(notebook)
        return notebook, kept

    def recorded(self, key: str, commit: Commit, path: str, wrote: bool) -> None:
        """The S3 gateway's observer: the notebook whose key (`notebook-<name>`) read a
        commit records it in its provenance (data → used → notebook, as a job's read) and
        keeps it in `reads` (shown by `get`/`list --json`, named by its next save)."""
        name = key.removeprefix(ACCESS_PREFIX)
        if wrote or name == key:
            return
        with self._lock:
            found = self._store.get_notebook(name)
            if found is None or not found.live:
                return
            self._provenance.notebook_read(found, commit, path)
            read = f"{commit.repo}@{commit.id}:{path}"
            if len(found.reads) < MAX_READS and read not in found.reads:
                self._store.save_notebook(replace(found, reads=(*found.reads, read)))

    def provenance(self, name: str, workspace: str) -> Graph:
        """What notebook `name` used and read, and the code commits it saved."""
        return self._provenance.of_notebook(self.get(name, workspace))

    def stop_workspace(self, workspace: str) -> None:
        """Stop every live notebook of `workspace` (being deleted), nothing committed."""
        for notebook in self._store.list_notebooks(WorkspaceName(workspace)):
            if notebook.live:
                self._halt(notebook.name)
                self._store.save_notebook(notebook.moved(NotebookState.KILLED, "workspace killed"))
            self._site.remove(notebook.name)

    def recover(self) -> list[str]:
        """At start-up: start every notebook that was running (or building) again."""
        back = []
        for notebook in self._store.list_notebooks():
            if not notebook.live or not self._places.mine(notebook):
                continue  # another server's: its folder is on that server's disk
            if not self._places.claim(notebook.name):
                continue
            secret = self._home(notebook.name) / "token"
            if not secret.exists():
                self._store.save_notebook(
                    notebook.moved(NotebookState.FAILED, "its token is gone: deploy it again")
                )
                self._places.release(notebook.name)
                continue
            self._launch(notebook, secret.read_text().strip())
            back.append(notebook.name)
        return back

    def follow(self) -> None:
        """Each cluster beat: stop what this server runs that was killed through another
        (its workspace deleted there) or that another server started since."""
        with self._lock:
            names = list(self._gates)
        for name in names:
            found = self._store.get_notebook(name)
            if found is None or not found.live or not self._places.mine(found):
                log.info("notebook %s was stopped through another server: stopping it", name)
                self._halt(name)

    def shutdown(self) -> None:
        with self._lock:
            events = list(self._cancel.values())
            names = list(self._gates)
        for event in events:
            event.set()
        self._runner.stop_all()
        for name in names:
            self._site.revoke(name)

    # the start-up thread -----------------------------------------------------------------
    def _launch(self, notebook: Notebook, token: str) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancel[notebook.name] = cancel
            self._gates[notebook.name] = Gate(
                None, notebook.token_digest, NotebookState.BUILDING, self._cookie_key
            )
        threading.Thread(
            target=self._start,
            args=(notebook, token, cancel),
            name=f"notebook-start-{notebook.name}",
            daemon=True,
        ).start()

    def _start(self, notebook: Notebook, token: str, cancel: threading.Event) -> None:
        build = JobLog(self._site.root / "builds" / f"{notebook.build}.log")
        try:
            env, locked = self._site.environment(notebook, build.write, cancel)
            if locked is not None:
                notebook = replace(notebook, env=locked)
                self._store.save_notebook(replace(self.get(notebook.name), env=locked))
            self._provenance.notebook_started(notebook)
            spec = self._site.spec(notebook, env, token)
            if notebook.cpu is not None or notebook.memory is not None:
                build.write(f"limits: {self.limits(notebook)}")
            if cancel.is_set():
                return
            self._runner.start(spec, JobLog(self._home(notebook.name) / "lab.log").write)
            if cancel.is_set():  # killed while it started: kill's stop may have come first
                self._runner.stop(notebook.name)
                return
            build.write(f"JupyterLab starting at /{notebook.name}/lab")
            if notebook.state is not NotebookState.RUNNING:
                self._move(notebook.name, NotebookState.BUILDING, NotebookState.RUNNING, "")
            self._wait_ready(notebook.name, build, cancel)
        except KaonError as exc:
            build.write(f"build failed: {exc}")
            self._move(notebook.name, None, NotebookState.FAILED, f"build: {exc}".split("\n")[0])
            self._halt(notebook.name)
        except Exception as exc:  # never leave it BUILDING for ever
            log.exception("notebook %s did not start", notebook.name)
            build.write(f"could not start: {exc}")
            self._move(notebook.name, None, NotebookState.FAILED, f"start: {exc}")
            self._halt(notebook.name)

    def _wait_ready(self, name: str, build: JobLog, cancel: threading.Event) -> None:
        deadline = time.monotonic() + READY_WAIT
        while not cancel.is_set() and time.monotonic() < deadline:
            status = self._runner.status(name)
            if status is not None and status.ready:
                build.write(f"JupyterLab answers at /{name}/lab")
                with self._lock:
                    gate = self._gates.get(name)
                    if gate is not None:
                        self._gates[name] = replace(gate, state=NotebookState.RUNNING)
                return
            cancel.wait(0.2)
        if not cancel.is_set():
            build.write(f"JupyterLab did not answer within {READY_WAIT:g} s: see its logs")

    def _move(self, name: str, src: NotebookState | None, to: NotebookState, reason: str) -> None:
        with self._lock:
            found = self._store.get_notebook(name)
            if found is None or not found.live or (src is not None and found.state is not src):
                return
            self._store.save_notebook(found.moved(to, reason))

    def _halt(self, name: str) -> None:
        with self._lock:
            cancel = self._cancel.pop(name, None)
            self._gates.pop(name, None)
        if cancel is not None:
            cancel.set()
        self._runner.stop(name)
        self._site.revoke(name)
        self._places.release(name)

    def _home(self, name: str) -> Path:
        return self._site.home(name)


def _here(away: Elsewhere | None, gone_too: bool) -> None:
    """Refuse what needs a notebook another server runs (the API sends it there first)."""
    if away is not None and (gone_too or not away.gone):
        raise BackendUnavailable(away.gone or f"notebook {away.name} runs on server {away.url}")


def _message(text: str, notebook: Notebook) -> str:
    """A save's commit message, naming the data the notebook read through S3."""
    if not notebook.reads:
        return text
    return text + "\n\nread through S3:\n" + "\n".join(notebook.reads)
