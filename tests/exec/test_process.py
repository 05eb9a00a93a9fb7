"""ProcessRunner against real processes: output, exit codes, stopping process trees, sandbox."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from kaon.core.errors import InvalidInput
from kaon.exec.process import NO_HIDING, NO_SANDBOX, ProcessRunner, RunSpec
from kaon.ports.executor import RunResult

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture
def executor() -> ProcessRunner:
    return ProcessRunner(grace=0.5)


# this interpreter's venv, bound back into sandboxes: a clone under /tmp (CI's may be) has it
# under the sandbox's private, empty /tmp
PYTHON = (Path(sys.prefix),)


def run(
    executor: ProcessRunner,
    argv: list[str],
    cwd: Path,
    cancel: threading.Event | None = None,
    **options: object,
) -> tuple[RunResult, list[str]]:
    lines: list[str] = []
    spec = RunSpec(tuple(argv), cwd, dict(ENV), **options)  # type: ignore[arg-type]
    result = executor.run(spec, lines.append, cancel or threading.Event())
    return result, lines


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def assert_gone(pids: list[int]) -> None:
    """Every pid exits within a second of the signal (a zombie waiting for init to reap it
    counts as exited)."""
    deadline = time.monotonic() + 1.0
    for pid in pids:
        while True:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            assert time.monotonic() < deadline, f"process {pid} still runs"
            time.sleep(0.01)


def running(argv: list[str]) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line is exactly `argv` (a dying process has
    no command line left)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["cmdline"] == argv and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_stdout_and_stderr_lines_in_order(executor: ProcessRunner, tmp_path: Path) -> None:
    result, lines = run(executor, sh("echo one; echo two >&2; echo three"), tmp_path)
    assert lines == ["one", "two", "three"]
    assert result.exit_code == 0
    assert not result.timed_out and not result.cancelled
    assert result.seconds < 5


def test_exit_codes(executor: ProcessRunner, tmp_path: Path) -> None:
    assert run(executor, sh("exit 3"), tmp_path)[0].exit_code == 3
    assert run(executor, ["/bin/false"], tmp_path)[0].exit_code == 1
    assert run(executor, sh("kill -9 $$"), tmp_path)[0].exit_code == -9  # -N: killed by N


def test_partial_last_line_crlf_and_bad_utf8(executor: ProcessRunner, tmp_path: Path) -> None:
    _, lines = run(executor, ["printf", r"a\r\n\377b\n\nlast"], tmp_path)
    assert lines == ["a", "\ufffdb", "", "last"]


def test_environment_is_exactly_spec_env(executor: ProcessRunner, tmp_path: Path) -> None:
    lines: list[str] = []
    env = {"PATH": "/usr/bin:/bin", "ONLY": "this"}
    executor.run(RunSpec(("env",), tmp_path, env), lines.append, threading.Event())
    assert sorted(lines) == ["ONLY=this", "PATH=/usr/bin:/bin"]


def test_runs_in_cwd(executor: ProcessRunner, tmp_path: Path) -> None:
    assert run(executor, ["pwd"], tmp_path)[1] == [str(tmp_path)]


def test_timeout_kills_the_process_tree(executor: ProcessRunner, tmp_path: Path) -> None:
    # The second child ignores SIGTERM: it takes the SIGKILL after the grace period.
    script = "sleep 102.5 & echo $!; (trap '' TERM; sleep 102.5; echo) & echo $!; wait"
    result, lines = run(executor, sh(script), tmp_path, timeout=0.5)
    assert result.timed_out and not result.cancelled
    assert result.exit_code is None
    assert 0.5 <= result.seconds < 3
    assert lines[-1] == "timed out after 0.5 s: stopping the process and its children"
    assert_gone([int(pid) for pid in lines[:2]])
    assert running(["sleep", "102.5"]) == []


def test_cancel_kills_the_process_tree(executor: ProcessRunner, tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    result, lines = run(executor, sh("sleep 100 & echo $!; wait"), tmp_path, cancel)
    assert result.cancelled and not result.timed_out
    assert result.exit_code is None
    assert result.seconds < 3
    assert_gone([int(lines[0])])


def test_children_left_behind_are_stopped(executor: ProcessRunner, tmp_path: Path) -> None:
    # The orphan keeps the output pipe open: run() must neither hang nor leave it running.
    result, lines = run(executor, sh("sleep 100 & echo $!; exit 0"), tmp_path)
    assert result.exit_code == 0
    assert result.seconds < 3
    assert_gone([int(lines[0])])


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "tree-sweep"])
def test_daemons_that_left_the_session_are_killed(tmp_path: Path, cgroups: bool) -> None:
    # one calls setsid() and stays our grandchild, one double-forks and is orphaned at once
    script = "setsid sleep 101.5 & echo $!; (setsid sleep 101.6 & echo $!) ; sleep 0.2; exit 0"
    result, lines = run(ProcessRunner(grace=0.5, cgroups=cgroups), sh(script), tmp_path)
    assert result.exit_code == 0
    assert_gone([int(pid) for pid in lines[:2]])
    assert running(["sleep", "101.5"]) == running(["sleep", "101.6"]) == []


DIES = """import sys, threading
from pathlib import Path
from kaon.exec.process import ProcessRunner, RunSpec
spec = RunSpec(("/bin/sh", "-c", "sleep 101.7 & echo $!; exec sleep 101.7"), Path.cwd(), {})
ProcessRunner(cgroups=sys.argv[1] == "1").run(spec, print, threading.Event())
"""


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroups", "tree-sweep"])
def test_a_run_dies_with_the_process_that_started_it(tmp_path: Path, cgroups: bool) -> None:
    import subprocess

    parent = subprocess.Popen(
        [sys.executable, "-c", DIES, str(int(cgroups))],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    with parent.stdout:
        child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while running(["sleep", "101.7"]):
        assert time.monotonic() < deadline, "the run outlived the process that started it"
        time.sleep(0.05)
    assert_gone([child])


def test_missing_program(executor: ProcessRunner, tmp_path: Path) -> None:
    result, lines = run(executor, ["./train"], tmp_path)
    assert result.exit_code == 127
    assert lines == ["cannot run ./train: No such file or directory"]
    assert run(executor, ["no-such-command-xyz"], tmp_path)[0].exit_code == 127


def test_program_not_executable(executor: ProcessRunner, tmp_path: Path) -> None:
    (tmp_path / "train").write_text("#!/bin/sh\necho hi\n")
    result, lines = run(executor, ["./train"], tmp_path)
    assert result.exit_code == 126
    assert lines == ["cannot run ./train: Permission denied"]


def test_script_without_shebang(executor: ProcessRunner, tmp_path: Path) -> None:
    (tmp_path / "train").write_text("echo hi\n")
    (tmp_path / "train").chmod(0o755)
    result, lines = run(executor, ["./train"], tmp_path)
    assert result.exit_code == 126
    assert lines == ["cannot run ./train: Exec format error"]


def test_bad_specs_are_invalid_input(executor: ProcessRunner, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        run(executor, [], tmp_path)
    with pytest.raises(InvalidInput, match="no directory"):
        run(executor, ["true"], tmp_path / "missing")


def test_memory_limit_for_each_process_without_cgroups(tmp_path: Path) -> None:
    executor = ProcessRunner(grace=0.5, cgroups=False)
    grab = [sys.executable, "-c", "bytearray(256 << 20)"]
    result, lines = run(executor, grab, tmp_path, memory_bytes=192 << 20)
    assert result.exit_code == 1
    assert lines[0].startswith("memory limit 192Mi for each process (RLIMIT_AS)"), lines
    assert lines[-1] == "MemoryError"
    assert run(executor, grab, tmp_path)[0].exit_code == 0
    assert executor.describe_memory(192 << 20).startswith("192Mi for each process")


def test_the_platform_default_is_never_a_limit_on_each_process(tmp_path: Path) -> None:
    executor = ProcessRunner(grace=0.5, cgroups=False)
    grab = [sys.executable, "-c", "bytearray(256 << 20)"]
    result, lines = run(executor, grab, tmp_path, memory_bytes=192 << 20, memory_default=True)
    assert result.exit_code == 0, lines  # no RLIMIT_AS: runtimes reserving address space work
    said = "memory limit none: the platform's default memory limit (KAON_JOB_MEMORY) is not applied"
    assert lines[0].startswith(said), lines
    assert executor.describe_memory(192 << 20, default=True).startswith("none: the platform's")


# four children of 100 MiB each: each under the limit, together over it
FORKS = """import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (100 << 20)
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
codes = [os.waitpid(k, 0)[1] for k in kids]
print("children", codes)
raise SystemExit(1 if any(codes) else 0)
"""

needs_memory_cgroup = pytest.mark.skipif(
    not ProcessRunner().limits_run_memory,
    reason="no writable cgroup with the memory controller here (expected on CI runners, "
    "CI=true included: they delegate none; the per-process fallback is tested above)",
)


@needs_memory_cgroup
def test_memory_limit_for_the_whole_run(executor: ProcessRunner, tmp_path: Path) -> None:
    forks = [sys.executable, "-c", FORKS]
    result, lines = run(executor, forks, tmp_path, memory_bytes=256 << 20)
    assert result.exit_code == 1, lines
    assert lines[0] == "memory limit 256Mi for the trial's processes together (cgroup)"
    assert any("went over its memory limit (256Mi)" in ln for ln in lines), lines
    assert run(executor, forks, tmp_path)[0].exit_code == 0
    assert (
        run(ProcessRunner(cgroups=False), forks, tmp_path, memory_bytes=256 << 20)[0].exit_code == 0
    )


@needs_memory_cgroup
def test_a_pipeline_datum_over_its_memory_limit_is_named_a_datum(
    executor: ProcessRunner, tmp_path: Path
) -> None:
    labels = {"pipeline": "p", "job": "j" * 32, "datum": "d" * 64}
    forks = [sys.executable, "-c", FORKS]
    result, lines = run(executor, forks, tmp_path, memory_bytes=256 << 20, labels=labels)
    assert result.exit_code == 1, lines
    assert lines[0] == "memory limit 256Mi for the datum's processes together (cgroup)"
    over = [ln for ln in lines if "went over its memory limit (256Mi)" in ln]
    assert over and over[0].startswith("the datum went over"), lines
    assert "resource_limits.memory" in over[0] and "trial" not in " ".join(lines), lines


def test_sandbox_falls_back_when_bubblewrap_is_missing(tmp_path: Path) -> None:
    executor = ProcessRunner(bwrap="/nonexistent/bwrap")
    assert not executor.can_sandbox
    result, lines = run(executor, ["echo", "ran"], tmp_path, sandbox=True)
    assert result.exit_code == 0
    assert lines == [NO_SANDBOX, "ran"]


# -- sandbox (bubblewrap) --------------------------------------------------------------------

sandbox_only = pytest.mark.skipif(
    not ProcessRunner().can_sandbox,
    reason="bubblewrap is not installed or cannot create namespaces here",
)


@sandbox_only
def test_sandbox_writes_only_to_writable_paths(executor: ProcessRunner, tmp_path: Path) -> None:
    out, data, elsewhere = tmp_path / "out", tmp_path / "data", Path.home()
    out.mkdir()
    data.mkdir()
    (data / "input.csv").write_text("1,2\n")
    script = (
        "cat ../data/input.csv; echo ok > result && echo wrote-out; "
        "echo no > ../data/input.csv || echo data-read-only; "
        f"echo no > {elsewhere}/kaon-sandbox-$$ || echo home-read-only; "
        "echo scratch > /tmp/kaon-sandbox-scratch-$$ || echo tmp-read-only"
    )
    result, lines = run(executor, sh(script), out, sandbox=True, writable=(out,), read_only=(data,))
    assert result.exit_code == 0
    assert [ln for ln in lines if "Read-only" not in ln] == [
        "1,2",
        "wrote-out",
        "data-read-only",
        "home-read-only",
        "tmp-read-only",
    ]
    assert (out / "result").read_text() == "ok\n"
    assert (data / "input.csv").read_text() == "1,2\n"
    assert not list(elsewhere.glob("kaon-sandbox-*"))


@sandbox_only
def test_sandbox_has_no_network(executor: ProcessRunner, tmp_path: Path) -> None:
    connect = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=5)\n"
        "except OSError as e:\n"
        "    print('blocked', e.errno)\n"
        "else:\n"
        "    print('connected')\n"
    )
    argv = [sys.executable, "-c", connect]
    result, lines = run(
        executor, argv, tmp_path, sandbox=True, writable=(tmp_path,), read_only=PYTHON
    )
    assert result.exit_code == 0, lines
    assert lines[0].startswith("blocked"), lines


@sandbox_only
def test_sandbox_timeout_and_missing_program(executor: ProcessRunner, tmp_path: Path) -> None:
    script = "pwd; sleep 101.5 & sleep 101.5"
    result, lines = run(executor, sh(script), tmp_path, sandbox=True, timeout=0.3)
    assert result.timed_out and result.seconds < 3
    assert lines[0] == str(tmp_path)
    assert running(["sleep", "101.5"]) == []
    result, lines = run(executor, ["./train"], tmp_path, sandbox=True, writable=(tmp_path,))
    assert result.exit_code == 127
    assert lines == ["cannot run ./train: No such file or directory"]


def test_hiding_says_so_when_bubblewrap_is_missing(tmp_path: Path) -> None:
    executor = ProcessRunner(bwrap="/nonexistent/bwrap")
    result, lines = run(executor, ["echo", "ran"], tmp_path, hidden=(tmp_path / "home",))
    assert result.exit_code == 0
    assert lines == [NO_HIDING, "ran"]


@sandbox_only
def test_hidden_folders_show_only_the_run_s_own_paths(
    executor: ProcessRunner, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "jobs" / "j1" / "out").mkdir(parents=True)
    (home / "envs" / "e1").mkdir(parents=True)
    (home / "envs" / "e1" / "lib.py").write_text("env\n")
    (home / "token").write_text("platform token\n")
    (home / "envs" / "e2").mkdir()
    out = home / "jobs" / "j1" / "out"
    script = (
        f"cat {home}/token || echo no-token; ls {home}/envs; cat {home}/envs/e1/lib.py; "
        f"echo x > {home}/envs/e1/lib.py || echo env-read-only; echo ok > result; "
        f"echo x > {home}/new || echo home-read-only; ls -A /tmp"
    )
    result, lines = run(
        executor,
        sh(script),
        out,
        hidden=(home,),
        writable=(out,),
        read_only=(home / "envs" / "e1",),
    )
    assert result.exit_code == 0
    assert [ln for ln in lines if "No such file" not in ln and "Read-only" not in ln] == [
        "no-token",
        "e1",
        "env",
        "env-read-only",
        "home-read-only",
        # /tmp is empty but for the way to the run's own folders
        *([home.relative_to("/tmp").parts[0]] if home.is_relative_to("/tmp") else []),
    ]
    assert (out / "result").read_text() == "ok\n"
    assert (home / "token").read_text() == "platform token\n"


@sandbox_only
def test_hidden_without_sandbox_keeps_the_network(executor: ProcessRunner, tmp_path: Path) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), 5); print('ok')"
    (tmp_path / "h").mkdir()
    (work := tmp_path / "w").mkdir()
    try:
        argv = [sys.executable, "-c", connect]
        result, lines = run(
            executor, argv, work, hidden=(tmp_path / "h",), writable=(work,), read_only=PYTHON
        )
    finally:
        server.close()
    assert result.exit_code == 0 and lines == ["ok"], lines


def test_many_lines_fast(executor: ProcessRunner, tmp_path: Path) -> None:
    started = time.monotonic()
    result, lines = run(executor, ["seq", "100000"], tmp_path)
    assert result.exit_code == 0
    assert len(lines) == 100_000 and lines[-1] == "100000"
    assert time.monotonic() - started < 5
