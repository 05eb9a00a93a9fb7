"""Endpoints: a serve bundle plus a trained model, built like training and run as supervised
replicas behind the platform's gateway.

deploy → PIPELINE_STARTING → build (kaon.services.endpointbuild: the served files, the
environment of the bundle's requirements) → record (kaon.services.endpointrecord: the served
files committed to the workspace's `endpoints` repo, provenance) → run
(kaon.services.endpointrun: replicas started on that commit). The state then follows their
health: RUNNING while one answers, RESTARTING while they are being restarted, FAILURE when
they keep failing (or the build failed), KILLED when stopped (kaon.core.endpoints says which
moves are allowed). Endpoints come back on platform restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kaon.core.endpoints import Batching, Endpoint, EndpointState, new_endpoint_name
from kaon.core.errors import KaonError, NotFound
from kaon.core.feedback import Feedback
from kaon.core.jobs import Bundle, ModelId
from kaon.core.releases import Release, release_name, version_label, versioned_name
from kaon.ports.endpoints import EndpointStore
from kaon.ports.replicas import ReplicaStatus
from kaon.services.endpointbuild import EndpointBuilder, ServeEntry
from kaon.services.endpointrecord import EndpointRecorder
from kaon.services.endpointrun import Choice, EndpointRunner, Route
from kaon.services.trials import fingerprint
from kaon.services.workspaces import WorkspaceService

log = logging.getLogger("kaon.serving")


class ServingService:
    def __init__(
        self,
        endpoints: EndpointStore,
        workspaces: WorkspaceService,
        builder: EndpointBuilder,
        recorder: EndpointRecorder,
        runner: EndpointRunner,
        clock: Callable[[], float],
    ) -> None:
        self._endpoints = endpoints
        self._workspaces = workspaces
        self._build = builder
        self._record = recorder
        self._run = runner
        self._clock = clock
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # queries -----------------------------------------------------------------------------
    def get(self, name: str) -> Endpoint:
        found = self._endpoints.get_endpoint(name)
        if found is None:
            raise NotFound(f"there is no endpoint '{name}': see `kaon serve list`")
        return self.refresh(found)

    def lookup(self, name: str) -> Endpoint | None:
        """The endpoint's row as stored, or None (the gateway asks when it has no route)."""
        return self._endpoints.get_endpoint(name)

    def endpoints(self, workspace: str) -> list[Endpoint]:
        ws = self._workspaces.get(workspace)
        return [self.refresh(e) for e in self._endpoints.list_endpoints(ws.name)]

    def log_path(self, endpoint: Endpoint, kind: str) -> Path:
        return self._record.log_path(endpoint, kind)

    def status(self, name: str) -> ReplicaStatus | None:
        return self._run.status(name)

    def recycle(self, name: str, address: str) -> bool:
        """A request to the replica at `address` timed out: restart that replica."""
        return self._run.recycle(name, address)

    def route(self, name: str) -> Route | None:
        """The gateway's fast path: no database access."""
        return self._run.route(name)

    def refresh(self, endpoint: Endpoint) -> Endpoint:
        """The state as the replicas show it now (persisted when it changed)."""
        seen = self._run.observed(endpoint)
        if seen is not endpoint:
            self._endpoints.save_endpoint(seen)
        return seen

    def entry(self, source: Bundle) -> ServeEntry:
        """Find the serve module (the shallowest model.py) and check its two functions."""
        return self._build.entry(source)

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
        name: str | None = None,
        version: str | None = None,
        job: str | None = None,
    ) -> Endpoint:
        """Deploy a version: of release `name` (`--name`; a new `serve-<ws>-<hex>` when None)
        labelled `version` (`--version`; else the model's data commit prefix). `job`: the job
        whose token asked (a pipeline's release stage): the job → endpoint provenance edge.
        SKELETON (releases helper): the release row, idempotence and conflicts."""
        ws = self._workspaces.get(workspace)
        if model_id is not None:
            self._build.check_model(ws.name, model_id)  # not in this workspace: fails up front
        entry = self.entry(source)
        label = version_label(version) if version else ("1" if name else "")
        row = versioned_name(release_name(name), label) if name else new_endpoint_name(ws.name)
        endpoint = Endpoint(
            name=row,
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
            release=name or "",
            version=label,
            job=job,
        )
        self._endpoints.add_endpoint(endpoint)
        self._launch(endpoint, entry.batchable)
        return endpoint

    # releases: named endpoints, their versions and traffic (kaon.core.releases) -------------
    def update(
        self,
        name: str,
        author: str,
        model_id: ModelId | None,
        source: Bundle | None = None,
        canary: int | None = None,
        shadow: bool = False,
        version: str | None = None,
        job: str | None = None,
    ) -> Endpoint:
        """A new version of release `name` (the model `model_id`, the serve bundle `source` or
        the current version's): rolling (traffic moves to it once it is ready, the old drained),
        a canary taking `canary` % of requests, or a shadow. Returns the new version (STARTING).
        SKELETON (releases helper)."""
        raise NotImplementedError("serve update")

    def promote(self, name: str, job: str | None = None) -> Release:
        """The canary (or shadow) of `name` takes 100 %; the others drain. SKELETON."""
        raise NotImplementedError("serve promote")

    def rollback(self, name: str, job: str | None = None) -> Release:
        """Traffic of `name` back to what it was before the last change. SKELETON."""
        raise NotImplementedError("serve rollback")

    def release(self, name: str) -> Release:
        """Release `name` (NotFound when none). SKELETON."""
        raise NotImplementedError("serve release")

    def versions(self, name: str) -> list[Endpoint]:
        """Every version release `name` ever had, newest first (killed ones included). SKELETON."""
        raise NotImplementedError("serve versions")

    def resolve(
        self, name: str, namespace: str | None = None, version: str | None = None
    ) -> Choice | None:
        """The gateway's fast path (no database access): who answers a request to `name` — a
        release (traffic split, shadow), a version's `<release>-<version>` name, or a wave-1
        row — optionally in workspace `namespace` (Seldon's) and pinned to `version` (OIP's
        /versions/<v>). None: no such route (the gateway asks `lookup` why).
        SKELETON: a row name only; the releases helper adds releases and versions."""
        route = self._run.route(name)
        if route is None:
            return None
        if version is not None and version not in (route.version, route.model_id):
            return None
        return Choice(route)

    def kill(self, name: str) -> Endpoint:
        endpoint = self.get(name)
        with self._lock:
            cancel = self._cancel.pop(name, None)
        if cancel is not None:
            cancel.set()
        self._run.stop(name)
        endpoint = endpoint.moved(EndpointState.KILLED, reason="killed by request")
        self._endpoints.save_endpoint(endpoint)
        return endpoint

    def recover(self) -> list[str]:
        """At start-up: bring back every endpoint that was not killed or failed to build."""
        back: list[str] = []
        for endpoint in self._endpoints.list_endpoints():
            if endpoint.state is EndpointState.KILLED or endpoint.build_failed:
                continue
            self._launch(endpoint.moved(EndpointState.STARTING, reason=""), None)
            back.append(endpoint.name)
        return back

    def feedback(self, route: Route, feedback: Feedback) -> str:
        """Store feedback on one answer (the version `route` answered it) as
        `/<request id>.json` of the workspace's feedback repo, branch = the release; returns
        the commit. Conflict (409) when that request already has its feedback."""
        fb = replace(
            feedback,
            endpoint=route.release or route.name,
            version=feedback.version or route.version or "1",
            model_id=feedback.model_id or route.model_id,
        )
        answered = route  # provenance: the version that answered, not the one that got this
        if route.release and fb.version != (route.version or "1"):
            answered = replace(route, name=versioned_name(route.release, fb.version))
        return self._record.feedback(answered, fb).commit

    def feedbacks(self, name: str, limit: int = 100) -> list[Feedback]:
        """The feedback release (or endpoint) `name` received, newest first; a version's name
        (`petset-c517ec`) gives only the feedback on that version's answers."""
        endpoint = self.get(name)
        release = endpoint.release_name
        pinned = name == endpoint.name and name != release
        version = endpoint.version_label if pinned else None
        return self._record.feedbacks(endpoint.workspace, release, limit, version)

    def shutdown(self) -> None:
        with self._lock:
            events = list(self._cancel.values())
        for event in events:
            event.set()
        self._run.stop_all()

    # the start-up thread: build, record, run ---------------------------------------------
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
        build_log = self._record.log(endpoint, "build")
        serve_log = self._record.log(endpoint, "serve")
        try:
            built = self._build.build(endpoint, batchable, build_log.write, cancel)
            served = self._record.served(endpoint, built.files)
            batch = endpoint.batch if built.batchable else None
            if endpoint.batch and not built.batchable:
                build_log.write("--batch ignored: the serve module defines no predict_batch")
            lock = built.lock
            endpoint = endpoint.moved(
                EndpointState.STARTING,
                served_commit=str(served.commit),
                started=self._clock(),
                env={"lock_id": lock.id, "lock": lock.text, "python": lock.python}
                | {"platform": fingerprint(), "batchable": built.batchable},
            )
            self._endpoints.save_endpoint(endpoint)
            self._record.started(endpoint)
            if cancel.is_set():
                return
            self._run.run(endpoint, served, built.env, batch, serve_log.write)
            if cancel.is_set():  # killed while its replicas were fetching their files
                self._run.stop(endpoint.name)
        except KaonError as exc:  # BuildFailed included: the state says the build failed
            build_log.write(f"error: {exc.message}")
            self._endpoints.save_endpoint(endpoint.build_failure(exc.message))
        except Exception as exc:
            log.exception("endpoint %s failed to start", endpoint.name)
            build_log.write(f"internal error: {exc}")
            self._endpoints.save_endpoint(endpoint.build_failure(f"internal error {exc}"))
