#!/usr/bin/env python3
"""Ingest benchmark: kaon put/get against the physical write limit and `dvc add`, in ONE run.

Every figure is compared with baselines measured in the same run on the same filesystem
(never with absolute numbers from another machine):

  * cp + sync of the big file into the store's filesystem (the physical write limit), and
    cp -r + sync of the folder of small files;
  * `dvc add` of the same data (dvc is installed once into a cached throw-away venv).

Targets (PASS/FAIL):
  * put of one big random file >= 70% of cp+sync throughput and >= 2x `dvc add`;
  * put -r of 20,000 files of 5 KiB >= 5x faster than `dvc add` of the folder;
  * re-put of unchanged data: new bytes <= 1% of the first put, time <= 25% of the first
    (big file and folder);
  * one small file changed: only its bytes are new, put >= 5x faster than dvc's re-add;
  * get of the big file >= 90% of cp+sync throughput (both end with the data on disk: the
    get fsyncs it, cp is followed by `sync`), its content identical;
  * get -r of the 20,000 files >= 50% of the files/s of `cp -r` of the same folder followed
    by `sync` (the get syncs its filesystem once at the end), every file identical;
  * peak RSS of the CLI and of the server during the big put/get < 500 MB.

Method: a fresh KAON_HOME (and dvc repo) per repetition, under --workdir (same filesystem
as the cp target); the server is started with `kaon up` before timing; `sync` (untimed)
before each timed step; wall clock of the whole CLI command as a subprocess (CLI start-up
included; the CLIs' compiled modules are cached under --cache-dir and compiled before
timing, as in an installed program, even where PYTHONDONTWRITEBYTECODE is set). Each
measurement runs --repeat times and the median is reported.

    uv run python benchmarks/ingest.py [--repeat N] [--big-gib N] [--only put|get] [--check]

Exit code 0 unless --check is given and a target fails (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from _common import kaon_exe, log, print_table, rmtree, server_pid, terminate_as_exit, verdict

HERE = Path(__file__).resolve().parent
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
MB = 1_000_000
RSS_LIMIT = 500 * MB
WRITE_BLOCK = 4 * MiB
SAMPLE_EVERY = 0.01  # seconds between RSS samples


# ---------------------------------------------------------------------------------------
# small helpers


def fmt_s(s: float | None) -> str:
    return "n/a" if s is None else f"{s:.2f} s"


def fmt_rate(nbytes: int, s: float | None) -> str:
    return "n/a" if not s else f"{nbytes / s / MB:,.0f} MB/s"


def fmt_files(n: int, s: float | None) -> str:
    return "n/a" if not s else f"{n / s:,.0f} files/s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f} B"


def fmt_mb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / MB:,.0f} MB"


def median(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def write_random(path: Path, size: int) -> None:
    """`size` random bytes written in blocks (never the whole file in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(WRITE_BLOCK, left)
            f.write(os.urandom(n))
            left -= n


def make_small_tree(root: Path, count: int, size: int, per_dir: int = 200) -> list[Path]:
    files = []
    for i in range(count):
        p = root / f"d{i // per_dir:04d}" / f"f{i:06d}.bin"
        if i % per_dir == 0:
            p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
        files.append(p)
    return files


def evict(path: Path) -> None:
    """Drop the (clean, synced) pages of `path` from the page cache: read again, it comes
    from the disk, as the packs of a fresh put do (written with O_DIRECT)."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> None:
    """New content under the same name (new inode: safe for dvc copies and hard links)."""
    path.unlink()
    path.write_bytes(data)


# ---------------------------------------------------------------------------------------
# timed subprocesses, peak RSS


class PeakRss:
    """Sample the RSS of some pids every few ms in a thread; keep the peak of each."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.peak: dict[str, int] = {name: 0 for name in pids}
        self._procs: dict[str, psutil.Process] = {}
        for name, pid in pids.items():
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    self._procs[name] = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for name, proc in list(self._procs.items()):
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                del self._procs[name]
                continue
            self.peak[name] = max(self.peak[name], rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_EVERY)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class Timed:
    seconds: float
    cpu: float  # user + sys of the timed commands
    server_cpu: float | None = None
    stdout: str = ""
    peak: dict[str, int] = field(default_factory=dict)


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _proc_cpu(proc: psutil.Process | None) -> float | None:
    if proc is None:
        return None
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return float(t.user + t.system)


def timed(
    cmds: Sequence[Sequence[str | Path]],
    env: dict[str, str],
    cwd: Path | None = None,
    server_pid: int | None = None,
    sample_rss: bool = False,
) -> Timed:
    """Run `cmds` one after the other, after an untimed sync; wall clock of them all."""
    os.sync()
    server = None
    if server_pid is not None:
        with contextlib.suppress(psutil.Error):
            server = psutil.Process(server_pid)
    cpu0, srv0 = _child_cpu(), _proc_cpu(server)
    out = ""
    peak: dict[str, int] = {}
    t0 = time.perf_counter()
    for cmd in cmds:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sampler = PeakRss({"client": proc.pid, "server": server_pid}) if sample_rss else None
        stdout, stderr = proc.communicate()
        if sampler is not None:
            for k, v in sampler.stop().items():
                peak[k] = max(peak.get(k, 0), v)
        if proc.returncode != 0:
            raise RuntimeError(
                f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                f"{stderr.strip()[-2000:]}"
            )
        out += stdout
    seconds = time.perf_counter() - t0
    srv1 = _proc_cpu(server)
    return Timed(
        seconds=seconds,
        cpu=_child_cpu() - cpu0,
        server_cpu=(srv1 - srv0) if srv0 is not None and srv1 is not None else None,
        stdout=out,
        peak=peak,
    )


def run(cmd: Sequence[str | Path], env: dict[str, str] | None = None, **kw: Any) -> str:
    """An untimed helper command; its stdout."""
    proc = subprocess.run(
        [str(c) for c in cmd], env=env, capture_output=True, text=True, check=False, **kw
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return str(proc.stdout)


# ---------------------------------------------------------------------------------------
# dvc in a cached throw-away venv


def ensure_dvc(cache: Path) -> tuple[Path | None, str]:
    """(dvc executable, version) installed once under `cache`; (None, reason) if impossible."""
    venv = cache / "dvc-venv"
    exe = venv / "bin" / "dvc"
    if exe.exists():
        with contextlib.suppress(RuntimeError, OSError):
            return exe, run([exe, "--version"], env=dvc_env()).strip()
        rmtree(venv)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n")
    log(f"installing dvc into {venv} (once; cached for later runs)")
    uv = shutil.which("uv")
    try:
        if uv:
            run([uv, "venv", "-q", "--python", sys.executable, venv])
            run([uv, "pip", "install", "-q", "--python", venv / "bin" / "python", "dvc"])
        else:
            run([sys.executable, "-m", "venv", venv])
            run([venv / "bin" / "python", "-m", "pip", "install", "-q", "dvc"])
        return exe, run([exe, "--version"], env=dvc_env()).strip()
    except (RuntimeError, OSError) as exc:
        rmtree(venv)
        return None, f"dvc could not be installed: {str(exc).splitlines()[0]}"


PYCACHE: Path | None = None  # set by main(): where the CLIs' compiled modules are kept


def with_bytecode(env: dict[str, str]) -> dict[str, str]:
    """Let Python keep the compiled modules of the CLIs timed here (kaon, dvc) under
    --cache-dir, as an installed program has them (pip compiles at install, Python on first
    run). A shell with PYTHONDONTWRITEBYTECODE=1 (some sandboxes) would otherwise make every
    command compile its ~70 modules again: ~0.15 s of CPU per command on the 2-CPU VM."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def dvc_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    with_bytecode(env)
    env["DVC_NO_ANALYTICS"] = "1"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def dvc_repo(dvc: Path, root: Path) -> dict[str, str]:
    """A fresh git + dvc repo at `root`; the env to run dvc in it."""
    root.mkdir(parents=True)
    env = dvc_env()
    env["HOME"] = str(root.parent / "dvc-home")  # no global git/dvc config leaks in or out
    Path(env["HOME"]).mkdir(exist_ok=True)
    run(["git", "init", "-q"], env=env, cwd=root)
    run([dvc, "init", "-q"], env=env, cwd=root)
    for key, value in (
        ("core.analytics", "false"),
        ("core.autostage", "false"),
        ("core.site_cache_dir", str(root.parent / "dvc-site-cache")),
    ):
        with contextlib.suppress(RuntimeError):
            run([dvc, "config", key, value], env=env, cwd=root)
    return env


# ---------------------------------------------------------------------------------------
# kaon


def kaon_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    if "KAON_PACK_DROP" in os.environ:  # KAON_PACK_DROP=0: the HTTP path a remote client uses
        env["KAON_PACK_DROP"] = os.environ["KAON_PACK_DROP"]
    env["KAON_HOME"] = str(home)
    env["KAON_PORT"] = "0"  # a free port: never clash with another local server
    return with_bytecode(env)


def warm_up(kaon: Path, env: dict[str, str], scratch: Path) -> None:
    """Untimed: a get of a path that does not exist, so that the modules of the get are
    compiled before it is timed (the put's are by `kaon up`)."""
    subprocess.run(
        [str(kaon), "get", "file", "bench@master:/warm-up", "-o", str(scratch / "warm-up")],
        env=env,
        capture_output=True,
        check=False,
    )


# ---------------------------------------------------------------------------------------
# one repetition


@dataclass
class Sample:
    """Raw figures of one repetition (seconds unless said otherwise)."""

    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, k: str, v: Any) -> None:
        self.values[k] = v

    def get(self, k: str) -> Any:
        return self.values.get(k)


@dataclass
class Setup:
    work: Path
    kaon: Path
    dvc: Path | None
    big: Path
    big_size: int
    small: Path
    small_files: list[Path]
    small_size: int
    changed: Path  # the small file changed between puts
    live_homes: list[Path] = field(default_factory=list)
    measure_put: bool = True  # --only get: the puts are only the gets' set-up
    measure_get: bool = True


def put_stats(t: Timed) -> dict[str, Any]:
    doc = json.loads(t.stdout)
    stats: dict[str, Any] = doc["stats"]
    return stats


def get_small(s: Setup, r: Sample, env: dict[str, str], pid: int | None, scratch: Path) -> None:
    """`get -r` of the folder put last (its changed file included) into a fresh folder."""
    n = len(s.small_files)
    log(f"  get -r {n:,} files")
    out = scratch / "get-small"
    t = timed(
        [[s.kaon, "get", "file", "bench@master:/small", "-r", "-o", out]], env, server_pid=pid
    )
    r["get_small"] = t.seconds
    r["get_small_cpu"] = t.cpu
    r["get_small_server_cpu"] = t.server_cpu
    same = subprocess.run(["diff", "-rq", s.small, out], check=False, capture_output=True)
    r["get_small_ok"] = same.returncode == 0


def one_repetition(s: Setup, rep: int, r: Sample) -> None:
    """Fill `r` step by step (a failure keeps the figures measured so far)."""
    home = s.work / f"home-{rep}"
    env = kaon_env(home)
    k = s.kaon
    s.live_homes.append(home)
    run([k, "up"], env=env)
    pid = server_pid(home)
    run([k, "repo", "create", "bench"], env=env)

    # baseline: the physical write limit (cp of the same file into the store's filesystem)
    # (big files are deleted only at the end of the repetition: on a filesystem mounted with
    # `discard`, freeing 1 GiB slows the writes that follow)
    scratch = s.work / f"scratch-{rep}"
    scratch.mkdir()
    warm_up(k, env, scratch)
    t = timed([["cp", s.big, scratch / "cp-sync.bin"], ["sync"]], env)
    r["cp_sync"] = t.seconds
    t = timed([["cp", s.big, scratch / "cp.bin"]], env)
    r["cp"] = t.seconds
    t = timed([["cp", "-r", s.small, scratch / "cp-r"], ["sync"]], env)
    r["cp_r_sync"] = t.seconds
    if s.measure_get:  # informational: the get reads packs written past the page cache
        cold = scratch / "cp-sync.bin"
        evict(cold)
        t = timed([["cp", cold, scratch / "cp-cold.bin"], ["sync"]], env)
        r["cp_cold_sync"] = t.seconds

    # kaon: one big file
    log(f"  put {fmt_bytes(s.big_size)} (first)")
    t = timed(
        [[k, "put", "file", "bench@master:/big.bin", "-f", s.big, "--json"]],
        env,
        server_pid=pid,
        sample_rss=True,
    )
    st = put_stats(t)
    r["put_big"] = t.seconds
    r["put_big_new"] = st["new_bytes"]
    r["put_big_sent"] = st["sent_bytes"]
    r["put_big_cpu"] = t.cpu
    r["put_big_server_cpu"] = t.server_cpu
    r["put_big_rss_client"] = t.peak.get("client")
    r["put_big_rss_server"] = t.peak.get("server")
    disk = sum(p.stat().st_size for p in (home / "objects").rglob("*") if p.is_file())
    r["store_bytes"] = disk

    if s.measure_put:
        log(f"  put {fmt_bytes(s.big_size)} (unchanged)")
        t = timed([[k, "put", "file", "bench@master:/big.bin", "-f", s.big, "--json"]], env)
        st = put_stats(t)
        r["reput_big"] = t.seconds
        r["reput_big_new"] = st["new_bytes"]

    if s.measure_get:
        log(f"  get {fmt_bytes(s.big_size)}")
        out = scratch / "get.bin"
        t = timed(
            [[k, "get", "file", "bench@master:/big.bin", "-o", out]],
            env,
            server_pid=pid,
            sample_rss=True,
        )
        r["get_big"] = t.seconds
        r["get_big_cpu"] = t.cpu
        r["get_big_server_cpu"] = t.server_cpu
        r["get_big_rss_client"] = t.peak.get("client")
        r["get_big_rss_server"] = t.peak.get("server")
        r["get_big_ok"] = subprocess.run(["cmp", "-s", s.big, out], check=False).returncode == 0

    # kaon: many small files
    n = len(s.small_files)
    log(f"  put -r {n:,} x {fmt_bytes(s.small_size)} (first)")
    cmd: list[str | Path] = [k, "put", "file", "bench@master:/small", "-f", s.small, "-r", "--json"]
    t = timed([cmd], env, server_pid=pid)
    st = put_stats(t)
    r["put_small"] = t.seconds
    r["put_small_new"] = st["new_bytes"]
    r["put_small_cpu"] = t.cpu
    r["put_small_server_cpu"] = t.server_cpu

    if s.measure_put:
        log(f"  put -r {n:,} files (unchanged)")
        t = timed([cmd], env, server_pid=pid)
        st = put_stats(t)
        r["reput_small"] = t.seconds
        r["reput_small_new"] = st["new_bytes"]
        r["reput_small_cpu"] = t.cpu
        r["reput_small_server_cpu"] = t.server_cpu

        log(f"  put -r {n:,} files (one changed)")
        new_content = os.urandom(s.small_size)
        replace_file(s.changed, new_content)
        t = timed([cmd], env, server_pid=pid)
        st = put_stats(t)
        r["change_small"] = t.seconds
        r["change_small_new"] = st["new_bytes"]
        r["change_small_new_chunks"] = st["new_chunks"]
        r["change_small_cpu"] = t.cpu
        r["change_small_server_cpu"] = t.server_cpu

    if s.measure_get:
        get_small(s, r, env, pid, scratch)

    run([k, "down"], env=env)
    s.live_homes.remove(home)

    # dvc, same data, fresh repo
    if s.dvc is not None and s.measure_put:
        dvc_root = s.work / f"dvc-{rep}" / "repo"
        denv = dvc_repo(s.dvc, dvc_root)
        shutil.copyfile(s.big, dvc_root / "big.bin")
        shutil.copytree(s.small, dvc_root / "small")
        log(f"  dvc add {fmt_bytes(s.big_size)}")
        t = timed([[s.dvc, "add", "-q", "big.bin"]], denv, cwd=dvc_root)
        r["dvc_big"] = t.seconds
        log(f"  dvc add {n:,} files")
        t = timed([[s.dvc, "add", "-q", "small"]], denv, cwd=dvc_root)
        r["dvc_small"] = t.seconds
        log(f"  dvc add {n:,} files (one changed)")
        replace_file(dvc_root / "small" / s.changed.relative_to(s.small), os.urandom(s.small_size))
        t = timed([[s.dvc, "add", "-q", "small"]], denv, cwd=dvc_root)
        r["dvc_change_small"] = t.seconds
        rmtree(dvc_root.parent)
    rmtree(home)
    rmtree(scratch)
    os.sync()
    time.sleep(1.0)  # let the discards of the freed blocks settle before the next run


# ---------------------------------------------------------------------------------------
# report


@dataclass
class Check:
    name: str
    kaon: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None  # None: could not be measured
    group: str = "put"  # what --only selects


def build_report(
    s: Setup, samples: list[Sample]
) -> tuple[list[Check], list[list[str]], dict[str, Any]]:
    def m(key: str) -> Any:
        vals = [v for v in (x.get(key) for x in samples) if v is not None]
        if vals and all(isinstance(v, bool) for v in vals):
            return all(vals)
        return median(vals)

    big, n, small_bytes = s.big_size, len(s.small_files), len(s.small_files) * s.small_size
    gib = f"{big / GiB:g} GiB"
    cp_sync, cp, cp_r_sync = m("cp_sync"), m("cp"), m("cp_r_sync")
    put_big, reput_big, get_big = m("put_big"), m("reput_big"), m("get_big")
    get_small = m("get_small")
    put_small, reput_small, change_small = m("put_small"), m("reput_small"), m("change_small")
    dvc_big, dvc_small, dvc_change = m("dvc_big"), m("dvc_small"), m("dvc_change_small")

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def x(v: float | None, digits: int = 2) -> str:
        return "n/a" if v is None else f"{v:.{digits}f}x"

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v * 100:.1f}%"

    checks: list[Check] = []
    r = ratio(cp_sync, put_big)  # throughput ratio kaon / cp+sync
    checks.append(
        Check(
            f"put {gib} vs cp+sync",
            f"{fmt_s(put_big)} {fmt_rate(big, put_big)}",
            f"{fmt_s(cp_sync)} {fmt_rate(big, cp_sync)}",
            x(r),
            ">= 0.70x",
            None if r is None else r >= 0.70,
        )
    )
    r = ratio(dvc_big, put_big)
    checks.append(
        Check(
            f"put {gib} vs dvc add",
            f"{fmt_s(put_big)} {fmt_rate(big, put_big)}",
            f"{fmt_s(dvc_big)} {fmt_rate(big, dvc_big)}",
            x(r),
            ">= 2x",
            None if r is None else r >= 2.0,
        )
    )
    r = ratio(dvc_small, put_small)
    checks.append(
        Check(
            f"put -r {n:,} x {fmt_bytes(s.small_size)} vs dvc add",
            f"{fmt_s(put_small)} {fmt_files(n, put_small)}",
            f"{fmt_s(dvc_small)} {fmt_files(n, dvc_small)}",
            x(r),
            ">= 5x",
            None if r is None else r >= 5.0,
        )
    )
    for label, first_new, re_new, first_t, re_t in (
        (gib, m("put_big_new"), m("reput_big_new"), put_big, reput_big),
        (f"{n:,} files", m("put_small_new"), m("reput_small_new"), put_small, reput_small),
    ):
        r = ratio(re_new, first_new)
        checks.append(
            Check(
                f"re-put {label} unchanged: new bytes",
                fmt_bytes(re_new),
                f"first {fmt_bytes(first_new)}",
                pct(r),
                "<= 1%",
                None if r is None else r <= 0.01,
            )
        )
        r = ratio(re_t, first_t)
        checks.append(
            Check(
                f"re-put {label} unchanged: time",
                fmt_s(re_t),
                f"first {fmt_s(first_t)}",
                pct(r),
                "<= 25%",
                None if r is None else r <= 0.25,
            )
        )
    change_new = m("change_small_new")
    checks.append(
        Check(
            "1 file changed: new bytes",
            fmt_bytes(change_new),
            f"that file {fmt_bytes(s.small_size)}",
            x(ratio(change_new, s.small_size)),
            "= 1 file",
            None if change_new is None else change_new == s.small_size,
        )
    )
    r = ratio(dvc_change, change_small)
    checks.append(
        Check(
            "1 file changed: put -r vs dvc re-add",
            fmt_s(change_small),
            f"{fmt_s(dvc_change)}",
            x(r),
            ">= 5x",
            None if r is None else r >= 5.0,
        )
    )
    r = ratio(cp_sync, get_big)  # both end with their data on disk (fsync / sync)
    checks.append(
        Check(
            f"get {gib} vs cp+sync",
            f"{fmt_s(get_big)} {fmt_rate(big, get_big)}",
            f"{fmt_s(cp_sync)} {fmt_rate(big, cp_sync)}",
            x(r),
            ">= 0.90x",
            None if r is None else r >= 0.90,
            "get",
        )
    )
    r = ratio(cp_r_sync, get_small)
    checks.append(
        Check(
            f"get -r {n:,} x {fmt_bytes(s.small_size)} vs cp -r+sync",
            f"{fmt_s(get_small)} {fmt_files(n, get_small)}",
            f"{fmt_s(cp_r_sync)} {fmt_files(n, cp_r_sync)}",
            x(r),
            ">= 0.50x",
            None if r is None else r >= 0.50,
            "get",
        )
    )
    for label, key in ((gib, "get_big_ok"), (f"-r {n:,} files", "get_small_ok")):
        same = m(key)
        checks.append(
            Check(
                f"get {label}: content identical",
                "-" if same is None else str(same),
                "the source",
                "-",
                "identical",
                same,
                "get",
            )
        )
    for what in ("put", "get"):
        for side in ("client", "server"):
            v = m(f"{what}_big_rss_{side}")
            checks.append(
                Check(
                    f"{what} {gib}: peak RSS {side}",
                    fmt_mb(v),
                    "-",
                    "-",
                    "< 500 MB",
                    None if not v else v < RSS_LIMIT,
                    what,
                )
            )

    # informational figures (no target)
    info = [
        ["cp (no sync) " + gib, f"{fmt_s(cp)} {fmt_rate(big, cp)}"],
        ["cp + sync " + gib, f"{fmt_s(cp_sync)} {fmt_rate(big, cp_sync)}"],
        [
            f"cp + sync {gib}, source not cached",
            f"{fmt_s(m('cp_cold_sync'))} {fmt_rate(big, m('cp_cold_sync'))}; "
            f"get = {x(ratio(m('cp_cold_sync'), get_big))} of it",
        ],
        [
            f"get {gib}",
            f"{fmt_s(get_big)} {fmt_rate(big, get_big)} = {x(ratio(cp_sync, get_big))} cp+sync, "
            f"{x(ratio(cp, get_big))} cp; content identical: {m('get_big_ok')}",
        ],
        [
            f"put {gib}: CPU client / server",
            f"{fmt_s(m('put_big_cpu'))} / {fmt_s(m('put_big_server_cpu'))} "
            f"(wall {fmt_s(put_big)}, 2 cores = {fmt_s(2 * put_big if put_big else None)} CPU max)",
        ],
        [
            f"get {gib}: CPU client / server",
            f"{fmt_s(m('get_big_cpu'))} / {fmt_s(m('get_big_server_cpu'))}",
        ],
        ["cp -r + sync " + f"{n:,} files", f"{fmt_s(cp_r_sync)} {fmt_files(n, cp_r_sync)}"],
        [
            f"get -r {n:,} files: CPU client / server",
            f"{fmt_s(m('get_small_cpu'))} / {fmt_s(m('get_small_server_cpu'))}; "
            f"{fmt_rate(small_bytes, get_small)}",
        ],
        [
            f"put {gib}: sent / stored on disk",
            f"{fmt_bytes(m('put_big_sent'))} / {fmt_bytes(m('store_bytes'))}",
        ],
        [
            f"put -r {n:,} files: CPU client / server",
            f"{fmt_s(m('put_small_cpu'))} / {fmt_s(m('put_small_server_cpu'))}; "
            f"{fmt_rate(small_bytes, put_small)}",
        ],
        [
            f"re-put {n:,} files: CPU client / server",
            f"{fmt_s(m('reput_small_cpu'))} / {fmt_s(m('reput_small_server_cpu'))}",
        ],
        [
            "1 file changed: CPU client / server",
            f"{fmt_s(m('change_small_cpu'))} / {fmt_s(m('change_small_server_cpu'))}; "
            f"new chunks {m('change_small_new_chunks') or 0:.0f}",
        ],
    ]
    summary = {k: m(k) for k in sorted({key for smp in samples for key in smp.values})} | {
        "big_bytes": big,
        "small_files": n,
        "small_size": s.small_size,
    }
    return checks, info, summary


def figures_block(
    s: Setup, checks: list[Check], summary: dict[str, Any], env_line: str, repeat: int
) -> str:
    big, n = s.big_size, len(s.small_files)
    gib = f"{big / GiB:g} GiB"
    g = summary.get

    def rate(key: str) -> str:
        return fmt_rate(big, g(key))

    def fx(a: str, b: str) -> str:
        va, vb = g(a), g(b)
        return f"{va / vb:.2f}x" if va and vb else "n/a"

    passed = sum(1 for c in checks if c.ok)
    failed = [c.name for c in checks if c.ok is False]
    skipped = [c.name for c in checks if c.ok is None]
    lines = [
        f"Figures ({env_line}; median of {repeat} run(s)):",
        f"- cp+sync {gib}: {fmt_s(g('cp_sync'))} ({rate('cp_sync')}); "
        f"dvc add {gib}: {fmt_s(g('dvc_big'))} ({rate('dvc_big')})",
        f"- kaon put {gib}: {fmt_s(g('put_big'))} ({rate('put_big')}) = "
        f"{fx('cp_sync', 'put_big')} cp+sync, {fx('dvc_big', 'put_big')} dvc add; "
        f"peak RSS client {fmt_mb(g('put_big_rss_client'))}, "
        f"server {fmt_mb(g('put_big_rss_server'))}",
        f"- kaon get {gib}: {fmt_s(g('get_big'))} ({rate('get_big')}) = "
        f"{fx('cp_sync', 'get_big')} cp+sync, {fx('cp', 'get_big')} cp, "
        f"{fx('cp_cold_sync', 'get_big')} cp+sync from a source not cached; "
        f"peak RSS client {fmt_mb(g('get_big_rss_client'))}, "
        f"server {fmt_mb(g('get_big_rss_server'))}",
        f"- kaon put -r {n:,} x {fmt_bytes(s.small_size)}: {fmt_s(g('put_small'))} "
        f"({fmt_files(n, g('put_small'))}) vs dvc add {fmt_s(g('dvc_small'))} "
        f"({fmt_files(n, g('dvc_small'))}) = {fx('dvc_small', 'put_small')}",
        f"- re-put unchanged: {gib} {fmt_s(g('reput_big'))} "
        f"({fx('reput_big', 'put_big')} of first), {fmt_bytes(g('reput_big_new'))} new; "
        f"{n:,} files {fmt_s(g('reput_small'))} ({fx('reput_small', 'put_small')} of first), "
        f"{fmt_bytes(g('reput_small_new'))} new",
        f"- kaon get -r {n:,} x {fmt_bytes(s.small_size)}: {fmt_s(g('get_small'))} "
        f"({fmt_files(n, g('get_small'))}) vs cp -r + sync {fmt_s(g('cp_r_sync'))} = "
        f"{fx('cp_r_sync', 'get_small')}",
        f"- one file changed: {fmt_bytes(g('change_small_new'))} new "
        f"({g('change_small_new_chunks') or 0:.0f} chunk), put -r {fmt_s(g('change_small'))} vs "
        f"dvc re-add {fmt_s(g('dvc_change_small'))} = {fx('dvc_change_small', 'change_small')}",
        f"- targets: {passed}/{len(checks)} PASS"
        + (f"; FAIL: {', '.join(failed)}" if failed else "")
        + (f"; SKIP: {', '.join(skipped)}" if skipped else ""),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="kaon ingest benchmark (vs cp+sync and dvc add, same run, same disk)."
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    p.add_argument(
        "--big-gib",
        type=float,
        default=1.0,
        help="size of the big file in GiB (5: streaming check)",
    )
    p.add_argument("--small-files", type=int, default=20_000, help="number of small files")
    p.add_argument("--small-kib", type=int, default=5, help="size of each small file in KiB")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the temp dir (data, KAON_HOME, cp target); default the system temp dir",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=HERE / ".cache",
        help="where the dvc venv and the CLIs' compiled modules are cached",
    )
    p.add_argument("--no-dvc", action="store_true", help="skip the dvc baselines")
    p.add_argument("--kaon", default=None, help="path of the kaon CLI (default: beside python)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    p.add_argument("--check", action="store_true", help="exit 1 if any target fails")
    p.add_argument(
        "--only",
        choices=("put", "get"),
        default=None,
        help="measure and check only the puts or only the gets (the gets still put the data "
        "first, untimed for the report; no dvc)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kaon = kaon_exe(args.kaon)
    dvc: Path | None = None
    dvc_version = "skipped (--no-dvc)"
    if args.only == "get":
        dvc_version = "skipped (--only get)"
    elif not args.no_dvc:
        dvc, dvc_version = ensure_dvc(args.cache_dir.absolute())
        if dvc is None:
            log(dvc_version)
    global PYCACHE
    PYCACHE = args.cache_dir.absolute() / "pycache"
    parent = args.workdir.absolute() if args.workdir else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-", dir=parent))
    big_size = int(args.big_gib * GiB)
    small_size = args.small_kib * KiB
    big = work / "data" / "big.bin"
    small = work / "data" / "small"
    setup = Setup(work, kaon, dvc, big, big_size, small, [], small_size, small)
    setup.measure_put = args.only != "get"
    setup.measure_get = args.only != "put"
    samples: list[Sample] = []
    error: str | None = None
    with terminate_as_exit():
        try:
            log(f"workdir {work}: writing {fmt_bytes(big_size)} + {args.small_files:,} small files")
            write_random(big, big_size)
            setup.small_files = make_small_tree(small, args.small_files, small_size)
            setup.changed = setup.small_files[len(setup.small_files) // 2]
            for rep in range(args.repeat):
                log(f"run {rep + 1}/{args.repeat}")
                samples.append(Sample())
                one_repetition(setup, rep, samples[-1])
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log(f"benchmark step failed: {error}")
        finally:
            for home in list(setup.live_homes):
                with contextlib.suppress(RuntimeError, OSError):
                    run([kaon, "down"], env=kaon_env(home))
            if args.keep:
                log(f"kept {work}")
            else:
                rmtree(work)

    fs = "?"
    with contextlib.suppress(RuntimeError, OSError):
        fs = run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(parent)]).strip()
    kaon_version = "?"
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        kaon_version = version("kaon")
    env_line = (
        f"{os.cpu_count()} CPU, {psutil.virtual_memory().total / GiB:.0f} GiB RAM, {fs} at "
        f"{parent}, Python {platform.python_version()}, kaon {kaon_version}, dvc {dvc_version}"
    )
    checks, info, summary = build_report(setup, samples)
    if args.only:
        checks = [c for c in checks if c.group == args.only]
    print()
    print(f"kaon ingest benchmark - {env_line}")
    print(
        f"data: 1 random file of {fmt_bytes(big_size)}; {args.small_files:,} random files of "
        f"{fmt_bytes(small_size)}; median of {len(samples)} run(s); wall clock of whole CLI "
        "commands (start-up included), untimed sync before each step"
    )
    if error:
        print(f"ERROR: a step failed, its figures and those after it are missing: {error}")
    print()
    print_table(
        ["CHECK", "KAON", "BASELINE", "RATIO", "TARGET", "RESULT"],
        [[c.name, c.kaon, c.baseline, c.ratio, c.target, verdict(c.ok)] for c in checks],
    )
    print()
    print_table(["MORE FIGURES", "VALUE"], info)
    print()
    print(figures_block(setup, checks, summary, env_line, len(samples)))
    if args.json:
        doc = {
            "env": env_line,
            "error": error,
            "median": summary,
            "runs": [smp.values for smp in samples],
            "checks": [c.__dict__ for c in checks],
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str))
    if error:
        return 1 if args.check else 0
    failed = any(c.ok is False for c in checks)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
