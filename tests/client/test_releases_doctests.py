"""The release SDK's docstring examples (kaon.client.releases: update, rollback, promote,
versions, release, feedback of a named endpoint) run, in the order they are written, against
a real server of this module's own, with two models trained in workspace `demo`."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client, EndpointState
from kaon.client import releases as releases_module

from .examples import make_examples


def test_the_release_sdk_examples_run(
    own_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAON_HOME", str(tmp_path / "home"))
    tests = sorted(doctest.DocTestFinder().find(releases_module), key=lambda t: t.lineno or 0)
    examples = [t for t in tests if t.examples]
    assert len(examples) == 6
    with Client(own_server.url, own_server.token) as client:
        client.create_workspace("demo")
        job = client.train("demo", source="code", data="data", hyperparams={"k": [1, 2]})
        m1, m2 = (t.model_id for t in client.wait(job).trials)
        shared = {
            "client": client,
            "m1": m1,
            "m2": m2,
            "json": json,
            "EndpointState": EndpointState,
        }
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        for test in examples:
            test.globs = shared
            runner.run(test, out=report.append, clear_globs=False)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert results.attempted >= 15
