"""A job's trials as its page shows them: one page of the table, sorted by the API from the
query string (`Client.job_trials`: a search of 1,000 trials is never sent whole as rows),
the best trial by the search's objective, and the points the charts draw."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kaon.client import Client
from kaon.client.models import TrialInfo, TrialsPage

PAGE_SIZE = 50


@dataclass(frozen=True)
class SearchView:
    found: TrialsPage
    page: int
    pages: int
    chart: dict[str, Any]  # embedded as JSON for static/charts.js

    @property
    def rows(self) -> list[TrialInfo]:
        return self.found.trials

    @property
    def best(self) -> TrialInfo | None:
        return self.found.best

    def sort_link(self, key: str) -> str:
        """The query string that sorts by `key` (flipping the order when it already does)."""
        order = "desc" if self.found.sort == key and self.found.order == "asc" else "asc"
        return self._query(sort=key, order=order)

    def page_link(self, number: int) -> str:
        return self._query(sort=self.found.sort, order=self.found.order, page=str(number))

    def _query(self, **values: str) -> str:
        if self.found.metric:
            values["metric"] = self.found.metric
        return "?" + urlencode(values) + "#trials"


def _chart(found: TrialsPage) -> dict[str, Any]:
    return {
        "params": found.params,
        "metric": found.metric or "",
        "maximize": found.maximize,
        "best": found.best.index if found.best else None,
        "points": [{"i": p[0], "m": p[1], "model": p[2] or "", "p": p[3:]} for p in found.points],
    }


def view(client: Client, job: str, sort: str, order: str, page: int, metric: str) -> SearchView:
    """The trials of `job` on table page `page` (from 1), with the charts' points."""

    def fetch(number: int) -> TrialsPage:
        return client.job_trials(
            job,
            sort=sort,
            descending=order == "desc",
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            metric=metric or None,
            points=True,
        )

    page = max(1, page)
    found = fetch(page)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    if page > pages:  # a link past the end: the last page
        page = pages
        found = fetch(page)
    return SearchView(found=found, page=page, pages=pages, chart=_chart(found))
