"""The SDK's docstring examples run, in the order they are written (later ones use what
earlier ones made), against a real server of this module's own, from a folder holding the
example bundles (tests/client/examples.py)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client, EndpointState, JobState
from kaon.client import client as client_module

from .examples import make_examples


def test_the_sdk_examples_run(
    own_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAON_HOME", str(tmp_path / "home"))  # the stat cache of this test
    tests = sorted(doctest.DocTestFinder().find(client_module), key=lambda t: t.lineno or 0)
    examples = [t for t in tests if t.examples]
    assert len(examples) >= 7  # put, get, read, train, serve, wait, logs
    with Client(own_server.url, own_server.token) as client:
        client.create_workspace("demo")
        shared = {
            "client": client,
            "Path": Path,
            "json": json,
            "JobState": JobState,
            "EndpointState": EndpointState,
        }
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        for test in examples:
            test.globs = shared  # one namespace: the train example's job is served later
            runner.run(test, out=report.append, clear_globs=False)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert results.attempted >= 20
