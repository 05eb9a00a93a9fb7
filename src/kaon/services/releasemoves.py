"""How a release's traffic moves (kaon.services.releases says when): a pending change's
watcher, which moves the traffic once every replica of its versions is ready, and the drain of
the versions left out; the queries both need; the in-memory table the gateway resolves by.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import NotFound
from kaon.core.jobs import WorkspaceName
from kaon.core.releases import Move, Release, Traffic
from kaon.ports.endpoints import EndpointStore, ReleaseStore
from kaon.services.endpointrun import EndpointRunner, Table

log = logging.getLogger("kaon.releases")

DRAIN_SECONDS = 1.0  # after traffic moved: requests resolved before still reach old replicas
POLL_SECONDS = 0.05  # how often a pending change looks at its versions' replicas


class ReleaseMoves:
    """The mechanics of traffic moves; thread-safe (one lock orders all the changes)."""

    def __init__(
        self,
        endpoints: EndpointStore,
        releases: ReleaseStore,
        runner: EndpointRunner,
        clock: Callable[[], float],
        launch: Callable[[Endpoint], None],
        stop: Callable[[str], None],
        refresh: Callable[[Endpoint], Endpoint],
    ) -> None:
        self._endpoints = endpoints
        self._releases = releases
        self._run = runner
        self._clock = clock
        self._launch = launch  # start a version's replicas (built, or restored when revived)
        self._stop = stop  # stop a version's start-up and replicas
        self._refresh = refresh  # a version in the state its replicas show (persisted)
        self._lock: threading.RLock = threading.RLock()
        self._closed = threading.Event()

    @property
    def lock(self) -> threading.RLock:
        """Held by every traffic change (and by the sync of several servers' changes)."""
        return self._lock

    # queries -----------------------------------------------------------------------------
    def find(self, name: str) -> Release | None:
        """Release `name`, or the release whose version's row is called `name`."""
        found = self._releases.get_release(name)
        if found is not None:
            return found
        row = self._endpoints.get_endpoint(name)
        if row is None:
            return None
        return self._releases.get_release(row.release_name) or legacy(row)

    def get(self, name: str) -> Release:
        found = self.find(name)
        if found is None:
            raise NotFound(f"there is no endpoint '{name}': see `kaon serve list`")
        return found

    def versions(self, release: Release) -> list[Endpoint]:
        """Every version of `release`, newest first."""
        rows = self._endpoints.list_endpoints(WorkspaceName(release.workspace))
        return [e for e in rows if e.release_name == release.name]

    def main(self, release: Release) -> Endpoint | None:
        """The version answering most of `release`'s requests (else its newest)."""
        rows = self.versions(release)
        wanted = release.traffic.main
        return next((e for e in rows if e.version_label == wanted), rows[0] if rows else None)

    def _row(self, release: Release, label: str) -> Endpoint | None:
        return next((e for e in self.versions(release) if e.version_label == label), None)

    # traffic moves -----------------------------------------------------------------------
    def _apply(self, release: Release) -> Release:
        """The pending change of `release` done: the traffic moves, the rest drains."""
        assert release.pending is not None
        before = release.traffic
        moved = release.applied(self._clock())
        self._releases.save_release(moved)
        self._publish(moved)
        why = "rolled back to" if release.pending.move is Move.ROLLBACK else "replaced by"
        self._drain(moved, before, f"{why} {moved.traffic.main}")
        return moved

    def _drain(self, release: Release, before: Traffic, reason: str) -> None:
        """The versions of `before` not in `release`'s traffic: killed after DRAIN_SECONDS,
        unless a change brought them back meanwhile."""
        gone = [v for v in before.versions if v not in release.traffic.versions]
        if not gone:
            return

        def later() -> None:
            if self._closed.wait(DRAIN_SECONDS):
                return
            with self._lock:
                now = self._releases.get_release(release.name)
                if now is None:
                    return
                back = set(now.traffic.versions) | set(now.pending.versions if now.pending else ())
                for label in gone:
                    if label not in back:
                        self._kill_row(now, label, reason)

        threading.Thread(target=later, name=f"drain-{release.name}", daemon=True).start()

    def _kill_row(self, release: Release, label: str, reason: str) -> None:
        row = self._row(release, label)
        if row is None or row.state is EndpointState.KILLED:
            return
        self._stop(row.name)
        self._endpoints.save_endpoint(row.moved(EndpointState.KILLED, reason=reason))

    def _watch(self, release: Release) -> None:
        """Move `release`'s traffic when the versions of its pending change are ready."""
        pending = release.pending
        assert pending is not None

        def loop() -> None:
            while not self._closed.wait(POLL_SECONDS):
                with self._lock:
                    now = self._releases.get_release(release.name)
                    if now is None or now.pending != pending:
                        return  # cancelled, or superseded
                    verdict = self._readiness(now)
                    if verdict is None:
                        continue
                    if verdict:
                        self._fail(now, verdict)
                    else:
                        self._apply(now)
                    return

        threading.Thread(target=loop, name=f"release-{release.name}", daemon=True).start()

    def _readiness(self, release: Release) -> str | None:
        """ "" when every version of the pending change is ready, why not when one failed,
        None while they are starting."""
        assert release.pending is not None
        for label in release.pending.versions:
            row = self._row(release, label)
            if row is None or row.state is EndpointState.KILLED:
                return f"version {label} was killed"
            row = self._refresh(row)
            if row.state is EndpointState.FAILURE:
                return f"version {label} failed: {row.reason}"
            status = self._run.status(row.name)
            if row.state is not EndpointState.RUNNING:
                return None
            if status is None and self._run.routed(row.name):
                return None
            if status is not None and status.ready < row.replicas:
                return None
            # (no status here: another server runs it, and saved it RUNNING)
        return ""

    def _fail(self, release: Release, why: str) -> None:
        """A pending change whose versions failed: the traffic stays; they stop."""
        assert release.pending is not None
        log.warning("release %s: %s; traffic unchanged", release.name, why)
        unchanged = replace(release, pending=None)
        self._releases.save_release(unchanged)
        self._publish(unchanged)
        for label in release.pending.versions:
            row = self._row(release, label)
            if row is not None and label not in release.traffic.versions and row.live:
                self._stop(row.name)  # crashing replicas of a version that takes no traffic

    def _publish(self, release: Release) -> None:
        rows = {e.version_label: e.name for e in self.versions(release)}
        self._run.publish(Table(release.name, release.workspace, release.traffic, rows))

    def republish(self, releases: list[Release], rows: list[Endpoint]) -> None:
        """Every release's table as the database has it (changes made through other
        servers); `rows`: every version, newest first. Call under `lock`."""
        by_release: dict[str, dict[str, str]] = {}
        for e in rows:  # as _publish: rows in the order list_endpoints gives
            by_release.setdefault(e.release_name, {})[e.version_label] = e.name
        for release in releases:
            labels = by_release.get(release.name, {})
            self._run.publish(Table(release.name, release.workspace, release.traffic, labels))

    def close(self) -> None:
        self._closed.set()


def legacy(row: Endpoint) -> Release:
    """The release of an endpoint deployed before releases existed: it alone."""
    return Release(
        row.release_name,
        row.workspace,
        row.created,
        row.author,
        Traffic.only(row.version_label),
        job=row.job,
    )
