"""Cron inputs: a ticker that commits a file named by the tick's RFC 3339 time (UTC) to the
input's repo (`<pipeline>_<name>` unless the spec names one) on schedule; with `overwrite`,
the tick's file replaces the previous ones. The commit sets the pipeline off like any commit
(its id is the cascade's global id). `kaon run cron <pipeline>` ticks at once (`tick`).

Schedules: `@every <duration>` (Go durations: 90s, 10m, 1h30m), `@hourly`, `@daily`
(`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`) and 5-field cron expressions
(minute hour day-of-month month day-of-week; `*`, lists, ranges, `/steps`; names such as
`mon` and `jan`). Ticks missed while the platform was down are not replayed: the schedule
goes on from the start-up time.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kaon.core.address import Ref
from kaon.core.errors import InvalidInput, NotFound
from kaon.core.pipelines.records import PipelineState
from kaon.core.pipelines.spec import CombinedInput, CronInput, Input
from kaon.ports.pipelines import PipelineStore
from kaon.services.commits import CommitService, Put
from kaon.services.files import FileService

log = logging.getLogger("kaon")

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Schedule:
    """A parsed cron spec: `every` seconds, or the allowed values of the five fields."""

    text: str
    every: float | None = None
    fields: tuple[frozenset[int], ...] = ()
    any_dom: bool = True  # "*" day of month (cron ORs the two day fields when both are set)
    any_dow: bool = True

    def next_after(self, t: float) -> float:
        """The first tick strictly after `t` (seconds since the epoch)."""
        if self.every is not None:
            return t + self.every
        minute, hour, dom, month, dow = self.fields
        at = dt.datetime.fromtimestamp(t, dt.UTC).replace(second=0, microsecond=0)
        at += dt.timedelta(minutes=1)
        for _ in range(366 * 24 * 60 * 5):  # cron repeats within years; bounded regardless
            if at.month not in month:
                at = (at.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            day_ok = _day_matches(at, dom, dow, self.any_dom, self.any_dow)
            if not day_ok:
                at = at.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if at.hour not in hour:
                at = at.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if at.minute not in minute:
                at += dt.timedelta(minutes=1)
                continue
            return at.timestamp()
        raise InvalidInput(f"cron spec {self.text!r} never fires")


def _day_matches(
    at: dt.datetime, dom: frozenset[int], dow: frozenset[int], any_dom: bool, any_dow: bool
) -> bool:
    weekday = (at.weekday() + 1) % 7  # cron: 0 (and 7) = Sunday
    in_dom, in_dow = at.day in dom, weekday in dow or (weekday == 0 and 7 in dow)
    if not any_dom and not any_dow:
        return in_dom or in_dow
    return in_dom and in_dow


def parse_schedule(text: str) -> Schedule:
    spec = text.strip()
    if spec.startswith("@every"):
        rest = spec.removeprefix("@every").strip()
        parts = _DURATION.findall(rest)
        if not rest or "".join(n + u for n, u in parts) != rest:
            raise InvalidInput(
                f"cron spec {text!r}: '@every' takes a duration such as 30s, 10m or 1h30m"
            )
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
        if seconds <= 0:
            raise InvalidInput(f"cron spec {text!r}: the duration must be positive")
        return Schedule(text, every=seconds)
    spec = _MACROS.get(spec, spec)
    words = spec.split()
    if len(words) != 5:
        raise InvalidInput(
            f"cron spec {text!r}: expected 5 fields (minute hour day month weekday), "
            "'@every <duration>', '@hourly' or '@daily'"
        )
    fields = tuple(_field(text, i, w) for i, w in enumerate(words))
    return Schedule(text, None, fields, any_dom=words[2] == "*", any_dow=words[4] == "*")


def _field(text: str, index: int, word: str) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for part in word.lower().split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = _value(a, index), _value(b, index)
            else:
                start = _value(body, index)
                end = high if step_text else start
        except ValueError:
            raise InvalidInput(f"cron spec {text!r}: bad {name} field {word!r}") from None
        if not (low <= start <= end <= high) or step < 1:
            raise InvalidInput(
                f"cron spec {text!r}: {name} field {word!r} is out of range {low}-{high}"
            )
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(word: str, index: int) -> int:
    names = _NAMES.get(index, [])
    if word in names:
        return names.index(word) + (1 if index == 3 else 0)
    return int(word)


def cron_inputs(node: Input | None) -> list[CronInput]:
    if isinstance(node, CronInput):
        return [node]
    if isinstance(node, CombinedInput):
        return [c for sub in node.inputs for c in cron_inputs(sub)]
    return []


def first_tick(cron: CronInput, now: float) -> float:
    """The first tick after `now`, counted from the input's `start` (RFC 3339) when it has
    one in the future."""
    base = now
    if cron.start:
        try:
            start = dt.datetime.fromisoformat(cron.start.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"cron input {cron.name}: start {cron.start!r} is not RFC 3339"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        base = max(now, start.timestamp())
    return parse_schedule(cron.spec).next_after(base)


def tick_name(t: float) -> str:
    """The RFC 3339 name of a tick's file, e.g. "2026-12-06T12:00:00Z"."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CronTicker:
    """One daemon thread ticking every cron input of every running pipeline."""

    def __init__(
        self,
        store: PipelineStore,
        commits: CommitService,
        files: FileService,
        inputs_of: Callable[[str], list[CronInput]],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._commits = commits
        self._files = files
        self._inputs_of = inputs_of
        self._clock = clock
        self._due: dict[tuple[str, str], float] = {}  # (pipeline, input) → next tick
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pipeline-cron", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10.0)

    def changed(self) -> None:
        """A pipeline was created, updated, started, stopped or deleted: look again."""
        self._wake.set()

    def tick(self, pipeline: str, input_name: str | None = None) -> list[str]:
        """Tick the pipeline's cron inputs now; the commit ids."""
        crons = self._inputs_of(pipeline)
        if input_name is not None:
            crons = [c for c in crons if c.name == input_name]
        if not crons:
            raise InvalidInput(f"pipeline '{pipeline}' has no cron input to tick")
        return [self._commit(c, self._clock()) for c in crons]

    def _commit(self, cron: CronInput, t: float) -> str:
        deletes: list[str] = []
        if cron.overwrite:
            try:
                deletes = [f.path for f in self._files.list_files(cron.repo, Ref("master"), "/")]
            except NotFound:
                deletes = []
        name = "/" + tick_name(t)
        commit = self._commits.commit(
            cron.repo, "master", [Put(name, 0, ())], deletes, message=f"cron tick {name[1:]}"
        )
        return commit.id

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            wait = 60.0
            try:
                for pipeline in self._store.list_pipelines():
                    if pipeline.state is PipelineState.RUNNING:
                        for cron in self._crons(pipeline.name):
                            wait = min(wait, self._due_in(pipeline.name, cron, now))
            except Exception:  # a lost store, a bad spec: said, and the ticker goes on
                log.exception("pipeline cron ticker")
            self._wake.wait(max(0.05, wait))
            self._wake.clear()

    def _due_in(self, pipeline: str, cron: CronInput, now: float) -> float:
        """Tick `cron` if its time has come; the seconds until its next tick."""
        key = (pipeline, cron.name)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = first_tick(cron, now)
        if due <= now:
            try:
                self._commit(cron, due)
            except Exception:
                log.exception("cron tick of %s/%s failed", *key)
            due = self._due[key] = parse_schedule(cron.spec).next_after(now)
        return due - now

    def _crons(self, pipeline: str) -> list[CronInput]:
        try:
            return self._inputs_of(pipeline)
        except NotFound:  # deleted meanwhile
            return []
