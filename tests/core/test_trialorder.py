"""kaon.core.trialorder: the best trial by a search's objective, trials sorted as the UI asks."""

from __future__ import annotations

import math
from typing import Any

from kaon.client.models import TrialInfo
from kaon.core.jobs import JobState
from kaon.core.trialorder import best, choose_metric, metric_names, param_names, sorted_trials


def trial(index: int, metrics: dict[str, Any], **params: Any) -> TrialInfo:
    started = 100.0 + index
    return TrialInfo(
        index, params, JobState.SUCCESS, started, started + index, 0, None, None, None, metrics, ""
    )


def index(found: TrialInfo | None) -> int | None:
    return None if found is None else found.index


TRIALS = [
    trial(0, {"acc": 0.3, "loss": 2}, c=3, kernel="rbf"),
    trial(1, {"acc": 0.9, "loss": 1}, c=9, kernel="linear"),
    trial(2, {"acc": 0.9}, c=5, kernel="poly"),
    trial(3, {"acc": math.nan}, c=1, kernel="rbf"),
    trial(4, {}, c=2, kernel="rbf"),
]


def test_best_follows_the_objective_and_direction_first_of_equals() -> None:
    assert choose_metric(TRIALS, None) == "acc"  # a grid: the first metric reported
    assert index(best(TRIALS, "acc")) == 1  # 0.9 twice: the first
    assert choose_metric(TRIALS, "loss") == "loss"  # the search's objective
    assert choose_metric(TRIALS, "loss", asked="acc") == "acc"
    assert choose_metric(TRIALS, "loss", asked="nope") == "loss"  # not reported: ignored
    assert index(best(TRIALS, "loss", maximize=False)) == 1
    assert index(best(TRIALS, "acc", maximize=False)) == 0  # NaN and missing never win


def test_no_metric_no_best() -> None:
    empty = [trial(0, {}), trial(1, {"acc": "n/a"})]
    assert best(empty, choose_metric([trial(0, {})], None)) is None
    assert best(empty, "acc") is None  # text is not a score


def test_names_come_from_the_space_else_the_trials() -> None:
    assert metric_names(TRIALS) == ["acc", "loss"]
    assert param_names({"kernel": [], "c": []}, TRIALS) == ["kernel", "c"]
    assert param_names(None, TRIALS) == ["c", "kernel"]


def order(key: str, descending: bool = False) -> list[int]:
    return [t.index for t in sorted_trials(TRIALS, key, descending)]


def test_sorting_puts_missing_values_last_either_way() -> None:
    assert order("metric:acc") == [0, 1, 2, 3, 4]  # NaN and missing last, ties in trial order
    assert order("metric:acc", descending=True) == [1, 2, 0, 3, 4]
    assert order("metric:loss", descending=True) == [0, 1, 2, 3, 4]
    assert order("param:c") == [3, 4, 0, 2, 1]
    assert order("param:kernel") == [1, 2, 0, 3, 4]
    assert order("param:kernel", descending=True) == [0, 3, 4, 2, 1]
    assert order("duration", descending=True) == [4, 3, 2, 1, 0]
    assert order("index", descending=True) == [4, 3, 2, 1, 0]
    assert order("no-such-key") == [0, 1, 2, 3, 4]  # an unknown key: trial order
