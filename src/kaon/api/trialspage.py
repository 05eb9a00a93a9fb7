"""A page of a job's trials (GET /v1/jobs/{job}/trials): sorted, the best marked, points for
charts; the order and the best are kaon.core.trialorder's, as the SDK's."""

from __future__ import annotations

from typing import Any

from kaon.api.answers import trial_info
from kaon.core.jobs import Job, Trial
from kaon.core.trialorder import (
    best,
    choose_metric,
    metric_names,
    param_names,
    score,
    sort_key,
    sorted_trials,
)
from kaon.wire import TrialsPage


def _plain(value: Any) -> Any:
    """A parameter as a chart draws it: numbers and text (anything else as its text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return score(value)
    return str(value)


def trials_page(
    job: Job,
    trials: list[Trial],
    *,
    sort: str,
    order: str,
    offset: int,
    limit: int,
    metric: str | None,
    points: bool,
) -> TrialsPage:
    hyper = job.hyper
    space = hyper.space if hyper else None
    chosen = choose_metric(trials, hyper.objective if hyper else None, metric)
    maximize = not hyper or hyper.direction != "minimize"
    top = best(trials, chosen, maximize)
    key = sort_key(sort)
    ordered = sorted_trials(trials, key, order == "desc")
    params = param_names(space, trials)
    drawn: list[list[Any]] = []
    if points and chosen:
        for t in trials:
            value = score(t.metrics.get(chosen))
            if value is not None:
                drawn.append(
                    [t.index, value, t.model_id, *(_plain(t.params.get(p)) for p in params)]
                )
    return TrialsPage(
        job=job.id,
        total=len(trials),
        offset=offset,
        sort=key,
        order="desc" if order == "desc" else "asc",
        metric=chosen,
        maximize=maximize,
        metrics=metric_names(trials),
        params=params,
        best=trial_info(top) if top else None,
        trials=[trial_info(t) for t in ordered[offset : offset + limit]],
        points=drawn,
    )
