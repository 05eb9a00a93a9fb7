"""A search's trials as the job page shows them: one sorted page of the table (sorted by the
server from the query string, so a search of 1,000 trials is never sent whole as rows), the
best trial by the search's objective (kaon.client.trials), and the points the charts draw."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kaon.client.models import JobInfo, TrialInfo
from kaon.client.trials import (
    Objective,
    best,
    metric_names,
    objective,
    param_names,
    sorted_trials,
)

PAGE_SIZE = 50


@dataclass(frozen=True)
class SearchView:
    params: list[str]
    metrics: list[str]
    goal: Objective
    best: TrialInfo | None
    rows: list[TrialInfo]
    total: int
    page: int
    pages: int
    sort: str
    order: str
    chart: dict[str, Any]  # embedded as JSON for static/charts.js

    def sort_link(self, key: str) -> str:
        """The query string that sorts by `key` (flipping the order when it already does)."""
        order = "desc" if self.sort == key and self.order == "asc" else "asc"
        return self._query(sort=key, order=order)

    def page_link(self, number: int) -> str:
        return self._query(sort=self.sort, order=self.order, page=str(number))

    def _query(self, **values: str) -> str:
        if self.goal.metric:
            values["metric"] = self.goal.metric
        return "?" + urlencode(values) + "#trials"


def _plain(value: Any) -> Any:
    """A value the chart can draw: finite numbers and text; anything else as text."""
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value)
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    return value if isinstance(value, str) else str(value)


def _chart(
    job: JobInfo, params: list[str], goal: Objective, top: TrialInfo | None
) -> dict[str, Any]:
    points = [
        {
            "i": t.index,
            "p": [_plain(t.params.get(name)) for name in params],
            "m": _plain(t.metrics.get(goal.metric)) if goal.metric else None,
            "model": t.model_id or "",
        }
        for t in job.trials
    ]
    return {
        "params": params,
        "metric": goal.metric or "",
        "maximize": goal.maximize,
        "best": top.index if top else None,
        "points": [p for p in points if p["m"] is not None],
    }


def view(job: JobInfo, sort: str, order: str, page: int, metric: str) -> SearchView:
    metrics = metric_names(job.trials)
    goal = objective(job, metric if metric in metrics else None)
    params = param_names(job)
    top = best(job.trials, goal)
    order = "desc" if order == "desc" else "asc"
    ordered = sorted_trials(job.trials, sort, order == "desc")
    pages = max(1, math.ceil(len(ordered) / PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return SearchView(
        params=params,
        metrics=metrics,
        goal=goal,
        best=top,
        rows=rows,
        total=len(ordered),
        page=page,
        pages=pages,
        sort=sort,
        order=order,
        chart=_chart(job, params, goal, top),
    )
