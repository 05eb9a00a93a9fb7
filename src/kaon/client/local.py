"""Start and stop the local platform server as a background process under $KAON_HOME."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kaon.client.connect import local_server, pid_alive
from kaon.config import SERVER_FILE, kaon_home, private_dir
from kaon.core.errors import BackendUnavailable, InvalidInput, KaonError
from kaon.extras import server_missing

START_TIMEOUT = 30.0
SERVER_PREFIX = "kaon server: "  # how the server's own one-line errors start


def log_path(home: Path | None = None) -> Path:
    return (home or kaon_home()) / "logs" / "server.log"


def start(
    port: int | None = None, host: str | None = None, extra: Sequence[str] = ()
) -> tuple[str, int]:
    """Start the server detached (if not running) and wait until it answers; (url, pid).
    `extra`: more arguments of `kaon server` (--database URL ...). A server that exits at
    start raises its own error (its last line, its exit code's kind)."""
    home = kaon_home()
    running = local_server(home)
    if running:
        return running
    lacking = server_missing("`kaon up`")
    if lacking:
        raise BackendUnavailable(lacking)
    log = log_path(home)
    private_dir(log.parent)
    cmd = [sys.executable, "-m", "kaon.api"]
    if port is not None:
        cmd += ["--port", str(port)]
    if host is not None:
        cmd += ["--host", host]
    cmd += extra
    started_at = 0
    with contextlib.suppress(OSError):
        started_at = log.stat().st_size  # the log is appended to: this start's lines follow
    with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "KAON_HOME": str(home)},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise _exited(code, log, started_at)
        running = local_server(home)
        if running and running[1] == proc.pid and _healthy(running[0]):
            return running
        time.sleep(0.05)
    proc.terminate()
    raise BackendUnavailable(
        f"the local kaon server did not start within {START_TIMEOUT:.0f} s: {_tail(log)}"
    )


def stop(timeout: float = 15.0) -> int | None:
    """Stop the local server (SIGTERM, then SIGKILL); returns its pid, or None if not running."""
    home = kaon_home()
    running = local_server(home)
    if not running:
        return None
    pid = running[1]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):  # gone, not just server.json
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        (home / SERVER_FILE).unlink(missing_ok=True)
    return pid


def _healthy(url: str) -> bool:
    import urllib.request  # lazy: only needed when starting the server

    try:
        with urllib.request.urlopen(url + "/v1/health", timeout=2.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _exited(code: int, log: Path, offset: int) -> KaonError:
    """The error of a server that exited at start: its one line (`kaon server: ...`) with the
    class of its exit code (2 bad input, 3 an engine unavailable), else the log's tail."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    last = lines[-1] if lines else ""
    if last.startswith(SERVER_PREFIX):
        kind = InvalidInput if code == InvalidInput.exit_code else BackendUnavailable
        return kind(f"{last.removeprefix(SERVER_PREFIX)} (log: {log})", server_exit=code)
    return BackendUnavailable(f"the local kaon server exited at start (code {code}): {_tail(log)}")


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"see {log}"
    return " | ".join(text) + f" (log: {log})"
