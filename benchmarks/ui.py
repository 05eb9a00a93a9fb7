#!/usr/bin/env python3
"""The web UI's speed (issue 18): server time per page, bytes per page, first paint.

    uv run python benchmarks/ui.py [--quick] [--check] [--requests N]

On a platform in a temporary KAON_HOME (a real server, `kaon up`):
  * seed-000 data: tests/e2e/ui/story.py's story (workspace, data commit, a search of 3
    trials, models, an endpoint);
  * big: a repo of --commits commits (10,000; tiny files through the SDK's commit call, one
    request per commit) and a search of --trials trials (1,000; a trivial train script, -p 2).

The seed-000 pages are measured before the big data is made (the overview shows every
workspace). Every page of PAGES is asked --requests times (after one warm-up) as the signed-in platform
user; the server's own time is read from the `Server-Timing: page;dur=` header every UI
response carries (the handler's time, SDK round trips to the API included). Bytes: the body
as sent with `Accept-Encoding: gzip` and without. First paint: `first-contentful-paint` of the
job page in Debian's Chromium (headless, Playwright), median of 5 loads.

Targets: p95 <= 100 ms on the seed-000 data, <= 300 ms on the big data. A page answering 404
(built on another branch) is listed as absent, not a failure. --check exits 1 on a miss.
--quick: 500 commits, 50 trials, 10 requests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import log, print_table, rmtree, terminate_as_exit, verdict  # noqa: E402

from e2e.helpers import Kaon  # noqa: E402
from e2e.ui.conftest import CHROMIUM, DESKTOP, FLAGS, open_ui  # noqa: E402
from e2e.ui.story import seed_000, train_script  # noqa: E402

TARGET = {"seed-000": 100.0, "big": 300.0}  # ms, p95 of the server's time
# (data set, page, path template); fields: workspace job model repo commit endpoint, and for
# the big data set: big_workspace big_job big_model big_repo
PAGES: list[tuple[str, str, str]] = [
    ("seed-000", "signin", "/ui/signin"),
    ("seed-000", "overview", "/ui/"),
    ("seed-000", "workspace", "/ui/w/{workspace}"),
    ("seed-000", "job", "/ui/jobs/{job}"),
    ("seed-000", "model", "/ui/w/{workspace}/models/{model}"),
    ("seed-000", "endpoint", "/ui/endpoints/{endpoint}"),
    ("seed-000", "repo", "/ui/repos/{repo}"),
    ("seed-000", "commit", "/ui/repos/{repo}/commit/{commit}"),
    ("seed-000", "file (CSV preview)", "/ui/repos/{repo}/tree/master/digits.csv"),
    ("seed-000", "jobs", "/ui/w/{workspace}/jobs"),
    ("seed-000", "compare", "/ui/w/{workspace}/compare?m={model}&m={other}"),
    ("seed-000", "provenance (model)", "/ui/provenance/model/{workspace}/{model}"),
    ("seed-000", "provenance (commit)", "/ui/provenance/commit/{repo}@{commit}"),
    ("big", "overview", "/ui/"),
    ("big", "workspace of the search", "/ui/w/{big_workspace}"),
    ("big", "search job", "/ui/jobs/{big_job}"),
    ("big", "model of the search", "/ui/w/{big_workspace}/models/{big_model}"),
    ("big", "repo of many commits", "/ui/repos/{big_repo}"),
    ("big", "jobs of the search's workspace", "/ui/w/{big_workspace}/jobs"),
    ("big", "repos", "/ui/repos"),
]


def big_repo(k: Kaon, commits: int) -> str:
    client = k.client()
    client.create_repo("bigrepo")
    started = time.perf_counter()
    for i in range(commits):
        put = {"path": f"/shards/s{i % 100:03d}/c{i:05d}.txt", "size": 0, "chunks": []}
        client.commit("bigrepo", "master", [put], message=f"daily batch {i}")
        if (i + 1) % 2000 == 0:
            log(f"  {i + 1:,} commits")
    log(f"{commits:,} commits in {time.perf_counter() - started:.0f} s")
    client.close()
    return "bigrepo"


def big_search(k: Kaon, root: Path, trials: int) -> dict[str, Any]:
    k.ok("workspace", "create", "-n", "bigsearch")
    code = root / "code" / "search" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(train_script("trial done", "accuracy"))
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text("")
    (code / "params.json").write_text(json.dumps({"c": 1}))
    data = root / "data" / "features"
    data.mkdir(parents=True)
    (data / "x.csv").write_text("1,2\n")
    grid = root / "grid.json"
    grid.write_text(json.dumps({"c": list(range(1, trials + 1))}))
    started = time.perf_counter()
    args = ["-s", str(root / "code"), "-d", str(root / "data"), "-h", str(grid), "-p", "2"]
    p = k.run(
        "train",
        "deploy",
        *args,
        "--wait",
        "--json",
        env={"KAON_WORKSPACE": "bigsearch"},
        timeout=3 * 3600,
    )
    if p.returncode != 0:
        raise SystemExit(f"the search failed: {p.stderr.strip()}")
    job: dict[str, Any] = json.loads(p.stdout)
    log(f"{trials:,} trials in {time.perf_counter() - started:.0f} s ({job['state']})")
    return job


def ask(url: str, token: str, gzip: bool) -> tuple[int, float, int]:
    """(status, server ms, body bytes as sent)."""
    headers = {"Cookie": f"kaon_ui={token}", "Accept-Encoding": "gzip" if gzip else "identity"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            status, timing, body = r.status, r.headers.get("Server-Timing", ""), r.read()
    except urllib.error.HTTPError as e:
        status, timing, body = e.code, e.headers.get("Server-Timing", ""), e.read()
    ms = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
    return status, ms, len(body)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(base: str, token: str, fields: dict[str, str], n: int, which: str) -> list[list[str]]:
    rows: list[list[str]] = []
    for data, name, template in PAGES:
        if data != which:
            continue
        url = base + template.format(**fields)
        status, _, _ = ask(url, token, True)  # warm-up
        if status == 404:
            rows.append([data, name, "absent", "", "", "", "", "SKIP"])
            continue
        times = [ask(url, token, True)[1] for _ in range(n)]
        _, _, zipped = ask(url, token, True)
        _, _, plain = ask(url, token, False)
        high = p95(times)
        ok = high <= TARGET[data]
        rows.append(
            [
                data,
                name,
                str(status),
                f"{statistics.median(times):.1f}",
                f"{high:.1f}",
                f"{plain / 1024:.1f}",
                f"{zipped / 1024:.1f}",
                f"{verdict(ok)} (≤ {TARGET[data]:.0f})",
            ]
        )
    return rows


def first_paint(k: Kaon, path: str, loads: int = 5) -> float | None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        return None
    paints: list[float] = []
    with tempfile.TemporaryDirectory() as shots, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            ui = open_ui(browser, k, Path(shots), DESKTOP)
            for _ in range(loads):
                if ui.go(path).status == 404:
                    return None
                paint = ui.page.evaluate(
                    "performance.getEntriesByType('paint')"
                    ".filter(e => e.name === 'first-contentful-paint').map(e => e.startTime)"
                )
                paints.extend(paint)
        finally:
            browser.close()
    return statistics.median(paints) if paints else None


def main() -> int:
    p = argparse.ArgumentParser(description="The web UI's server time, bytes and first paint.")
    p.add_argument("--quick", action="store_true", help="500 commits, 50 trials, 10 requests")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--requests", type=int, default=None, help="per page (default 50)")
    p.add_argument("--commits", type=int, default=None)
    p.add_argument("--trials", type=int, default=None)
    args = p.parse_args()
    n = args.requests or (10 if args.quick else 50)
    commits = args.commits or (500 if args.quick else 10_000)
    trials = args.trials or (50 if args.quick else 1_000)
    root = Path(tempfile.mkdtemp(prefix="kaon-bench-ui-"))
    k = Kaon(root / "home")
    try:
        with terminate_as_exit():
            base = k.up()["url"]
            log("seed-000 story")
            story = seed_000(k, root / "story")
            token = (k.home / "token").read_text().strip()
            log(f"seed-000 pages x {n} requests")
            rows = measure(base, token, story.fields, n, "seed-000")
            paint = first_paint(k, f"/ui/jobs/{story.job['id']}")
            log(f"a repo of {commits:,} commits")
            repo = big_repo(k, commits)
            log(f"a search of {trials:,} trials (-p 2)")
            job = big_search(k, root / "search", trials)
            best = max(job["trials"], key=lambda t: t["metrics"].get("accuracy", 0))
            fields = {
                **story.fields,
                "big_workspace": "bigsearch",
                "big_job": job["id"],
                "big_model": best["model_id"] or "",
                "big_repo": repo,
            }
            log(f"big pages x {n} requests")
            rows += measure(base, token, fields, n, "big")
            big_paint = first_paint(k, f"/ui/jobs/{job['id']}")
    finally:
        k.shutdown()
        rmtree(root)
    print(f"\nweb UI, {commits:,} commits, {trials:,} trials, {n} requests a page")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min), 2 cores shared")
    headers = ["data", "page", "status", "p50 ms", "p95 ms", "KiB", "KiB gzip", "target"]
    print_table(headers, rows)
    for what, value in (("seed-000 job", paint), ("search job", big_paint)):
        said = f"{value:.0f} ms" if value is not None else "absent (no job page or Chromium)"
        print(f"first contentful paint, {what} page: {said}")
    missed = [r for r in rows if r[-1].startswith("FAIL")]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
