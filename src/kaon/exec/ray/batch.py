"""Datum batching on Ray (Executor.run_batch): the long-lived process runs on a worker, by the
local backend's Batch; its DatumFeed stays here, on the server, and is served through the
run's mailbox (kaon.exec.ray.logs).

The worker's feed asks for the next datum ("want"); the server answers with it (its key,
inputs, variables and the manifests of trees the worker has not got yet) or None. The datum's
outputs come back as a tar ("delivered") and its end as "finished", in order with its lines,
and go to the datum's own sink and the feed here. A datum handed out whose end never came
back (the worker was lost) is delivered empty and finished as failed, so every datum handed
out is delivered and reported exactly once.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import ray
import ray.exceptions

from kaon.exec.ray.logs import LINE, Event, Sender
from kaon.exec.ray.remote import TarSink
from kaon.exec.ray.worker import NodeSpec, node
from kaon.ports.content import Manifest, TreeRef
from kaon.ports.envbuilder import LogSink
from kaon.ports.executor import BatchDatum, DatumFeed, Input, RunResult, Task

if TYPE_CHECKING:
    from kaon.exec.ray.executor import RayExecutor

WANT, DELIVERED, FINISHED = "want", "delivered", "finished"
ASK_SECONDS = 0.02  # how often the worker looks for the server's answer


@dataclass(frozen=True)
class DatumOrder:
    """A datum as sent to the worker."""

    key: str
    inputs: dict[str, Input]
    env: dict[str, str]
    manifests: dict[TreeRef, Manifest] = field(default_factory=dict)


# -- the worker's side ---------------------------------------------------------------------


class _Sink:
    def __init__(self, sender: Sender, key: str) -> None:
        self._sender, self._key = sender, key

    def deliver(self, folder: Path, result: RunResult) -> None:
        tar = TarSink()
        tar.deliver(folder, result)
        self._sender.event(DELIVERED, self._key, tar.data, result)


class _RemoteFeed:
    def __init__(self, sender: Sender, mailbox: Any, run: str, add: Any) -> None:
        self._sender, self._mailbox, self._run, self._add = sender, mailbox, run, add

    def next_datum(self) -> BatchDatum | None:
        self._sender.event(WANT)
        while True:
            has, order = ray.get(self._mailbox.take_reply.remote(self._run))
            if has:
                break
            if self._sender.cancel.is_set():
                return None
            time.sleep(ASK_SECONDS)
        if order is None:
            return None
        self._add(order.manifests)
        return BatchDatum(
            order.key,
            order.inputs,
            _Sink(self._sender, order.key),
            env=order.env,
            log=lambda line: self._sender.line(line, order.key),
        )

    def finished(self, datum: BatchDatum, result: RunResult) -> None:
        self._sender.event(FINISHED, datum.key, result)


def _batch(
    spec: NodeSpec,
    task: Task,
    manifests: dict[TreeRef, Manifest],
    kept: frozenset[TreeRef],
    run: str,
    mailbox: Any,
) -> RunResult:
    here = node(spec)
    sender = Sender(mailbox, run)
    try:
        with here.content(manifests, kept) as add:
            feed = _RemoteFeed(sender, mailbox, run, add)
            return here.executor.run_batch(task, feed, sender.line, sender.cancel)
    finally:
        sender.close()


batch_task = ray.remote(max_retries=0)(_batch)


# -- the server's side ---------------------------------------------------------------------


class _Served:
    """The feed as the server serves it: datums handed out and not yet finished."""

    def __init__(
        self, ex: RayExecutor, feed: DatumFeed, log: LogSink, cancel: threading.Event, run: str
    ) -> None:
        self.ex, self.feed, self.log, self.cancel, self.run = ex, feed, log, cancel, run
        self.out: dict[str, BatchDatum] = {}
        self.delivered: set[str] = set()
        self.sent: set[TreeRef] = set()

    def handle(self, event: Event) -> None:
        kind = event[0]
        if kind == LINE:
            datum = self.out.get(event[1]) if event[1] else None
            (datum.log if datum is not None and datum.log is not None else self.log)(event[2])
        elif kind == WANT:
            self.ex._mailbox.reply.remote(self.run, self._next())
        elif kind == DELIVERED:
            self.ex._deliver(self.out[event[1]].outputs, event[2], event[3])
            self.delivered.add(event[1])
        elif kind == FINISHED:
            datum = self.out.pop(event[1])
            self.feed.finished(datum, event[2])

    def _next(self) -> DatumOrder | None:
        datum = None if self.cancel.is_set() else self.feed.next_datum()
        if datum is None:
            return None
        self.out[datum.key] = datum
        trees = [given.tree for given in datum.inputs.values() if given.tree not in self.sent]
        manifests = self.ex._resolve(trees)
        self.sent |= set(manifests)
        return DatumOrder(datum.key, dict(datum.inputs), dict(datum.env), manifests)

    def abandon(self, result: RunResult) -> None:
        """The datums handed out whose end never came back: failed with `result`."""
        for key, datum in list(self.out.items()):
            if key not in self.delivered:
                self.ex._deliver(datum.outputs, b"", result)
            self.feed.finished(datum, result)
        self.out.clear()


def run_batch(
    ex: RayExecutor, task: Task, feed: DatumFeed, log: LogSink, cancel: threading.Event
) -> RunResult:
    options = ex._checked(task)
    manifests = ex._resolve([given.tree for given in task.inputs.values()])
    run = secrets.token_hex(8)
    served = _Served(ex, feed, log, cancel, run)
    served.sent = set(manifests)
    start = time.monotonic()
    ref = batch_task.options(**options).remote(
        ex._node, task, manifests, ex._kept_of(manifests), run, ex._mailbox
    )
    try:
        result = cast(RunResult, ex._follow(ref, run, served.handle, cancel))
    except ray.exceptions.TaskCancelledError:
        log("cancelled: the Ray task was killed")
        result = RunResult(None, False, True, time.monotonic() - start)
    except ex.lost as exc:
        log(f"the Ray worker running this batch was lost: {ex.reason(exc)}")
        result = RunResult(None, False, cancel.is_set(), time.monotonic() - start)
    served.abandon(result)
    return result
