"""The platform's lifecycle through the CLI: help, status, down, unreachable servers,
autostart on demand."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest

from .helpers import Kaon, free_port, server_pids, wait_dead

pytestmark = pytest.mark.e2e

UNREACHABLE = 3
COMMANDS = ["up", "down", "status", "init", "gc", "repo", "create", "list", "inspect", "put"]
COMMANDS += ["get", "delete", "diff"]


def test_help(tmp_path: Path) -> None:
    k = Kaon(tmp_path / "home")
    p = k.run("--help")
    assert p.returncode == 0, p.stderr
    listed = {line.split()[0] for line in p.stdout.split("Commands:")[1].splitlines() if line}
    assert set(COMMANDS) <= listed
    assert "kaon repo create" in p.stdout  # how to start

    p = k.run("put", "file", "--help")
    assert p.returncode == 0, p.stderr
    assert "-f, --file" in p.stdout and "Local file or folder" in p.stdout
    assert "-r, --recursive" in p.stdout and "folder" in p.stdout.lower()
    assert "ONE commit" in p.stdout

    for sub in (["list", "--help"], ["get", "file", "--help"], ["repo", "--help"]):
        p = k.run(*sub)
        assert p.returncode == 0, (sub, p.stderr)
    assert not (k.home / "server.json").exists()  # help never starts a server


def test_status_up_then_down(lone: Kaon) -> None:
    server = lone.up()
    p = lone.run("status")
    assert p.returncode == 0, p.stderr
    assert server["url"] in p.stdout and "ok" in p.stdout
    doc = lone.json("status")
    assert doc["status"] == "ok" and doc["endpoint"] == server["url"] and doc["local"] is True

    assert str(server["pid"]) in lone.ok("down")
    assert not server_pids(lone.home)
    assert not (lone.home / "server.json").exists()

    p = lone.run("status")
    assert p.returncode == UNREACHABLE, p.stdout + p.stderr
    assert "kaon up" in p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    stopped = lone.run("status", "--json")
    assert stopped.returncode == UNREACHABLE
    assert json.loads(stopped.stdout)["status"] == "stopped"
    assert "not running" in lone.ok("down")  # a second down is harmless
    assert not server_pids(lone.home)  # status and down never start a server


def test_server_not_running(lone: Kaon, tmp_path: Path) -> None:
    lone.up()
    lone.ok("down")
    f = tmp_path / "x.txt"
    f.write_text("x\n")
    env = {"KAON_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    for args in (
        ["list", "repo"],
        ["repo", "create", "r"],
        ["put", "file", "r@master:/x", "-f", str(f)],
    ):
        line = lone.fails(UNREACHABLE, *args, env=env, match="kaon up")
        assert env["KAON_ENDPOINT"] in line
    assert not server_pids(lone.home)  # an explicit endpoint is never autostarted

    # without an endpoint, the first command starts the local platform on demand
    assert lone.ok("list", "repo").splitlines()[0].split()[0] == "NAME"
    server = lone.server()
    assert server is not None
    assert server_pids(lone.home) == [server["pid"]]
    assert lone.json("status")["status"] == "ok"
    assert "r" not in {r["name"] for r in lone.json("repo", "list")}  # nothing was created


def test_a_server_whose_home_is_deleted_stops(tmp_path: Path) -> None:
    """`rm -rf $KAON_HOME` under a running server: it stops by itself instead of holding its
    port with no server.json left for `kaon down` to find."""
    k = Kaon(tmp_path / "home")
    pid = int(k.up()["pid"])
    try:
        (k.home / "server.json").unlink()
        wait_dead(pid, timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not server_pids(k.home)
