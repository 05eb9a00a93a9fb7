"""Server start-up: spawn -> /v1/health answering, against a baseline measured in the same run.

    uv run python benchmarks/startup.py              # 7 rounds (~1 min)
    uv run python benchmarks/startup.py --runs 15
    git archive REV src | tar -x -C /tmp/old && \
      uv run python benchmarks/startup.py --before /tmp/old/src   # and REV's, same rounds

Each round measures, in turn (interleaved, so a change of the machine's load hits all alike):

* baseline: spawn -> first HTTP answer of a minimal server importing what any FastAPI +
  SQLAlchemy server must import (fastapi, sqlalchemy, uvicorn: one `/health` route over
  uvicorn on port 0). It is the floor no kaon change can go below (the interpreter, the
  frameworks and a bind), so `kaon / baseline` is what kaon itself adds, on this machine now;
* fresh home: `python -m kaon.api --port 0` over a new KAON_HOME (what each test fixture
  runs): spawn -> server.json naming the process -> GET /v1/health 200;
* existing home: the same over a home a previous server created (no migration to run);
* `kaon up --port 0` over an existing home: the CLI's whole command (it returns once the
  server answers), then `kaon down` (untimed).

Polling every 5 ms (the fixtures poll every 50 ms). Prints the median and range of each, and
the median of the per-round ratios to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
from _common import kaon_exe, log, print_table, rmtree, stop_process, terminate_as_exit

POLL = 0.005
TIMEOUT = 120.0

BASELINE = """
import sys, fastapi, sqlalchemy, uvicorn
app = fastapi.FastAPI()
@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
server = uvicorn.Server(config)
sock = config.bind_socket()
open(sys.argv[1], "w").write(str(sock.getsockname()[1]))
server.run(sockets=[sock])
"""


def _env(home: Path, src: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env["KAON_HOME"] = str(home)
    if src is not None:  # another kaon's source, ahead of the installed one
        env["PYTHONPATH"] = str(src)
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(proc: subprocess.Popen[bytes], url_of: Callable[[], str | None]) -> tuple[float, float]:
    """Seconds until `url_of()` names a URL that answers 200 (from now, the spawn), and the
    CPU seconds (user + system) the server had used by then: the wall time follows the
    machine's load, its CPU much less."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < TIMEOUT:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        url = url_of()
        if url and _answers(url):
            took = time.perf_counter() - t0
            cpu = psutil.Process(proc.pid).cpu_times()
            return took, cpu.user + cpu.system
        time.sleep(POLL)
    raise SystemExit(f"no answer within {TIMEOUT} s")


def baseline(work: Path) -> tuple[float, float]:
    port_file = work / "baseline.port"
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", BASELINE, str(port_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def url() -> str | None:
        try:
            return f"http://127.0.0.1:{int(port_file.read_text())}/health"
        except (OSError, ValueError):
            return None

    try:
        return _wait(proc, url)
    finally:
        stop_process(proc)


def kaon_server(home: Path, src: Path | None = None) -> tuple[float, float]:
    home.mkdir(parents=True, exist_ok=True)
    with (home / "bench-server.log").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kaon.api", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(home, src),
        )

    def url() -> str | None:
        try:
            doc = json.loads((home / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return f"{doc['url']}/v1/health" if doc.get("pid") == proc.pid else None

    try:
        return _wait(proc, url)
    finally:
        stop_process(proc)


def kaon_up(kaon: Path, home: Path, src: Path | None = None) -> float:
    env = _env(home, src)
    t0 = time.perf_counter()
    subprocess.run(
        [str(kaon), "up", "--port", "0"], env=env, check=True, capture_output=True, timeout=TIMEOUT
    )
    took = time.perf_counter() - t0
    subprocess.run([str(kaon), "down"], env=env, check=True, capture_output=True, timeout=60)
    return took


def _summary(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} s [{min(xs):.3f}-{max(xs):.3f}]"


def _ratio(xs: list[float], base: list[float]) -> str:
    ratios = [x / b for x, b in zip(xs, base, strict=True)]
    return f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--kaon", default=None, help="the kaon CLI (default: beside this Python)")
    parser.add_argument("--workdir", default=None, help="where the temp homes go")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="the src/ folder of another kaon (`git archive REV src | tar -x -C DIR`): its "
        "server and `kaon up` are measured in the same rounds (PYTHONPATH), as `before`",
    )
    args = parser.parse_args()
    kaon = kaon_exe(args.kaon)
    work = Path(tempfile.mkdtemp(prefix="kaon-bench-startup-", dir=args.workdir))
    kinds = [("", None)] + ([("before ", args.before.resolve())] if args.before else [])
    times: dict[str, list[float]] = {"baseline": []}
    cpus: dict[str, list[float]] = {"baseline": []}
    for tag, _ in kinds:
        times |= {f"{tag}fresh": [], f"{tag}existing": [], f"{tag}up": []}
        cpus |= {f"{tag}fresh": [], f"{tag}existing": []}
    try:
        for tag, src in kinds:  # untimed: the homes exist (migrated) before the rounds
            kaon_server(work / f"{tag}existing", src)
            kaon_up(kaon, work / f"{tag}up", src)
        log(f"load average before: {os.getloadavg()[0]:.1f}")
        for i in range(args.runs):
            fresh = work / f"fresh-{i}"
            took, cpu = baseline(work)
            times["baseline"].append(took)
            cpus["baseline"].append(cpu)
            for tag, src in kinds:
                for key, home in (("fresh", fresh), ("existing", work / f"{tag}existing")):
                    took, cpu = kaon_server(home, src)
                    times[tag + key].append(took)
                    cpus[tag + key].append(cpu)
                rmtree(fresh)
                times[f"{tag}up"].append(kaon_up(kaon, work / f"{tag}up", src))
            log(
                f"round {i + 1}/{args.runs}: "
                + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items())
            )
        log(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        rmtree(work)
    base = times["baseline"]
    names = {"baseline": "baseline: minimal fastapi+sqlalchemy+uvicorn app"}
    for tag, _ in kinds:
        names |= {
            f"{tag}fresh": f"{tag}python -m kaon.api --port 0, fresh home",
            f"{tag}existing": f"{tag}python -m kaon.api --port 0, existing home",
            f"{tag}up": f"{tag}kaon up --port 0 (existing home), whole command",
        }
    rows = []
    for key, name in names.items():
        row = [name, _summary(times[key]), _ratio(times[key], base)]
        if key in cpus:
            row += [_summary(cpus[key]), _ratio(cpus[key], cpus["baseline"])]
        else:
            row += ["(two processes)", ""]
        rows.append(row)
    print(f"spawn -> answering, {args.runs} rounds (median [range]; ratio: median of per-round)")
    print_table(["what", "wall", "/ baseline", "server CPU", "/ baseline"], rows)
    if args.before:
        print("\nthis kaon / before (median of per-round ratios [range])")
        for key in ("fresh", "existing", "up"):
            line = f"{key:9s} wall {_ratio(times[key], times['before ' + key])}"
            if key in cpus:
                line += f", server CPU {_ratio(cpus[key], cpus['before ' + key])}"
            print(line)


if __name__ == "__main__":
    with terminate_as_exit():
        main()
