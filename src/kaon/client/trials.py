"""The trials of a search: which is best, in what order to list them.

"Best" is the search's own rule (kaon.services.search.OptunaSearch): the job's objective
metric (`--objective`) in its direction (`--direction`, maximize unless told), counting only
trials that report it as a finite number; the first of equals wins (as `max` does). A grid
search has no objective: the caller names the metric (the UI's chooser), else the first
metric the trials report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kaon.client.models import JobInfo, TrialInfo

SORT_KEYS = ("index", "state", "started", "duration")
"""Trial fields to sort on, besides `param:<name>` and `metric:<name>`."""


@dataclass(frozen=True)
class Objective:
    """The metric a search is judged on, and whether more is better."""

    metric: str | None
    maximize: bool = True


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def metric_names(trials: list[TrialInfo]) -> list[str]:
    """Every metric any trial reports, in the order they first appear."""
    seen: dict[str, None] = {}
    for trial in trials:
        seen.update(dict.fromkeys(trial.metrics))
    return list(seen)


def param_names(job: JobInfo) -> list[str]:
    """The hyperparameters of a search (its space's keys), else those the trials carry."""
    if job.hyper and isinstance(job.hyper.get("space"), dict):
        return list(job.hyper["space"])
    seen: dict[str, None] = {}
    for trial in job.trials:
        seen.update(dict.fromkeys(trial.params))
    return list(seen)


def objective(job: JobInfo, metric: str | None = None) -> Objective:
    """The job's objective and direction; `metric` (given) replaces a grid's missing one."""
    hyper = job.hyper or {}
    maximize = hyper.get("direction", "maximize") != "minimize"
    chosen = metric or hyper.get("objective")
    if not chosen:
        names = metric_names(job.trials)
        chosen = names[0] if names else None
    return Objective(chosen, maximize)


def best(trials: list[TrialInfo], goal: Objective) -> TrialInfo | None:
    """The trial with the best finite value of the objective (the first of equals)."""
    if goal.metric is None:
        return None
    found: TrialInfo | None = None
    found_value = 0.0
    for trial in trials:
        value = _number(trial.metrics.get(goal.metric))
        if value is None:
            continue
        if found is None or (value > found_value if goal.maximize else value < found_value):
            found, found_value = trial, value
    return found


def duration(trial: TrialInfo) -> float | None:
    if trial.started is None or trial.finished is None:
        return None
    return trial.finished - trial.started


def _sort_value(trial: TrialInfo, key: str) -> Any:
    if key.startswith("param:"):
        return trial.params.get(key[6:])
    if key.startswith("metric:"):
        return trial.metrics.get(key[7:])
    if key == "duration":
        return duration(trial)
    if key == "state":
        return str(trial.state)
    return getattr(trial, key)


def sorted_trials(trials: list[TrialInfo], key: str, descending: bool = False) -> list[TrialInfo]:
    """`trials` ordered by `key` (SORT_KEYS, `param:<name>`, `metric:<name>`); trials without
    a value go last either way; numbers before text; ties keep the trial order."""
    if key not in SORT_KEYS and not key.startswith(("param:", "metric:")):
        key = "index"

    def rank(trial: TrialInfo) -> tuple[int, float, str]:
        value = _sort_value(trial, key)
        number = _number(value)
        if number is not None:
            return (0, -number if descending else number, "")
        if value is None or isinstance(value, float):  # missing, NaN or infinite
            return (2, 0.0, "")
        return (1, 0.0, str(value))

    ordered = sorted(trials, key=rank)
    if descending:  # text descending too, keeping the missing ones last
        texts = [t for t in ordered if rank(t)[0] == 1]
        texts.sort(key=lambda t: rank(t)[2], reverse=True)
        ordered = (
            [t for t in ordered if rank(t)[0] == 0]
            + texts
            + [t for t in ordered if rank(t)[0] == 2]
        )
    return ordered
