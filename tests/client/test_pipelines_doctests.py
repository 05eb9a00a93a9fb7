"""The pipeline SDK's docstring examples (kaon.client.pipelines) run, in the order they are
written, against a real server of this module's own, from a folder holding `specs.yaml` and
its code (tests/client/pipeline_examples.py) after two files were put to repo `raw`."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest

from kaon.client import Client
from kaon.client import pipelines as pipelines_module

from .pipeline_examples import make_pipeline_examples, needs_pipelines

pytestmark = pytest.mark.skipif(needs_pipelines() is not None, reason=str(needs_pipelines()))


def test_the_pipeline_sdk_examples_run(
    own_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pipeline_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAON_HOME", str(tmp_path / "home"))
    tests = sorted(doctest.DocTestFinder().find(pipelines_module), key=lambda t: t.lineno or 0)
    examples = [t for t in tests if t.examples]
    assert len(examples) >= 7
    with Client(own_server.url, own_server.token) as client:
        client.create_repo("raw")
        for name in ("a.txt", "b.txt"):
            (tmp_path / name).write_text(name)
            client.put(f"raw@master:/{name}", tmp_path / name)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        report: list[str] = []
        shared = {"client": client}
        for test in examples:
            test.globs = shared
            runner.run(test, out=report.append, clear_globs=False)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(report)
    assert results.attempted >= 9
