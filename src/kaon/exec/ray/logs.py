"""Lines, events and cancel flags between the server and its tasks on Ray: one `Mailbox`
actor per executor (no CPU of its own), one box per run.

The worker's `Sender` batches the lines a task prints and pushes them every `FLUSH_SECONDS`
(and at the end), in order with its other events (a batch's "want a datum", "delivered",
"finished": pushed at once); each push answers whether the server asked the run to stop, which
sets the run's local cancel event (the local executor then stops the process tree as it does
on this machine). The server pulls a run's events while it waits for the task (every line
reaches its log sink while the task runs, in order) and answers a batch's requests with
`reply` (the worker polls `take_reply`).
"""

from __future__ import annotations

import threading
from typing import Any

import ray

FLUSH_SECONDS = 0.1
LINE = "line"  # ("line", datum key or "", text)
Event = tuple[Any, ...]  # (kind, ...): LINE, or a batch's (kaon.exec.ray.batch)


class Mailbox:
    """The actor's state: lines waiting per run, and the runs asked to stop."""

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._stop: set[str] = set()
        self._replies: dict[str, Any] = {}

    def push(self, run: str, events: list[Event]) -> bool:
        """Queue `events` of `run`; whether `run` was asked to stop."""
        if events:
            self._events.setdefault(run, []).extend(events)
        return run in self._stop

    def pull(self, run: str) -> list[Event]:
        return self._events.pop(run, [])

    def stop(self, run: str) -> None:
        self._stop.add(run)

    def reply(self, run: str, value: Any) -> None:
        self._replies[run] = value

    def take_reply(self, run: str) -> tuple[bool, Any]:
        """(True, the server's answer) once there is one, else (False, None)."""
        if run not in self._replies:
            return False, None
        return True, self._replies.pop(run)

    def forget(self, run: str) -> list[Event]:
        """The last events of `run`; nothing is kept for it afterwards."""
        self._stop.discard(run)
        self._replies.pop(run, None)
        return self._events.pop(run, [])


MailboxActor = ray.remote(num_cpus=0, max_restarts=-1)(Mailbox)
_shared: tuple[str, Any] | None = None
_shared_lock = threading.Lock()


def shared_mailbox(address: str) -> Any:
    """This process' one Mailbox actor on the cluster of `address` (made at first use; an
    actor costs a worker process, so every executor of the process shares it: runs have
    their own ids)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != address:
            _shared = (address, MailboxActor.remote())
        return _shared[1]


class Sender:
    """Worker side: `line` is the task's log sink; `cancel` is set when the server stops the
    run. `close()` flushes the rest (before the task returns: the server reads its last
    lines after the result)."""

    def __init__(self, mailbox: Any, run: str) -> None:
        self._mailbox = mailbox
        self._run = run
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._sending = threading.Lock()  # one push at a time: events stay in order
        self._done = threading.Event()
        self.cancel = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"send-{run}", daemon=True)
        self._thread.start()

    def line(self, text: str, datum: str = "") -> None:
        with self._lock:
            self._events.append((LINE, datum, text))

    def event(self, *event: Any) -> None:
        """Push `event` now, after the lines printed before it."""
        with self._lock:
            self._events.append(event)
        self._flush()

    def _flush(self) -> None:
        with self._sending:
            with self._lock:
                events, self._events = self._events, []
            if ray.get(self._mailbox.push.remote(self._run, events)):
                self.cancel.set()

    def _loop(self) -> None:
        while not self._done.wait(FLUSH_SECONDS):
            try:
                self._flush()
            except Exception:  # noqa: BLE001 (the server is gone: the task ends with it)
                self.cancel.set()
                return

    def close(self) -> None:
        self._done.set()
        self._thread.join()
        self._flush()
