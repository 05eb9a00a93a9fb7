"""An endpoint version's start-up thread: build its environment (or restore the one it was
served with), record what it serves, run its replicas (kaon.services.serving says when).
A stop while it starts cancels it; what it saves meanwhile is not saved then."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.errors import KaonError
from kaon.core.ids import CommitId, RepoName
from kaon.core.signatures import SIGNATURE_FILE
from kaon.ports.content import TreeRef
from kaon.ports.endpoints import EndpointStore
from kaon.services.endpointbuild import EndpointBuilder
from kaon.services.endpointrecord import EndpointRecorder
from kaon.services.endpointrun import EndpointRunner
from kaon.services.trials import fingerprint
from kaon.services.workspaces import repo_of

log = logging.getLogger("kaon.serving")


class EndpointStarts:
    """The versions starting on this server, each in a thread; thread-safe."""

    def __init__(
        self,
        endpoints: EndpointStore,
        builder: EndpointBuilder,
        recorder: EndpointRecorder,
        runner: EndpointRunner,
        clock: Callable[[], float],
    ) -> None:
        self._endpoints = endpoints
        self._build = builder
        self._record = recorder
        self._run = runner
        self._clock = clock
        self._cancel: dict[str, threading.Event] = {}
        self.lock = threading.Lock()  # a start-up thread's saves, and the sync's (serving)

    def halt(self, name: str) -> None:
        """Stop version `name`: its start-up thread, then its replicas."""
        with self.lock:
            cancel = self._cancel.pop(name, None)
            if cancel is not None:
                cancel.set()
        self._run.stop(name)

    def cancel_all(self) -> None:
        with self.lock:
            events = list(self._cancel.values())
        for event in events:
            event.set()

    def launch(self, endpoint: Endpoint) -> None:
        """Start `endpoint` in a thread of its own: build (or restore), record, run."""
        cancel = threading.Event()
        with self.lock:
            self._cancel[endpoint.name] = cancel
        thread = threading.Thread(
            target=self._start,
            args=(endpoint, cancel),
            name=f"endpoint-{endpoint.name}",
            daemon=True,
        )
        thread.start()

    def _start(self, endpoint: Endpoint, cancel: threading.Event) -> None:
        build_log = self._record.log(endpoint, "build")
        serve_log = self._record.log(endpoint, "serve")
        try:
            if endpoint.served_commit and "lock_id" in endpoint.env:
                self._restore(endpoint, serve_log.write, build_log.write, cancel)
                return
            built = self._build.build(endpoint, None, build_log.write, cancel)
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
            if not self._save_unless(cancel, endpoint):
                return
            if built.signature is not None:
                self._endpoints.save_signature(endpoint.name, built.signature, declared=True)
                build_log.write(f"OIP signature from the bundle's {SIGNATURE_FILE}")
            self._record.started(endpoint)
            self._run.run(endpoint, served, built.env, batch, serve_log.write)
            if cancel.is_set():  # killed while its replicas were fetching their files
                self._run.stop(endpoint.name)
        except KaonError as exc:  # BuildFailed included: the state says the build failed
            build_log.write(f"error: {exc.message}")
            self._save_unless(cancel, endpoint.build_failure(exc.message))
        except Exception as exc:
            log.exception("endpoint %s failed to start", endpoint.name)
            build_log.write(f"internal error: {exc}")
            self._save_unless(cancel, endpoint.build_failure(f"internal error {exc}"))

    def _save_unless(self, cancel: threading.Event, endpoint: Endpoint) -> bool:
        """Save what the start-up thread saw unless the version was stopped meanwhile (its
        KILLED row is then the truth): `_halt` sets `cancel` under the same lock."""
        with self.lock:
            if cancel.is_set():
                return False
            self._endpoints.save_endpoint(endpoint)
            return True

    def _restore(
        self,
        endpoint: Endpoint,
        serve_log: Callable[[str], None],
        build_log: Callable[[str], None],
        cancel: threading.Event,
    ) -> None:
        """Run a version served before (recovered or revived) on its served commit and lock."""
        build_log(f"restarting on served commit {endpoint.served_commit}")
        env = self._build.restore(endpoint, build_log, cancel)
        endpoint = endpoint.moved(EndpointState.STARTING, started=self._clock())
        if not self._save_unless(cancel, endpoint):
            return
        served = TreeRef(
            RepoName(repo_of(endpoint.workspace, "endpoints")),
            CommitId(str(endpoint.served_commit)),
        )
        batch = endpoint.batch if endpoint.env.get("batchable", True) else None
        self._run.run(endpoint, served, env, batch, serve_log)
        if cancel.is_set():
            self._run.stop(endpoint.name)
