"""Endpoints: a serve bundle plus a trained model, built like training and run as supervised
replicas behind the platform's gateway.

deploy → PIPELINE_STARTING → build (kaon.services.endpointbuild: the served files, the
environment of the bundle's requirements) → record (kaon.services.endpointrecord: the served
files committed to the workspace's `endpoints` repo, provenance) → run
(kaon.services.endpointrun: replicas started on that commit). The state then follows their
health: RUNNING while one answers, RESTARTING while they are being restarted, FAILURE when
they keep failing (or the build failed), KILLED when stopped (kaon.core.endpoints says which
moves are allowed); each version starts in a thread of its own (kaon.services.endpointstart).
Endpoints come back on platform restart. With several servers over one database, the server
that starts a version runs it (its ENDPOINT claim) and every server's gateway answers it;
a version whose server died is taken over (kaon.services.endpointsync).

An endpoint is a *release* (kaon.core.releases: a name, `--name` or `serve-<ws>-<hex>`) whose
rows are its *versions*; kaon.services.releases moves the traffic between them (update,
canary, shadow, promote, rollback) and the gateway resolves a name in memory (`resolve`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kaon.core.cluster import ClaimKind
from kaon.core.endpoints import Batching, Endpoint, EndpointState, new_endpoint_name
from kaon.core.errors import Conflict, KaonError, NotFound
from kaon.core.feedback import Feedback
from kaon.core.jobs import Bundle, ModelId
from kaon.core.releases import Release, release_name, version_label, versioned_name
from kaon.ports.endpoints import EndpointStore, ReleaseStore
from kaon.ports.placement import PlacementStore
from kaon.ports.replicas import ReplicaStatus
from kaon.services.cluster import ClusterService
from kaon.services.endpointbuild import EndpointBuilder, ServeEntry
from kaon.services.endpointrecord import EndpointRecorder
from kaon.services.endpointrun import Choice, EndpointRunner, Route
from kaon.services.endpointstart import EndpointStarts
from kaon.services.endpointsync import EndpointPlaces, EndpointSync
from kaon.services.releases import ReleaseEngine
from kaon.services.workspaces import WorkspaceService

log = logging.getLogger("kaon.serving")

NAMESPACE_TTL = 5.0  # seconds a Seldon namespace is known to be (or not be) a workspace


class ServingService:
    def __init__(
        self,
        endpoints: EndpointStore,
        releases: ReleaseStore,
        workspaces: WorkspaceService,
        builder: EndpointBuilder,
        recorder: EndpointRecorder,
        runner: EndpointRunner,
        clock: Callable[[], float],
        cluster: ClusterService,
        placements: PlacementStore,
    ) -> None:
        self._endpoints = endpoints
        self._workspaces = workspaces
        self.is_notebook: Callable[[str], bool] = lambda name: False  # wired: notebooks' names
        self._build = builder
        self._record = recorder
        self._run = runner
        self._clock = clock
        self._starts = EndpointStarts(endpoints, builder, recorder, runner, clock)
        self._namespaces: dict[str, tuple[bool, float]] = {}  # name -> (a workspace?, when)
        self._releases = ReleaseEngine(
            endpoints, releases, runner, clock, self._launch, self._halt, self.refresh
        )
        self._places = EndpointPlaces(cluster, placements, clock)  # several servers
        self._sync = EndpointSync(
            self._places,
            runner,
            endpoints,
            releases,
            self._releases,
            self._halt,
            self._observe,
            self.take_over,
        )
        cluster.on_orphan(ClaimKind.ENDPOINT, self.take_over)

    # queries -----------------------------------------------------------------------------
    def get(self, name: str) -> Endpoint:
        """Version row `name`, or release `name`'s main serving version."""
        release = self._releases.find(name)
        found = self._releases.main(release) if release is not None else None
        if found is None or (release is not None and name != release.name):
            found = self._endpoints.get_endpoint(name) or found
        if found is None:
            raise NotFound(f"there is no endpoint '{name}': see `kaon serve list`")
        return self.refresh(found)

    def lookup(self, name: str) -> Endpoint | None:
        """The endpoint's row as stored (a release's main version), or None (the gateway
        asks when it has no route)."""
        self._sync.poke()  # changed through another server? this gateway syncs at once
        found = self._endpoints.get_endpoint(name)
        if found is not None:
            return found
        release = self._releases.find(name)
        return None if release is None else self._releases.main(release)

    def endpoints(self, workspace: str) -> list[Endpoint]:
        ws = self._workspaces.get(workspace)
        return [self.refresh(e) for e in self._endpoints.list_endpoints(ws.name)]

    def log_path(self, endpoint: Endpoint, kind: str) -> Path:
        return self._record.log_path(endpoint, kind)

    def status(self, name: str) -> ReplicaStatus | None:
        """Of the replicas of `name`, here or on the server that runs them (its ready ones)."""
        found = self._run.status(name)
        placed = self._places.others.get(name) if found is None else None
        if placed is not None:
            n = len(placed.addresses)
            return ReplicaStatus(n, n, 0, "", placed.addresses)
        return found

    def runs_on(self, name: str) -> str | None:
        """The URL of the other live server running version `name`'s replicas, if one does."""
        return self._places.runs_on(name)

    def recycle(self, name: str, address: str) -> bool:
        """A request to the replica at `address` timed out: restart that replica."""
        return self._run.recycle(name, address)

    def route(self, name: str) -> Route | None:
        """The gateway's fast path: no database access (a release: drawn by its traffic)."""
        route = self._run.route(name)
        if route is not None:
            return route
        choice = self._run.resolve(name)
        return None if choice is None else choice[0]

    def local_route(self, name: str) -> Route | None:
        """The route to version `name` if this server runs its replicas."""
        return self._run.route(name) if self._run.routed(name) else None

    def signature(self, name: str) -> dict[str, Any] | None:
        """Version `name`'s OIP signature (kaon.core.signatures), as stored: declared by its
        bundle or learned by any server from its first request."""
        return self._endpoints.get_signature(name)

    def learn_signature(self, name: str, signature: dict[str, Any]) -> dict[str, Any]:
        """Keep what version `name`'s first successful OIP request showed, unless it has a
        signature already; the one stored (the same on every server)."""
        self._endpoints.save_signature(name, signature, declared=False)
        return self._endpoints.get_signature(name) or signature

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
        The same inputs again under the same name and version: the existing version."""
        ws = self._workspaces.get(workspace)
        if name is not None:
            name = release_name(name)
            if self.is_notebook(name):
                raise Conflict(
                    f"'{name}' is a notebook's name (the gateway routes /{name}/ to it): give "
                    "the endpoint another --name, or kill the notebook first"
                )
        if model_id is not None:
            self._build.check_model(ws.name, model_id)  # not in this workspace: fails up front
        entry = self.entry(source)
        if version is not None:
            label = version_label(version)
        else:
            label = version_label(self._build.default_version(ws.name, model_id, source))
        endpoint = Endpoint(
            name=versioned_name(name, label) if name else new_endpoint_name(ws.name),
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
        return self._releases.deploy(endpoint)

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
        a canary taking `canary` % of requests, or a shadow. Returns the new version."""
        release = self._releases.get(name)
        base = self._releases.main(release)
        if base is None:
            raise NotFound(f"endpoint {release.name} has no version: see `kaon serve list`")
        source = source or base.source
        model = model_id if model_id is not None else base.model_id
        model = ModelId(model) if model else None
        if model is not None:
            self._build.check_model(release.workspace, model)
        entry = self.entry(source)
        if version is not None:
            label = version_label(version)
        else:
            label = version_label(self._build.default_version(release.workspace, model, source))
        endpoint = Endpoint(
            name=versioned_name(release.name, label),
            workspace=release.workspace,
            state=EndpointState.STARTING,
            created=self._clock(),
            author=author,
            source=source,
            model_id=model,
            replicas=base.replicas,
            batch=base.batch,
            timeout=base.timeout,
            module=entry.module,
            folder=entry.folder,
            variables=dict(base.variables),
            auth=base.auth,
            release=release.name,
            version=label,
            job=job,
        )
        return self._releases.update(release.name, endpoint, canary, shadow, job)

    def promote(self, name: str, job: str | None = None) -> Release:
        """The canary (or shadow) of `name` takes 100 %; the others drain."""
        return self._releases.promote(name, job)

    def rollback(self, name: str, job: str | None = None) -> Release:
        """Traffic of `name` back to what it was before the last change (drained versions
        started again; the traffic moves when they are ready), or a pending change cancelled."""
        return self._releases.rollback(name, job)

    def release(self, name: str) -> Release:
        """Release `name`, or the release of version `name` (NotFound when none)."""
        return self._releases.get(name)

    def versions(self, name: str) -> list[Endpoint]:
        """Every version release `name` ever had, newest first (killed ones included)."""
        return [self.refresh(e) for e in self._releases.versions(self._releases.get(name))]

    def resolve(
        self, name: str, namespace: str | None = None, version: str | None = None
    ) -> Choice | None:
        """The gateway's fast path (no database access but a cached workspace check): who
        answers a request to `name` — a release (traffic split, shadow), a version's
        `<release>-<version>` name, or a wave-1 row — optionally in workspace `namespace`
        (Seldon's: any value that is not a workspace is accepted) and pinned to `version`
        (OIP's /versions/<v>: a label or a model id). None: no such route (the gateway asks
        `lookup` why)."""
        found = self._run.resolve(name, version)
        if found is None:
            return None
        route, shadow = found
        if namespace is not None and namespace != route.workspace and self._is_ws(namespace):
            return None
        return Choice(route, shadow)

    def _is_ws(self, name: str) -> bool:
        now = time.monotonic()
        known = self._namespaces.get(name)
        if known is not None and now - known[1] < NAMESPACE_TTL:
            return known[0]
        try:
            self._workspaces.get(name)
            found = True
        except KaonError:  # no such workspace (or an invalid name)
            found = False
        if len(self._namespaces) > 1024:
            self._namespaces.clear()
        self._namespaces[name] = (found, now)
        return found

    def kill(self, name: str) -> Endpoint:
        """Kill release `name` (every version), or one version not answering requests
        beside another (Conflict)."""
        return self._releases.kill(name)

    def recover(self) -> list[str]:
        """At start-up: bring back every release's serving versions (not killed, not failed
        to build) that no other live server runs, and the traffic between them; then follow
        what the other servers run (kaon.services.endpointsync)."""
        back = self._releases.recover()
        self._sync.start()
        return back

    def take_over(self, name: str) -> None:
        """Version `name`, just claimed by this server (its server died or stopped): started
        here as a restart would, or given up when it needs no running."""
        if not self._releases.take_over(name):
            self._places.release(name)

    def _observe(self, name: str) -> None:
        """Save the state the replicas of `name` (run here) show, the row read afresh under
        the lock the start-up thread saves under."""
        with self._starts.lock:
            row = self._endpoints.get_endpoint(name)
            if row is not None:
                self.refresh(row)

    def _halt(self, name: str) -> None:
        """Stop version `name` here: its start-up thread, its replicas; give its claim up."""
        self._starts.halt(name)
        self._places.release(name)

    def _launch(self, endpoint: Endpoint) -> None:
        if not self._places.claim(endpoint.name):  # another live server runs it
            log.info("endpoint %s runs on another server: not started here", endpoint.name)
            return
        self._starts.launch(endpoint)

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
        self._sync.close()
        self._releases.close()
        self._starts.cancel_all()
        self._run.stop_all()
