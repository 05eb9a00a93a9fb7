"""Hyperparameter spaces: parse, fingerprint, expand to grid points or random samples.

A space is a JSON object. A list is a set of choices (kaos: `{"degree": [3, 5]}`); with the
random and optuna searches an object `{"low": 0.001, "high": 1, "log": true}` is a range
(`"int": true` for integers). A scalar is a fixed value.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any

import blake3

from kaon.core.errors import InvalidInput
from kaon.core.jobs import Hyper, canonical_json

SEARCHES = ("grid", "random", "optuna")
MAX_GRID = 10_000
DIRECTIONS = ("maximize", "minimize")


def parse_space(text: str, where: str = "hyperparameters") -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(doc, dict) or not doc:
        raise InvalidInput(
            f"{where}: expected a non-empty JSON object of parameter -> list of values, "
            'e.g. {"degree": [3, 5], "kernel": ["linear", "poly"]}'
        )
    return doc


def _is_range(value: Any) -> bool:
    return isinstance(value, dict) and "low" in value and "high" in value


def _check_range(name: str, spec: dict[str, Any]) -> None:
    low, high = spec["low"], spec["high"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise InvalidInput(f"hyperparameter {name!r}: low and high must be numbers")
    if low >= high:
        raise InvalidInput(f"hyperparameter {name!r}: low must be below high")
    if spec.get("log") and low <= 0:
        raise InvalidInput(f"hyperparameter {name!r}: a log range needs low > 0")


def make_hyper(
    space: dict[str, Any],
    search: str = "grid",
    trials: int | None = None,
    objective: str | None = None,
    direction: str = "maximize",
) -> Hyper:
    """Validate a space and its search settings; the digest names the whole search."""
    if search not in SEARCHES:
        raise InvalidInput(f"unknown search {search!r}: use one of {', '.join(SEARCHES)}")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"unknown direction {direction!r}: use maximize or minimize")
    for name, value in space.items():
        if isinstance(value, list) and not value:
            raise InvalidInput(f"hyperparameter {name!r}: the list of values is empty")
        if _is_range(value):
            if search == "grid":
                raise InvalidInput(
                    f"hyperparameter {name!r}: a range needs --search random or optuna; "
                    "a grid takes lists of values"
                )
            _check_range(name, value)
    if search == "grid":
        size = math.prod(len(v) if isinstance(v, list) else 1 for v in space.values())
        if size > MAX_GRID:
            raise InvalidInput(
                f"the grid has {size} points (limit {MAX_GRID}): use --search random"
            )
        count = size
    else:
        if not trials or trials < 1:
            raise InvalidInput(f"--search {search} needs --trials N (N >= 1)")
        count = trials
    if search == "optuna" and not objective:
        raise InvalidInput("--search optuna needs --objective <metric> (e.g. accuracy_test)")
    settings = {"space": space, "search": search, "trials": count}
    if search != "grid":
        settings |= {"objective": objective, "direction": direction}
    digest = blake3.blake3(canonical_json(settings).encode()).hexdigest()
    return Hyper(space, search, count, objective, direction, digest)


def grid(space: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination, in the space's key order (kaos' itertools.product)."""
    names = list(space)
    choices = [v if isinstance(v, list) else [v] for v in space.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def sample(space: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in space.items():
        if isinstance(value, list):
            out[name] = value[rng.randrange(len(value))]
        elif _is_range(value):
            low, high = value["low"], value["high"]
            if value.get("log"):
                x = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                x = rng.uniform(low, high)
            out[name] = round(x) if value.get("int") else x
        else:
            out[name] = value
    return out


def random_points(hyper: Hyper, seed: int = 0) -> list[dict[str, Any]]:
    """`hyper.trials` samples, reproducible from the hyper digest and `seed`."""
    rng = random.Random(f"{hyper.digest}:{seed}")
    return [sample(hyper.space, rng) for _ in range(hyper.trials)]
