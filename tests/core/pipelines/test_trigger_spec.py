"""`input.pfs.trigger` (Pachyderm 2.x): read and checked, kept in the canonical document."""

from __future__ import annotations

from typing import Any

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.pipelines.parse import parse_spec, spec_doc
from kaon.core.pipelines.spec import PfsInput, Trigger


def doc(trigger: Any, branch: str = "petset") -> dict[str, Any]:
    return {
        "pipeline": {"name": "retrain"},
        "input": {
            "pfs": {"repo": "ws-feedback", "branch": branch, "glob": "/", "trigger": trigger}
        },
        "transform": {"cmd": ["python3", "retrain.py"]},
    }


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ({"commits": 3}, Trigger(commits=3)),
        ({"size": "1MB"}, Trigger(size=1024 * 1024)),
        ({"size": "1.5K"}, Trigger(size=1536)),
        ({"size": 500}, Trigger(size=500)),
        ({"size": "2Gi", "commits": 10, "all": True}, Trigger(10, 2 * 1024**3, True)),
        ({"commits": 2, "branch": "petset"}, Trigger(commits=2)),
    ],
)
def test_a_trigger_is_read_not_ignored(trigger: dict[str, Any], expected: Trigger) -> None:
    spec, warnings = parse_spec(doc(trigger), "r.yaml")
    assert isinstance(spec.input, PfsInput) and spec.input.trigger == expected
    assert warnings == [] and spec.ignored == ()
    again, _ = parse_spec(spec_doc(spec), "r.yaml")
    assert again == spec


def test_no_trigger_leaves_the_canonical_document_as_it_was() -> None:
    plain = doc({"commits": 1})
    del plain["input"]["pfs"]["trigger"]
    spec, _ = parse_spec(plain, "r.yaml")
    assert "trigger" not in spec_doc(spec)["input"]["pfs"]


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({}, "give commits"),
        ({"commits": 0}, "commits: expected a whole number ≥ 1"),
        ({"commits": "3"}, "commits: expected a whole number"),
        ({"size": "lots"}, 'size: expected a size such as "1MB"'),
        ({"size": 0}, "size: expected a size"),
        ({"cron_spec": "@every 1h"}, "cron_spec: not supported here"),
        ({"commits": 1, "rate_limit_spec": "@every 1m"}, "rate_limit_spec: not supported"),
        ({"commits": 1, "branch": "master"}, "counts the commits of the input's own branch"),
        ({"commit": 1}, "did you mean 'commits'"),
        ({"commits": 1, "all": "yes"}, "all: expected true or false"),
    ],
)
def test_bad_triggers_are_refused_saying_where(trigger: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_spec(doc(trigger), "r.yaml")
    text = str(caught.value)
    assert text.startswith("r.yaml (pipeline 'retrain'): input.pfs.trigger"), text
    assert message in text
