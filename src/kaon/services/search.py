"""Model-based hyperparameter search with Optuna (TPE), driven trial by trial (ask/tell)."""

from __future__ import annotations

import math
from typing import Any

from kaon.core.errors import InvalidInput
from kaon.core.jobs import Hyper, canonical_json


class OptunaSearch:
    def __init__(self, hyper: Hyper, seed: int = 0) -> None:
        import optuna  # ~0.5 s: only for jobs that use it

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if not hyper.objective:
            raise InvalidInput("--search optuna needs --objective <metric>")
        self._hyper = hyper
        self._objective = hyper.objective
        self._study = optuna.create_study(
            direction="minimize" if hyper.direction == "minimize" else "maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        self._open: dict[str, Any] = {}  # canonical params -> optuna trial

    def ask(self) -> dict[str, Any]:
        trial = self._study.ask()
        params: dict[str, Any] = {}
        for name, value in self._hyper.space.items():
            if isinstance(value, list):
                params[name] = trial.suggest_categorical(name, value)
            elif isinstance(value, dict) and "low" in value and "high" in value:
                if value.get("int"):
                    params[name] = trial.suggest_int(
                        name, int(value["low"]), int(value["high"]), log=bool(value.get("log"))
                    )
                else:
                    params[name] = trial.suggest_float(
                        name, float(value["low"]), float(value["high"]), log=bool(value.get("log"))
                    )
            else:
                params[name] = value
        self._open[canonical_json(params) + f"#{trial.number}"] = trial
        return params

    def tell(self, params: dict[str, Any], metrics: dict[str, Any] | None) -> None:
        """Report a finished trial: its metrics, or None when it failed."""
        prefix = canonical_json(params) + "#"
        key = next((k for k in self._open if k.startswith(prefix)), None)
        if key is None:
            return
        trial = self._open.pop(key)
        import optuna

        value = (metrics or {}).get(self._objective)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            self._study.tell(trial, float(value))
        else:
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
