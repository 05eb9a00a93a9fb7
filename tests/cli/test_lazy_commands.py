"""The CLI registers only the commands of the group a command line names (kaon.cli.main.UNITS):
the table must say exactly what each unit's registrar adds, or a command would go missing.
Probed in a fresh interpreter (the sub-apps are module-level: registered once per process)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

LINES = [
    ["list", "repo"],
    ["--debug", "train", "list"],
    ["data", "subvenance", "x@y"],
    ["serve", "--help"],
    [],
    ["--help"],
    ["-h", "list"],
    ["--version"],
    ["no-such-command"],
]
PROBE = """
import json, sys, typer, typer.main
import kaon.cli.main as m
units = {}
for unit, registrar in m.REGISTRARS.items():  # each on a root of its own
    root = typer.Typer()
    root.callback()(lambda: None)  # a group even when the unit adds one command
    registrar(root)
    units[unit] = list(typer.main.get_command(root).commands)
lines = json.loads(sys.argv[1])
print(json.dumps({
    "registered": units,
    "table": {u: list(c) for u, c in m.UNITS.items()},
    "needs": [list(m.units_for(line)) for line in lines],
}))
"""


def probe() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(LINES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_each_unit_registers_exactly_the_commands_the_table_names() -> None:
    doc = probe()
    registered, table = doc["registered"], doc["table"]
    assert list(registered) == list(table)
    for unit, commands in registered.items():
        assert sorted(commands) == sorted(table[unit]), unit
    every = [c for commands in registered.values() for c in commands]
    assert len(every) == len(set(every)), "a command in two units"
    assert {"up", "list", "train", "serve", "data", "notebook", "auth", "ui"} <= set(every)

    everything = list(table)
    needs = dict(zip(map(tuple, LINES), doc["needs"], strict=True))
    assert needs[("list", "repo")] == ["data"]
    assert needs[("--debug", "train", "list")] == ["train"]
    assert needs[("data", "subvenance", "x@y")] == ["subvenance"]
    assert needs[("serve", "--help")] == ["train"]
    assert needs[()] == everything
    assert needs[("--help",)] == everything
    assert needs[("-h", "list")] == everything  # the root's help lists every command
    assert needs[("--version",)] == everything
    assert needs[("no-such-command",)] == everything  # click's own "No such command"
