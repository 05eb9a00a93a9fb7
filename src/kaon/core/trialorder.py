"""The trials of a search: which is best, in what order to list them (pure; the API's trials
page and the SDK use it on their own trial types: anything with index, params, metrics,
state, started and finished).

"Best" is the search's own rule (kaon.services.search.OptunaSearch): the objective metric
(`--objective`) in its direction (`--direction`, maximize unless told), counting only trials
that report it as a finite number; the first of equals wins (as `max` does). A grid search
has no objective: the caller names the metric, else the first metric the trials report.
Sorting by a metric agrees with `kaon train info -s`: the trials without a score go last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

SORT_KEYS = ("index", "state", "started", "duration")
"""Trial fields to sort on, besides `param:<name>` and `metric:<name>`."""


class TrialLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def metrics(self) -> dict[str, Any]: ...
    @property
    def state(self) -> Any: ...
    @property
    def started(self) -> float | None: ...
    @property
    def finished(self) -> float | None: ...


T = TypeVar("T", bound=TrialLike)


def score(value: Any) -> float | None:
    """A metric's value as a score: finite numbers only (not booleans, text, NaN)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def metric_names(trials: Sequence[TrialLike]) -> list[str]:
    """Every metric any trial reports, in the order they first appear."""
    seen: dict[str, None] = {}
    for trial in trials:
        seen.update(dict.fromkeys(trial.metrics))
    return list(seen)


def param_names(space: dict[str, Any] | None, trials: Sequence[TrialLike]) -> list[str]:
    """The hyperparameters of a search (its space's keys), else those the trials carry."""
    if space:
        return list(space)
    seen: dict[str, None] = {}
    for trial in trials:
        seen.update(dict.fromkeys(trial.params))
    return list(seen)


def choose_metric(
    trials: Sequence[TrialLike], objective: str | None, asked: str | None = None
) -> str | None:
    """The metric the best is judged on: `asked` when a trial reports it, else the search's
    objective, else the first metric reported."""
    names = metric_names(trials)
    if asked and asked in names:
        return asked
    if objective:
        return objective
    return names[0] if names else None


def best(trials: Sequence[T], metric: str | None, maximize: bool = True) -> T | None:
    """The trial with the best finite value of `metric` (the first of equals)."""
    if metric is None:
        return None
    found: T | None = None
    found_value = 0.0
    for trial in trials:
        value = score(trial.metrics.get(metric))
        if value is None:
            continue
        if found is None or (value > found_value if maximize else value < found_value):
            found, found_value = trial, value
    return found


def duration(trial: TrialLike) -> float | None:
    if trial.started is None or trial.finished is None:
        return None
    return trial.finished - trial.started


def _value(trial: TrialLike, key: str) -> Any:
    if key.startswith("param:"):
        return trial.params.get(key[6:])
    if key.startswith("metric:"):
        return trial.metrics.get(key[7:])
    if key == "duration":
        return duration(trial)
    if key == "state":
        return str(getattr(trial.state, "value", trial.state))
    return getattr(trial, key)


def sort_key(key: str) -> str:
    """`key` when trials can be sorted by it, else "index"."""
    return key if key in SORT_KEYS or key.startswith(("param:", "metric:")) else "index"


def sorted_trials(trials: Sequence[T], key: str, descending: bool = False) -> list[T]:
    """`trials` ordered by `key` (SORT_KEYS, `param:<name>`, `metric:<name>`; another key:
    by index): numbers before text, trials without a value last either way, ties in trial
    order."""
    key = sort_key(key)
    numbers: list[tuple[float, T]] = []
    texts: list[tuple[str, T]] = []
    missing: list[T] = []
    for trial in trials:
        value = _value(trial, key)
        number = score(value)
        if number is not None:
            numbers.append((number, trial))
        elif value is None or isinstance(value, float):  # missing, NaN or infinite
            missing.append(trial)
        else:
            texts.append((str(value), trial))
    numbers.sort(key=lambda p: p[0], reverse=descending)  # stable either way
    texts.sort(key=lambda p: p[0], reverse=descending)
    return [t for _, t in numbers] + [t for _, t in texts] + missing
