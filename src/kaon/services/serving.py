"""Endpoints: a serve bundle plus a trained model, built like training and run as supervised
replicas behind the platform's gateway.

deploy → PIPELINE_STARTING (working copy of the bundle with the model files beside the serve
module, environment from the bundle's requirements, the served files committed to the
workspace's `endpoints` repo) → replicas started. The state then follows their health:
RUNNING while one answers, RESTARTING while they are being restarted, FAILURE when they keep
failing (or the build failed), KILLED when stopped. Endpoints come back on platform restart.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kaon.core.address import Ref
from kaon.core.endpoints import Batching, Endpoint, EndpointState, new_endpoint_name
from kaon.core.errors import (
    AlreadyExists,
    InvalidBundle,
    KaonError,
    NotFound,
)
from kaon.core.jobs import Bundle, ModelId
from kaon.core.tree import DirNode, FileNode, Tree
from kaon.ports.envbuilder import EnvBuilder
from kaon.ports.jobs import JobRecords as JobStore  # TEMPORARY (issue 14)
from kaon.ports.replicas import Replicas, ReplicaSpec, ReplicaStatus
from kaon.services.chunks import ChunkStore
from kaon.services.commits import CommitService
from kaon.services.files import FileService
from kaon.services.joblog import JobLog
from kaon.services.localfs import checkout, ingest, list_folder
from kaon.services.provenance import ProvenanceService
from kaon.services.repos import RepoService
from kaon.services.training import TrainingService
from kaon.services.trials import fingerprint
from kaon.services.workspaces import WorkspaceService, repo_of

log = logging.getLogger("kaon.serving")
GIVE_UP_AFTER = 3  # restarts without any ready replica before the state says FAILURE
MODULE = "model.py"


@dataclass(frozen=True)
class Route:
    """What the gateway needs to forward a request to an endpoint."""

    name: str
    workspace: str
    model_id: str | None
    addresses: tuple[str, ...]
    batch: Batching | None
    timeout: float
    auth: bool = False  # predictions need a token that may read `workspace` (--auth)


@dataclass(frozen=True)
class ServeEntry:
    folder: str
    module: str
    batchable: bool


def inspect_module(source: str, where: str) -> bool:
    """Check the serve module defines load_ctx and predict; True if it opts in to batches."""
    try:
        tree = ast.parse(source, where)
    except SyntaxError as exc:
        raise InvalidBundle(
            f"{where}, line {exc.lineno}: {exc.msg} (fix the serve module)"
        ) from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    missing = [f for f in ("load_ctx", "predict") if f not in names]
    if missing:
        raise InvalidBundle(
            f"{where} does not define {' and '.join(missing)}: a serve module needs "
            "load_ctx(model_dir) and predict(payload, ctx)"
        )
    batch = "predict_batch" in names
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BATCH" for t in node.targets
        ):
            batch = batch or (isinstance(node.value, ast.Constant) and node.value.value is True)
    return batch


class ServingService:
    def __init__(
        self,
        jobs: JobStore,
        workspaces: WorkspaceService,
        training: TrainingService,
        repos: RepoService,
        commits: CommitService,
        files: FileService,
        chunks: ChunkStore,
        envs: EnvBuilder,
        replicas: Replicas,
        root: Path,
        clock: Callable[[], float],
        provenance: ProvenanceService,
        hidden: tuple[Path, ...] = (),
    ) -> None:
        self._hidden = hidden  # what user code must not see (the platform's own files)
        self._provenance = provenance
        self._jobs = jobs
        self._workspaces = workspaces
        self._training = training
        self._repos = repos
        self._commits = commits
        self._files = files
        self._chunks = chunks
        self._envs = envs
        self._replicas = replicas
        self._root = root
        self._clock = clock
        self._routes: dict[str, Route] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # queries -----------------------------------------------------------------------------
    def get(self, name: str) -> Endpoint:
        found = self._jobs.get_endpoint(name)
        if found is None:
            raise NotFound(f"there is no endpoint '{name}': see `kaon serve list`")
        return self.refresh(found)

    def lookup(self, name: str) -> Endpoint | None:
        """The endpoint's row as stored, or None (the gateway asks when it has no route)."""
        return self._jobs.get_endpoint(name)

    def endpoints(self, workspace: str) -> list[Endpoint]:
        ws = self._workspaces.get(workspace)
        return [self.refresh(e) for e in self._jobs.list_endpoints(ws.name)]

    def log_path(self, endpoint: Endpoint, kind: str) -> Path:
        return self._root / endpoint.name / f"{kind}.log"

    def status(self, name: str) -> ReplicaStatus | None:
        return self._replicas.status(name)

    def recycle(self, name: str, address: str) -> bool:
        """A request to the replica at `address` timed out: restart that replica."""
        return self._replicas.recycle(name, address)

    def route(self, name: str) -> Route | None:
        """The gateway's fast path: no database access."""
        route = self._routes.get(name)
        if route is None:
            return None
        status = self._replicas.status(name)
        addresses = status.addresses if status else ()
        if addresses != route.addresses:
            route = replace(route, addresses=addresses)
            self._routes[name] = route
        return route

    def refresh(self, endpoint: Endpoint) -> Endpoint:
        """The state as the replicas show it now (persisted when it changed)."""
        if endpoint.state in (EndpointState.KILLED,) or endpoint.name not in self._routes:
            return endpoint
        status = self._replicas.status(endpoint.name)
        state, reason = _state_of(status, endpoint)
        if state is not endpoint.state or reason != endpoint.reason:
            endpoint = endpoint.moved(state, reason=reason)
            self._jobs.save_endpoint(endpoint)
        return endpoint

    # commands ----------------------------------------------------------------------------
    def deploy(
        self,
        workspace: str,
        author: str,
        source: Bundle,
        model_id: ModelId | None,
        replicas: int = 1,
        batch: Batching | None = None,
        timeout: float = 30.0,
        variables: dict[str, str] | None = None,
        auth: bool = False,
    ) -> Endpoint:
        ws = self._workspaces.get(workspace)
        if model_id is not None:
            self._training.model(ws.name, model_id)  # not in this workspace: fails up front
        entry = self.entry(source)
        endpoint = Endpoint(
            name=new_endpoint_name(ws.name),
            workspace=ws.name,
            state=EndpointState.STARTING,
            created=self._clock(),
            author=author,
            source=source,
            model_id=model_id,
            replicas=replicas,
            batch=batch,
            timeout=timeout,
            module=entry.module,
            folder=entry.folder,
            variables=dict(variables or {}),
            auth=auth,
        )
        self._jobs.add_endpoint(endpoint)
        self._launch(endpoint, entry.batchable)
        return endpoint

    def kill(self, name: str) -> Endpoint:
        endpoint = self.get(name)
        with self._lock:
            cancel = self._cancel.pop(name, None)
        if cancel is not None:
            cancel.set()
        self._routes.pop(name, None)
        self._replicas.stop(name)
        endpoint = endpoint.moved(EndpointState.KILLED, reason="killed by request")
        self._jobs.save_endpoint(endpoint)
        return endpoint

    def recover(self) -> list[str]:
        """At start-up: bring back every endpoint that was not killed or failed to build."""
        back: list[str] = []
        for endpoint in self._jobs.list_endpoints():
            if endpoint.state is EndpointState.KILLED or endpoint.build_failed:
                continue
            self._launch(endpoint.moved(EndpointState.STARTING, reason=""), None)
            back.append(endpoint.name)
        return back

    def feedback(self, route: Route, record: dict[str, Any]) -> str:
        """Store feedback on one prediction as a commit of the workspace's feedback repo
        (branch = endpoint), linked to the request and the model id that answered it."""
        repo = repo_of(route.workspace, "feedback")
        with contextlib.suppress(AlreadyExists):
            self._repos.create_repo(repo, f"workspace {route.workspace}: feedback")
        home = self._root / route.name / "feedback"
        home.mkdir(parents=True, exist_ok=True)
        path = home / f"{record['request_id']}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        try:
            commit = ingest(
                self._chunks,
                self._commits,
                repo,
                route.name,
                [(path.name, path)],
                message=f"feedback on {record['request_id']} ({route.model_id})",
            )
        finally:
            path.unlink(missing_ok=True)
        self._provenance.feedback_received(route.name, route.workspace, record, str(commit.id))
        return str(commit.id)

    def shutdown(self) -> None:
        with self._lock:
            events = list(self._cancel.values())
        for event in events:
            event.set()
        self._replicas.stop_all()

    def entry(self, source: Bundle) -> ServeEntry:
        """Find the serve module (the shallowest model.py) and check its two functions."""
        commit = self._repos.resolve_required(source.repo, Ref(source.commit))
        level: list[tuple[str, Tree]] = [("", self._files.root(commit))]
        while level:
            for folder, tree in level:
                node = tree.get(MODULE)
                if isinstance(node, FileNode):
                    text = b"".join(self._files.content(node)).decode("utf-8", "replace")
                    where = f"{source.path}/{folder}{MODULE}"
                    return ServeEntry(folder.rstrip("/"), "model", inspect_module(text, where))
            level = [
                (f"{folder}{e.name}/", self._files.load_tree(e.tree))
                for folder, tree in level
                for e in tree.entries
                if isinstance(e, DirNode) and not e.name.startswith(".")
            ]
        raise InvalidBundle(
            f"serve bundle {source.path}: no {MODULE} found; it needs a model.py defining "
            "load_ctx(model_dir) and predict(payload, ctx) and a requirements.txt beside it"
        )

    # the start-up thread -----------------------------------------------------------------
    def _launch(self, endpoint: Endpoint, batchable: bool | None) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancel[endpoint.name] = cancel
        thread = threading.Thread(
            target=self._start,
            args=(endpoint, batchable, cancel),
            name=f"endpoint-{endpoint.name}",
            daemon=True,
        )
        thread.start()

    def _start(self, endpoint: Endpoint, batchable: bool | None, cancel: threading.Event) -> None:
        home = self._root / endpoint.name
        build_log = JobLog(home / "build.log")
        serve_log = JobLog(home / "serve.log")
        try:
            code = home / "code"
            _remove(code)
            commit = self._repos.resolve_required(endpoint.source.repo, Ref(endpoint.source.commit))
            checkout(self._files, commit, "/", code)
            folder = code / endpoint.folder if endpoint.folder else code
            if batchable is None:
                batchable = inspect_module((folder / MODULE).read_text(), MODULE)
            if endpoint.model_id:
                self._place_model(endpoint, folder, build_log)
            requirements = folder / "requirements.txt"
            if not requirements.exists():
                requirements = code / "requirements.txt"
            text = requirements.read_text() if requirements.exists() else ""
            build_log.write(f"serve bundle {endpoint.source.path}: {endpoint.folder}/{MODULE}")
            lock = self._envs.lock(text, build_log.write, cancel)
            env = self._envs.ensure(lock, build_log.write, cancel)
            build_log.write(f"environment {lock.id[:12]} ready ({lock.python})")
            served = self._commit_served(endpoint, code)
            batch = endpoint.batch if batchable else None
            if endpoint.batch and not batchable:
                build_log.write("--batch ignored: the serve module defines no predict_batch")
            endpoint = endpoint.moved(
                EndpointState.STARTING,
                served_commit=served,
                started=self._clock(),
                env={"lock_id": lock.id, "lock": lock.text, "python": lock.python}
                | {"platform": fingerprint(), "batchable": batchable},
            )
            self._jobs.save_endpoint(endpoint)
            self._provenance.endpoint_started(endpoint)
            if cancel.is_set():
                return
            self._routes[endpoint.name] = Route(
                endpoint.name,
                endpoint.workspace,
                endpoint.model_id,
                (),
                batch,
                endpoint.timeout,
                endpoint.auth,
            )
            spec = ReplicaSpec(
                name=endpoint.name,
                env=env,
                code_dir=folder,
                module=endpoint.module,
                model_dir=folder,
                replicas=endpoint.replicas,
                run_dir=home / "run",
                extra_env=dict(endpoint.variables),  # --env (names checked not to collide)
                hidden=self._hidden,
            )
            self._replicas.start(spec, serve_log.write)
        except KaonError as exc:  # BuildFailed included: the state says the build failed
            build_log.write(f"error: {exc.message}")
            reason = (
                exc.message if exc.message.startswith("build") else f"build failed: {exc.message}"
            )
            self._jobs.save_endpoint(endpoint.moved(EndpointState.FAILURE, reason=reason))
        except Exception as exc:
            log.exception("endpoint %s failed to start", endpoint.name)
            build_log.write(f"internal error: {exc}")
            self._jobs.save_endpoint(
                endpoint.moved(EndpointState.FAILURE, reason=f"build failed: internal error {exc}")
            )

    def _place_model(self, endpoint: Endpoint, folder: Path, build_log: JobLog) -> None:
        assert endpoint.model_id is not None
        trial = self._training.model(endpoint.workspace, ModelId(endpoint.model_id))
        if trial.model_commit is None or trial.model_path is None:
            raise NotFound(f"model {endpoint.model_id} has no stored files")
        repo = repo_of(endpoint.workspace, "models")
        commit = self._repos.resolve_required(repo, Ref(trial.model_commit))
        size = checkout(self._files, commit, f"{trial.model_path}/model", folder)
        build_log.write(f"model {endpoint.model_id}: {size} bytes placed beside {MODULE}")

    def _commit_served(self, endpoint: Endpoint, code: Path) -> str:
        """Record exactly what is served (bundle + model files; chunks are shared, not copied)."""
        repo = repo_of(endpoint.workspace, "endpoints")
        with contextlib.suppress(AlreadyExists):
            self._repos.create_repo(repo, f"workspace {endpoint.workspace}: served code")
        commit = ingest(
            self._chunks,
            self._commits,
            repo,
            endpoint.name,
            list_folder(code),
            replace=True,
            message=f"endpoint {endpoint.name}: {endpoint.source.path} + model {endpoint.model_id}",
            author=endpoint.author,
        )
        return str(commit.id)


def _state_of(status: ReplicaStatus | None, endpoint: Endpoint) -> tuple[EndpointState, str]:
    if endpoint.build_failed:
        return endpoint.state, endpoint.reason
    if status is None:
        return endpoint.state, endpoint.reason
    if status.ready > 0:
        return EndpointState.RUNNING, ""
    if status.restarts >= GIVE_UP_AFTER:
        return EndpointState.FAILURE, status.last_error or "replicas keep failing"
    if status.restarts > 0:
        return EndpointState.RESTARTING, status.last_error
    return EndpointState.STARTING, ""


def _remove(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
