#!/usr/bin/env python3
"""Notebook start-up: `kaon notebook deploy` → JupyterLab's page answering 200 through the
gateway (`GET /<name>/lab?token=<token>`), on a platform of its own (a temporary KAON_HOME).

Three starts of the built-in template (its requirements + JupyterLab, ~90 packages):
  * cold, empty uv cache (--with-empty-cache): every package downloaded (a fresh UV_CACHE_DIR);
  * cold environment: this KAON_HOME has no environment yet, uv's cache has the packages
    (hard-linked or copied from it, bytecode compiled);
  * warm: a second notebook of the same requirements (the environment is reused: only
    JupyterLab's own start remains).
Timed from the start of the CLI command to the first 200 of the lab page (polled every 0.1 s).
Target: warm ≤ 15 s (docs/notebooks.md). Prints one line per start and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

KAON = [sys.executable, "-m", "kaon.cli.main"]
TARGET_WARM = 15.0


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*KAON, *args], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"kaon {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(env: dict[str, str], base: str, name: str) -> float:
    began = time.monotonic()
    done = json.loads(run(env, "notebook", "deploy", "--name", name, "--json"))
    url = f"{base}/{name}/lab?token={done['token']}"
    while not answers(url):
        if time.monotonic() - began > 900:
            raise SystemExit(f"{name} did not answer within 900 s")
        time.sleep(0.1)
    return time.monotonic() - began


def platform(home: Path, cache: Path | None) -> tuple[dict[str, str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env |= {"KAON_HOME": str(home), "KAON_PORT": "0", "KAON_WORKSPACE": "bench"}
    if cache is not None:
        env["UV_CACHE_DIR"] = str(cache)
    run(env, "up")
    base = json.loads((home / "server.json").read_text())["url"]
    run(env, "workspace", "create", "-n", "bench")
    return env, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--with-empty-cache", action="store_true", help="also a start with no uv cache"
    )
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    scratch = Path(tempfile.mkdtemp(prefix="kaon-bench-nb-"))
    try:
        if args.with_empty_cache:
            env, base = platform(scratch / "empty", scratch / "uv-cache")
            try:
                results.append(("cold, empty uv cache", start(env, base, "nb-empty")))
            finally:
                run(env, "down")
        env, base = platform(scratch / "home", None)
        try:
            results.append(("cold environment, uv cache warm", start(env, base, "nb-cold")))
            results.append(("warm (same requirements)", start(env, base, "nb-warm")))
        finally:
            run(env, "down")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for what, seconds in results:
        print(f"{what:34s} deploy → lab 200: {seconds:6.1f} s")
    warm = results[-1][1]
    print(
        f"load average {os.getloadavg()[0]:.1f}; warm target ≤ {TARGET_WARM:g} s: "
        f"{'PASS' if warm <= TARGET_WARM else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
