"""A job's datums as they are planned: the plan streamed (planning.stream) by a thread of its
own, in batches; each batch goes through `admit` (the skip lookup, one `store.succeeded` per
batch: the skipped are recorded, the rest returned) and what is left is queued for the
workers, who start on the first batch while the rest is still being planned.

The first batch is small (the first datum runs soon), the next ones grow to BATCH_MAX (one
skip lookup per thousand hashes). Planning stops early only when the job is killed (`abort`);
a job whose datum failed is planned to its end, so its counts say how many datums it had.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

from kaon.core.pipelines.datums import Datum
from kaon.core.pipelines.planning import no_gc

BATCH_FIRST = 8
BATCH_MAX = 1000


class DatumQueue:
    """Datums to run, put by the planner, taken by the workers (thread-safe)."""

    def __init__(self) -> None:
        self._todo: deque[Datum] = deque()
        self._changed = threading.Condition()
        self._closed = False

    def put(self, datums: list[Datum]) -> None:
        with self._changed:
            self._todo.extend(datums)
            self._changed.notify_all()

    def close(self) -> None:
        """No datum comes any more."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def take(self) -> Datum | None:
        """The next datum queued (None: none now)."""
        with self._changed:
            return self._todo.popleft() if self._todo else None

    def wait(self, timeout: float) -> None:
        """Until a datum is queued or the queue is closed (at most `timeout` seconds)."""
        with self._changed:
            if not self._todo and not self._closed:
                self._changed.wait(timeout)

    @property
    def exhausted(self) -> bool:
        """Closed, and every datum taken."""
        with self._changed:
            return self._closed and not self._todo

    @property
    def left(self) -> int:
        with self._changed:
            return len(self._todo)


class Planner:
    """Runs the plan on a thread, feeding `queue` (see the module docstring)."""

    def __init__(
        self,
        datums: Iterator[Datum],
        admit: Callable[[list[Datum]], list[Datum]],
        queue: DatumQueue,
        abort: Callable[[], bool],
        name: str = "plan",
    ) -> None:
        self._datums, self._admit, self._queue, self._abort = datums, admit, queue, abort
        self.error: Exception | None = None
        self.planned = 0
        self.queued = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            with no_gc():
                self._plan()
        except Exception as exc:  # noqa: BLE001 - the job says it: its runner raises it again
            self.error = exc
        finally:
            self._queue.close()

    def _plan(self) -> None:
        batch: list[Datum] = []
        size = BATCH_FIRST
        for datum in self._datums:
            batch.append(datum)
            if len(batch) >= size:
                if self._abort():
                    return
                self._send(batch)
                batch, size = [], min(size * 4, BATCH_MAX)
        if batch and not self._abort():
            self._send(batch)

    def _send(self, batch: list[Datum]) -> None:
        todo = self._admit(batch)
        self.planned += len(batch)
        self.queued += len(todo)
        if todo:
            self._queue.put(todo)
