"""What every benchmark script does the same way: logging, temp dirs, the kaon CLI and its
server, the report table, and cleaning up on SIGTERM. Imported by the scripts beside it
(`python benchmarks/<name>.py` puts this folder on sys.path)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rmtree(path: Path) -> None:
    """Remove `path`, also where a test made a folder read-only."""

    def onerror(func: Callable[..., Any], p: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            Path(p).parent.chmod(0o700)
            Path(p).chmod(0o700)
            func(p)

    if path.exists():
        shutil.rmtree(path, onerror=onerror)


def kaon_exe(given: str | None) -> Path:
    """The kaon CLI: `given`, else beside this Python, on PATH, or in the repo's .venv."""
    if given:
        return Path(given)
    beside = Path(sys.executable).parent / "kaon"
    if beside.exists():
        return beside
    found = shutil.which("kaon")
    if found:
        return Path(found)
    venv = HERE.parent / ".venv" / "bin" / "kaon"
    if venv.exists():
        return venv
    raise SystemExit("cannot find the kaon CLI: pass --kaon PATH")


def server_pid(home: Path) -> int | None:
    """The pid of the local server of `home` (from its server.json), if it runs."""
    try:
        pid = json.loads((home / "server.json").read_text()).get("pid")
    except (OSError, ValueError):
        return None
    return pid if isinstance(pid, int) else None


def stop_server(kaon: Path, home: Path, env: dict[str, str]) -> None:
    """`kaon down`; the server's own pid is killed if it is still there after 15 s."""
    pid = server_pid(home)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([str(kaon), "down"], env=env, capture_output=True, check=False, timeout=60)
    if pid is None:
        return
    try:
        proc = psutil.Process(pid)
        proc.wait(15)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        log(f"server pid {pid} survived `kaon down`: terminating it")
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except psutil.TimeoutExpired:
                proc.kill()


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, 15 s to exit, then SIGKILL."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "SKIP"}[ok]


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C so the finally-blocks clean up."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
