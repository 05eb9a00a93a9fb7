"""The pipelines' leader: the one server (holding the PIPELINES claim, kaon.core.cluster) that
runs pipeline jobs, crons, services and spouts.

Every server records jobs (a commit's cascade, `run`, a spout started, a datum restarted) in
the store; only the leader queues them. It looks at the store every `every` seconds: jobs
recorded by another server (CREATED, not queued here) are adopted, in the order they were
created; what another server ended there (a kill, a stop, a delete) is stopped here; a
change of the pipelines wakes the cron ticker. A commit through another server therefore
starts its jobs within `every` seconds (a commit through the leader at once, as before).
A leader that finds its claim taken (it could not renew it in time) stops leading: its
running jobs are left to the new leader's recovery, as at a platform stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kaon.core.pipelines.records import JobState
from kaon.ports.pipelines import PipelineStore
from kaon.services.pipelines.cron import CronTicker
from kaon.services.pipelines.scheduler import Scheduler

log = logging.getLogger("kaon")

EVERY = 0.25  # seconds between the leader's looks at the store


class PipelineLeader:
    def __init__(
        self,
        store: PipelineStore,
        scheduler: Scheduler,
        cron: CronTicker,
        leads: Callable[[], bool] = lambda: True,
        every: float = EVERY,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._cron = cron
        self._leads = leads  # whether this server still holds the claim
        self._every = every
        self._seen: set[tuple[str, int, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pipeline-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10.0)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not self._leads():
                    log.error("this server lost the pipelines' claim: another server leads")
                    self._stop.set()
                    self._cron.stop()
                    self._scheduler.shutdown()
                    self._scheduler.standby()
                    return
                self.look()
            except Exception:  # a database hiccup: look again next time
                log.warning("pipelines leader: looking at the store failed", exc_info=True)

    def look(self) -> None:
        """Adopt jobs recorded elsewhere, stop what was ended elsewhere, wake the cron."""
        created = self._store.list_jobs(states=[JobState.CREATED])
        if created:
            self._scheduler.adopt(sorted(created, key=lambda j: (j.created, j.pipeline)))
        self._scheduler.reconcile()
        seen = {(p.name, p.version, p.state.value) for p in self._store.list_pipelines()}
        if seen != self._seen:
            self._seen = seen
            self._cron.changed()
