"""Reproducibility: every output file of two runs of a job (the original and
`Client.reproduce`'s), compared by content hash, trial by trial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputComparison:
    """One output file of one trial: its hash in each run ("-" when missing there)."""

    trial: int
    file: str
    original: str
    reproduced: str
    result: str  # identical, different, missing

    @property
    def identical(self) -> bool:
        return self.result == "identical"


def compare_outputs(before: dict[str, Any], after: dict[str, Any]) -> list[OutputComparison]:
    """Rows for the outputs of two jobs (`Client.job_outputs`), by trial then file name."""
    rows: list[OutputComparison] = []
    later = {t["index"]: t for t in after["trials"]}
    for trial in before["trials"]:
        new = later.get(trial["index"], {"files": {}})
        for name in sorted(set(trial["files"]) | set(new["files"])):
            a, b = trial["files"].get(name, ""), new["files"].get(name, "")
            result = "identical" if a and a == b else "missing" if not (a and b) else "different"
            rows.append(OutputComparison(trial["index"], name, a or "-", b or "-", result))
    return rows
