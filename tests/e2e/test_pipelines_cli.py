"""The pipeline commands' own behaviour through the real CLI: help that teaches, and bad input
refused with one `Error:` line and the documented exit code before any server is asked (the
CLI here points at a port nothing listens on: asking it would exit 3, not 2). The flows
against a running platform: tests/e2e/test_pipelines.py and test_pipelines_cli_live.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import Kaon, free_port

pytestmark = pytest.mark.e2e

INVALID = 2

COMMANDS = [
    ["create", "pipeline"],
    ["update", "pipeline"],
    ["list", "pipeline"],
    ["inspect", "pipeline"],
    ["delete", "pipeline"],
    ["stop", "pipeline"],
    ["start", "pipeline"],
    ["run", "pipeline"],
    ["run", "cron"],
    ["list", "job"],
    ["inspect", "job"],
    ["stop", "job"],
    ["list", "datum"],
    ["restart", "datum"],
    ["logs"],
    ["wait", "commit"],
]


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Kaon:
    k = Kaon(tmp_path_factory.mktemp("pipelines-cli"))
    k.env["KAON_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    k.env["KAON_TOKEN"] = "no-server-here-0123456789"
    return k


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_pipeline_command_teaches_with_examples(offline: Kaon, command: list[str]) -> None:
    out = offline.ok(*command, "--help")
    assert "Example" in out
    assert f"kaon {' '.join(command)}" in out.split("Example", 1)[1]


def test_the_groups_name_pipelines(offline: Kaon) -> None:
    assert "pipeline" in offline.ok("list", "--help")
    assert "job" in offline.ok("list", "--help")
    assert "logs" in offline.ok("--help")
    commit = offline.ok("list", "commit", "--help")
    assert "global id" in commit


def _spec(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text)
    return path


GOOD = """\
pipeline: {name: edges}
input: {pfs: {repo: images, glob: "/*"}}
transform:
  cmd: [bash]
  stdin: ["cp -r /pfs/images/* /pfs/out/"]
"""


def test_a_bad_spec_fails_before_anything_is_sent(offline: Kaon, tmp_path: Path) -> None:
    unknown = _spec(tmp_path, "unknown.yaml", GOOD + "paralelism_spec: {constant: 2}\n")
    line = offline.fails(INVALID, "create", "pipeline", "-f", str(unknown), match="paralelism")
    assert "parallelism_spec" in line  # the did-you-mean
    twice = _spec(tmp_path, "twice.yaml", GOOD + "---\n" + GOOD)
    offline.fails(INVALID, "create", "pipeline", "-f", str(twice), match="edges")
    again = _spec(tmp_path, "again.yaml", GOOD)
    offline.fails(
        INVALID, "create", "pipeline", "-f", str(again), "-f", str(again), match="keep one"
    )
    offline.fails(INVALID, "update", "pipeline", "-f", str(tmp_path / "none.yaml"), match="none")
    bad_yaml = _spec(tmp_path, "bad.yaml", "pipeline: {name: [\n")
    offline.fails(INVALID, "create", "pipeline", "-f", str(bad_yaml), match="bad.yaml")


def test_a_missing_source_folder_fails_before_anything_is_sent(
    offline: Kaon, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, "src.yaml", GOOD.replace("  cmd:", "  source: code\n  cmd:"))
    line = offline.fails(INVALID, "create", "pipeline", "-f", str(spec), match="source")
    assert str(tmp_path / "code") in line
    (tmp_path / "code").mkdir()
    offline.fails(INVALID, "create", "pipeline", "-f", str(spec), match="empty")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["logs"], "--pipeline"),
        (["logs", "--pipeline", "a", "--job", "a@1"], "--pipeline"),
        (["logs", "--job", "edges"], "<pipeline>@<job id>"),
        (["logs", "--pipeline", "a", "--tail", "-1"], "--tail"),
        (["inspect", "job", "edges"], "<pipeline>@<job id>"),
        (["stop", "job", "@123"], "<pipeline>@<job id>"),
        (["list", "datum", "edges@"], "<pipeline>@<job id>"),
        (["restart", "datum", "edges", "d1"], "<pipeline>@<job id>"),
        (["list", "job", "not-a-global-id"], "global id"),
        (["delete", "pipeline"], "--all"),
        (["delete", "pipeline", "edges", "--all"], "--all"),
        (["wait", "commit", "bad@@x"], "invalid ref"),
        (["wait", "commit", "edges@master", "--timeout", "soon"], "soon"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_bad_arguments_are_one_line_errors(offline: Kaon, args: list[str], match: str) -> None:
    offline.fails(INVALID, *args, match=match)


def test_asking_the_server_needs_one(offline: Kaon) -> None:
    """The offline fixture is truly offline: the cases above failed before asking."""
    offline.fails(3, "list", "pipeline")
