"""The README's Python SDK example runs as written, against a real server of its own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .examples import make_examples

README = Path(__file__).parents[2] / "README.md"


def sdk_example() -> str:
    text = README.read_text()
    section = text.split("## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the README's Python SDK section holds one python block"
    return str(blocks[0])


def test_the_readme_sdk_example_runs(
    own_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    for name in ("KAON_WORKSPACE",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAON_ENDPOINT", own_server.url)
    monkeypatch.setenv("KAON_TOKEN", own_server.token)
    exec(compile(sdk_example(), str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert (tmp_path / "tables" / "cat.csv").read_text() == "name\ntom\n"
    assert "b'name\\ntom\\n'" in out
    assert "{'lr': 0.01}" in out  # the best trial: the same accuracy, the smaller lr
    assert "lr=0.1" in out and "lr=0.01" in out  # the job's log
    assert "200 b'" in out and "[1,2]" in out.replace(" ", "")
