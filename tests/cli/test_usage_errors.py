"""A usage error is one line: what was wrong, a suggestion once, and where help is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_an_unknown_command_suggests_once_and_points_at_help() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kaon"), "logz"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "No such command 'logz'" in lines[0] and "see `kaon --help`" in lines[0]
    assert lines[0].count("Did you mean") == 1, lines[0]
