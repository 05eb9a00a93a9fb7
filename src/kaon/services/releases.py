"""Releases: named endpoints, their versions and the traffic between them (kaon.core.releases).

A traffic change that needs versions to be ready (a rolling update, a canary, a shadow, a
rollback to drained versions) is stored as the release's `pending` change, its versions are
started, and a watcher moves the traffic once every replica of them is ready: the gateway
resolves the release by its new traffic at once (kaon.services.endpointrun, in memory), and
the versions no longer in it drain (DRAIN_SECONDS for requests already resolved to them to
reach their replicas, which finish their in-flight requests on SIGTERM) and end KILLED
"replaced by <version>"; their rows, served commits and provenance stay. A version that fails
before it is ready leaves the traffic as it was. The pending change is stored, so a platform
restart resumes it (recover).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kaon.core.releases import Move, Pending, Release, Traffic
from kaon.services.releasemoves import ReleaseMoves, legacy


class ReleaseEngine(ReleaseMoves):
    """Deploy, update, promote, rollback, kill and recover releases."""

    def deploy(self, endpoint: Endpoint) -> Endpoint:
        """Deploy `endpoint`, the first version of its release (or the same version again:
        idempotent); Conflict when the name is taken by another version or deploy."""
        name, label = endpoint.release_name, endpoint.version_label
        with self._lock:
            if endpoint.release:
                self._check_names(endpoint)
            existing = self._releases.get_release(name)
            if existing is None:
                release = Release(
                    name,
                    endpoint.workspace,
                    endpoint.created,
                    endpoint.author,
                    Traffic.only(label),
                    job=endpoint.job,
                )
                try:
                    self._releases.add_release(release)
                except AlreadyExists:
                    raise Conflict(
                        f"endpoint {name} was just created by another deploy: see `kaon serve "
                        f"list`, then `kaon serve update -e {name} -m <model>`"
                    ) from None
                self._endpoints.add_endpoint(endpoint)
                self._started(release, endpoint)
                return endpoint
            return self._redeploy(existing, endpoint)

    def _check_names(self, endpoint: Endpoint) -> None:
        name = endpoint.release_name
        clash = self._endpoints.get_endpoint(name)
        if clash is not None and clash.release_name != name:
            raise Conflict(
                f"endpoint name {name} is taken by version {clash.version_label} of endpoint "
                f"{clash.release_name}: choose another --name"
            )
        if self._releases.get_release(endpoint.name) is not None:
            raise Conflict(
                f"{endpoint.name} is the name of another endpoint: choose another --version "
                f"for {name}"
            )

    def _redeploy(self, release: Release, endpoint: Endpoint) -> Endpoint:
        name, label = release.name, endpoint.version_label
        if release.workspace != endpoint.workspace:
            raise Conflict(
                f"endpoint name {name} is taken by another workspace's endpoint (names are "
                "unique on the platform): choose another --name"
            )
        rows = self.versions(release)
        same = next((e for e in rows if e.version_label == label), None)
        live = [e for e in rows if e.live]
        if same is not None and not same.same_inputs(endpoint):
            raise Conflict(
                f"endpoint {name} already has a version {label} (model {same.model_id}, serve "
                f"bundle {same.source.path}, {same.replicas} replicas): deploy other inputs "
                "under another --version"
            )
        if same is not None and same.live:
            return self._refresh(same)  # the same inputs again: idempotent
        if live:
            raise Conflict(
                f"endpoint {name} exists (serving version {release.traffic.main}): use "
                f"`kaon serve update -e {name} -m <model>` to deploy a new version"
            )
        # every version of it is dead: this one starts the release again
        if same is not None:
            endpoint = same.revived()
            self._endpoints.save_endpoint(endpoint)
        else:
            self._endpoints.add_endpoint(endpoint)
        again = replace(
            release.routed(Traffic.only(label), self._clock()),
            pending=None,
            candidate=None,
            job=endpoint.job or release.job,
        )
        self._releases.save_release(again)
        self._started(again, endpoint)
        return endpoint

    def _started(self, release: Release, endpoint: Endpoint) -> None:
        self._publish(release)
        self._launch(endpoint)

    # update, promote, rollback -----------------------------------------------------------
    def update(
        self, name: str, endpoint: Endpoint, canary: int | None, shadow: bool, job: str | None
    ) -> Endpoint:
        """Start `endpoint`, a new version of release `name`: the traffic moves to it (all,
        `canary` %, or as its shadow) once it is ready."""
        if canary is not None and shadow:
            raise InvalidInput("use --canary or --shadow, not both")
        with self._lock:
            release = self.get(name)
            self._check_idle(release)
            label = endpoint.version_label
            same = self._row(release, label)
            if same is not None and not same.same_inputs(endpoint):
                raise Conflict(
                    f"endpoint {name} already has a version {label} (model {same.model_id}, "
                    f"serve bundle {same.source.path}): choose another --version"
                )
            if same is not None and same.live and label in release.traffic.serving:
                if canary is None and not shadow:
                    return self._refresh(same)  # it serves already: nothing to do
                raise InvalidInput(f"version {label} already serves endpoint {name}")
            if canary is not None:
                move, target = Move.CANARY, release.traffic.split(label, canary)
            elif shadow:
                move, target = Move.SHADOW, release.traffic.shadowed(label)
            else:
                move, target = Move.ROLLING, Traffic.only(label)
            if same is not None and same.build_failed:
                raise Conflict(
                    f"version {label} of endpoint {name} failed to build ({same.reason}): fix "
                    "it and deploy it under another --version"
                )
            if same is not None:  # drained, or failed before it took traffic: again
                self._stop(same.name)
                if same.state is EndpointState.KILLED:
                    endpoint = same.revived()
                else:
                    endpoint = same.moved(EndpointState.STARTING, reason="")
                self._endpoints.save_endpoint(endpoint)
            else:
                self._endpoints.add_endpoint(endpoint)
            pending = Pending(move, (label,), target, self._clock(), job)
            release = replace(release, pending=pending)
            self._releases.save_release(release)
            self._publish(release)
            self._launch(endpoint)
            self._watch(release)
            return endpoint

    def _check_idle(self, release: Release) -> None:
        if not any(e.live for e in self.versions(release)):
            raise Conflict(
                f"endpoint {release.name} was killed: deploy it again with "
                f"`kaon serve deploy --name {release.name} ...`"
            )
        busy = release.busy
        if busy:
            raise Conflict(
                f"endpoint {release.name}: {busy}: `kaon serve promote -e {release.name}` or "
                f"`kaon serve rollback -e {release.name}` first"
            )

    def promote(self, name: str, job: str | None) -> Release:
        with self._lock:
            release = self.get(name)
            if release.pending is not None:
                raise Conflict(
                    f"endpoint {release.name}: {release.busy}: wait until it is ready "
                    f"(`kaon serve versions -e {release.name}`)"
                )
            candidate = release.candidate or release.traffic.shadow
            if candidate is None:
                raise InvalidInput(
                    f"nothing to promote: endpoint {release.name} serves only version "
                    f"{release.traffic.main} (promote follows `kaon serve update --canary N` "
                    "or `--shadow`)"
                )
            rest = {v: w for v, w in release.traffic.weights.items() if v != candidate}
            before = release.previous or Traffic.only(max(rest, key=lambda v: rest[v]))
            promoted = replace(
                release,
                traffic=Traffic.only(candidate),
                previous=before,
                candidate=None,
                updated=self._clock(),
                job=job or release.job,
            )
            self._releases.save_release(promoted)
            self._publish(promoted)
            self._drain(promoted, release.traffic, f"replaced by {candidate}")
            return promoted

    def rollback(self, name: str, job: str | None) -> Release:
        with self._lock:
            release = self.get(name)
            if release.pending is not None:
                return self._cancel(release)
            if release.candidate or release.traffic.canary or release.traffic.shadow:
                weights = {v: w for v, w in release.traffic.weights.items() if w > 0}
                keep = {v: w for v, w in weights.items() if v != release.candidate}
                fallback = Traffic.only(max(keep, key=lambda v: keep[v])) if keep else None
                target = release.previous or fallback
            else:
                target = release.previous
            if target is None:
                raise InvalidInput(
                    f"nothing to roll back to: endpoint {release.name} has served only version "
                    f"{release.traffic.main}"
                )
            rows = {e.version_label: e for e in self.versions(release)}
            missing = [v for v in target.versions if v not in rows]
            if missing:
                raise NotFound(f"endpoint {release.name} has no version {missing[0]} any more")
            dead = [rows[v] for v in target.versions if not rows[v].live]
            if any(e.build_failed for e in dead):
                raise Conflict(f"endpoint {release.name}: the version to roll back to never ran")
            pending = Pending(
                Move.ROLLBACK, tuple(e.version_label for e in dead), target, self._clock(), job
            )
            release = replace(release, pending=pending)
            self._releases.save_release(release)
            for e in dead:
                revived = e.revived()
                self._endpoints.save_endpoint(revived)
                self._launch(revived)
            if not dead:
                return self._apply(release)
            self._watch(release)
            return release

    def _cancel(self, release: Release) -> Release:
        """Rollback while a change is pending: its versions not serving are killed."""
        assert release.pending is not None
        cancelled = replace(release, pending=None, updated=self._clock())
        self._releases.save_release(cancelled)
        self._publish(cancelled)
        for label in release.pending.versions:
            if label not in release.traffic.versions:
                self._kill_row(cancelled, label, "rolled back before it took traffic")
        return cancelled

    # kill, recover -----------------------------------------------------------------------
    def kill(self, name: str) -> Endpoint:
        """Kill release `name` (every live version), or the version whose row is `name` (a
        version answering requests only if it is the only one: the release then dies)."""
        with self._lock:
            release = self.get(name)
            row = self._endpoints.get_endpoint(name)
            if name == release.name or row is None:
                return self._kill_release(release)
            label, traffic = row.version_label, release.traffic
            if traffic.weights.get(label, 0) > 0:
                if len(traffic.serving) > 1:
                    raise Conflict(
                        f"version {label} of endpoint {release.name} answers "
                        f"{traffic.weights[label]} % of its requests: `kaon serve promote -e "
                        f"{release.name}` or `kaon serve rollback -e {release.name}` first, or "
                        f"kill the whole endpoint with `kaon serve kill -e {release.name}`"
                    )
                return self._kill_release(release)
            if label == traffic.shadow:
                release = replace(
                    release, traffic=Traffic(traffic.weights), candidate=None, updated=self._clock()
                )
            if release.pending is not None and label in release.pending.versions:
                release = replace(release, pending=None)
            self._releases.save_release(release)
            self._publish(release)
            self._kill_row(release, label, "killed by request")
            return self._endpoints.get_endpoint(name) or row

    def _kill_release(self, release: Release) -> Endpoint:
        main = self.main(release)
        if release.pending is not None:
            release = replace(release, pending=None)
            self._releases.save_release(release)
        for row in self.versions(release):
            if row.state is not EndpointState.KILLED:
                self._stop(row.name)
                self._endpoints.save_endpoint(
                    row.moved(EndpointState.KILLED, reason="killed by request")
                )
        self._publish(release)
        if main is None:
            raise NotFound(f"endpoint {release.name} has no version")
        return self._endpoints.get_endpoint(main.name) or main

    def take_over(self, name: str) -> bool:
        """Version `name`, which this server just claimed (its server died or stopped), started
        here as a restart would (kaon.services.endpointsync); False when it needs no
        running (killed, failed to build, or out of its release's traffic)."""
        with self._lock:
            row = self._endpoints.get_endpoint(name)
            release = None if row is None else self.find(name)
            if row is None or release is None or not row.live:
                return False
            wanted = set(release.traffic.versions)
            wanted |= set(release.pending.versions if release.pending else ())
            if row.version_label not in wanted:
                if row.state is not EndpointState.FAILURE:  # a drain its server's death cut
                    reason = f"replaced by {release.traffic.main}"
                    self._endpoints.save_endpoint(row.moved(EndpointState.KILLED, reason=reason))
                return False
            self._launch(row.moved(EndpointState.STARTING, reason=""))
            self._publish(release)
            if release.pending is not None and row.version_label in release.pending.versions:
                self._watch(release)
            return True

    def recover(self) -> list[str]:
        """At start-up: every release's versions in its traffic (or its pending change)
        started again, and its pending change resumed; a drain a stop interrupted is done."""
        back: list[str] = []
        with self._lock:
            known = {r.name: r for r in self._releases.list_releases()}
            for row in self._endpoints.list_endpoints():
                if row.release_name not in known:  # a row older than releases
                    old = legacy(row)
                    with contextlib.suppress(AlreadyExists):  # another server added it
                        self._releases.add_release(old)
                    known[old.name] = self._releases.get_release(old.name) or old
            for release in known.values():
                wanted = set(release.traffic.versions)
                wanted |= set(release.pending.versions if release.pending else ())
                for row in self.versions(release):
                    if not row.live:
                        continue
                    if row.version_label in wanted:
                        self._launch(row.moved(EndpointState.STARTING, reason=""))
                        back.append(row.name)
                    elif row.state is not EndpointState.FAILURE:  # a drain the stop cut
                        reason = f"replaced by {release.traffic.main}"
                        self._endpoints.save_endpoint(
                            row.moved(EndpointState.KILLED, reason=reason)
                        )
                self._publish(release)
                if release.pending is not None:
                    self._watch(release)
        return back
