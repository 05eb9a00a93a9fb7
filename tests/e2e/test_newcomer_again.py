"""A second newcomer's walk through seeds 000, 003 and 004 after issue 12: what still tripped
them (the seed-004 manifest's own S3 settings, `-i` after switching workspaces, init of a
server that does not answer, tables whose title is wider than their columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import Kaon, free_port
from .test_serve import bundles

pytestmark = pytest.mark.e2e

SHOW_ENV = """#!/usr/bin/env python3
import os, pathlib, sys
print("timeouts:", os.environ["S3_REQUEST_TIMEOUT_MSEC"], os.environ["S3_CONNECT_TIMEOUT_MSEC"])
print("endpoint:", os.environ["S3_ENDPOINT"], os.environ["S3_REGION"])
(pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(pathlib.Path(sys.argv[1]) / "model" / "m").write_text("1")
"""


def test_the_tfjob_manifests_s3_timeouts_are_accepted_as_env(kaon: Kaon, tmp_path: Path) -> None:
    """Seed 004's TFJob manifest sets S3_REQUEST_TIMEOUT_MSEC and S3_CONNECT_TIMEOUT_MSEC for
    TensorFlow's S3 reader: the platform does not set them, so --env takes them; the names it
    does set (S3_ENDPOINT, S3_USE_HTTPS, S3_VERIFY_SSL, S3_REGION) are refused by name."""
    code = tmp_path / "code" / "tfjob" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(SHOW_ENV)
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text("")
    src = str(tmp_path / "code")
    env = {"KAON_WORKSPACE": "tftimeouts"}
    kaon.ok("workspace", "create", "-n", "tftimeouts")
    for name in ("S3_ENDPOINT", "S3_USE_HTTPS", "S3_VERIFY_SSL", "S3_REGION"):
        line = kaon.fails(2, "train", "deploy", "-s", src, "--env", f"{name}=x", env=env)
        assert f"the platform sets {name} " in line, line
    p = kaon.run(
        "train", "deploy", "-s", src, "--env", "S3_REQUEST_TIMEOUT_MSEC=600000",
        "--env", "S3_CONNECT_TIMEOUT_MSEC=600000", "--wait", "--json", env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    job = json.loads(p.stdout)
    logs = kaon.ok("train", "logs", "-j", job["id"], env=env)
    assert "timeouts: 600000 600000" in logs, logs
    assert "us-east-1" in logs, logs
    kaon.ok("workspace", "kill", "-y", "-w", "tftimeouts")


def test_an_index_belongs_to_the_workspace_it_was_listed_in(kaon: Kaon, tmp_path: Path) -> None:
    """`train list` in one workspace, `workspace set` to another, `train info -i 0`: the row
    the user saw was another workspace's, so -i asks for a new listing instead of showing
    that job as if it were this workspace's."""
    train, data, _ = bundles(tmp_path)
    kaon.ok("workspace", "create", "-n", "idx_a")
    assert "saved by `kaon workspace create` or `set`" in kaon.ok("workspace", "current")
    p = kaon.run("train", "deploy", "-s", str(train), "-d", str(data), "--wait")
    assert p.returncode == 0, p.stderr
    assert "JOB_SUCCESS: see its log with `kaon train logs -j" in p.stderr, p.stderr  # not -f
    kaon.ok("train", "list")
    kaon.ok("train", "info", "-i", "0")
    kaon.fails(2, "train", "info", "-i", "1", match="numbered 1 row(s) (BUILDING rows have none")
    kaon.ok("workspace", "create", "-n", "idx_b")
    kaon.fails(2, "train", "info", "-i", "0", match="kaon train list")
    kaon.ok("workspace", "set", "-n", "idx_a")
    kaon.fails(2, "train", "get", "-i", "0", match="kaon train list")
    kaon.ok("train", "list")
    kaon.ok("train", "info", "-i", "0")
    for ws in ("idx_a", "idx_b"):
        kaon.ok("workspace", "kill", "-y", "-w", ws)


def test_init_of_a_server_that_does_not_answer(kaon: Kaon) -> None:
    """`kaon init -e URL` where nothing answers: says nothing was changed and to check the
    URL, not "point the CLI elsewhere with kaon init -e URL" (which is what the user ran)."""
    url = f"http://127.0.0.1:{free_port()}"
    line = kaon.fails(3, "init", "-e", url, match=url)
    assert "kaon init -e URL" not in line, line
    assert "nothing changed" in line, line
    assert (
        not (kaon.home / "config.json").exists()
        or url not in (kaon.home / "config.json").read_text()
    )


def test_an_empty_table_with_a_long_title_keeps_its_box(kaon: Kaon, tmp_path: Path) -> None:
    """`data subvenance` of an unused commit: the title is wider than the empty columns."""
    f = tmp_path / "x.csv"
    f.write_text("1\n")
    kaon.ok("create", "repo", "boxed")
    kaon.ok("put", "file", "boxed@master:/x.csv", "-f", str(f))
    out = kaon.ok("data", "subvenance", "boxed@master")
    lines = out.splitlines()
    assert "DOWNSTREAM OF" in out and len(lines) >= 5, out
    assert len({len(line) for line in lines}) == 1, out  # every rule and row the same width
    assert all(line[0] in "+|" and line[-1] in "+|" for line in lines), out


def test_a_waited_build_failure_shows_no_image_and_points_to_build_logs(
    kaon: Kaon, tmp_path: Path
) -> None:
    """Seed 003's typo with --wait: the inputs table showed the image as built (✔) and the
    last line said to follow `kaon train logs -f` of a job that never ran."""
    train, data, _ = bundles(tmp_path)
    (train / "demo" / "model" / "requirements.txt").write_text("pandas=0.24\n")
    env = {"KAON_WORKSPACE": "waitbuild"}
    kaon.ok("workspace", "create", "-n", "waitbuild")
    p = kaon.run("train", "deploy", "-s", str(train), "-d", str(data), "--wait", env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "<build failed>" in p.stdout and "/demo:" not in p.stdout, p.stdout
    assert "see its log with `kaon train build-logs -j" in p.stderr, p.stderr
    kaon.ok("workspace", "kill", "-y", "-w", "waitbuild")
