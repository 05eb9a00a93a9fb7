"""Server time of the web UI's repo pages (issue 18): the Server-Timing header of each page,
p50/p95 over `--repeat` loads, on a small repo (the files of the browser tests) and on a repo
of `--commits` commits (default 10,000; budget p95 <= 300 ms).

    uv run python benchmarks/ui_repos.py                  # ~3 min on the 2-core machine
    uv run python benchmarks/ui_repos.py --commits 2000 --repeat 10

A fresh KAON_HOME (free port) in a temp dir, `kaon up`; the long repo is built through the SDK
with low-level commits that reuse one uploaded file's chunk (one request per commit: what is
measured is the pages, not the upload). Pages are fetched with the UI's session cookie over
one keep-alive connection; the server is stopped and the temp dir removed at the end."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import kaon_exe, log, print_table, rmtree, stop_server, verdict

from kaon.client import Client

BUDGET_MS = 300.0


def server_ms(conn: http.client.HTTPConnection, path: str, cookie: str) -> float:
    conn.request("GET", path, headers={"Cookie": f"kaon_ui={cookie}"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    timing = response.getheader("Server-Timing", "")
    return float(timing.partition("dur=")[2] or "nan")


def build(client: Client, scratch: Path, commits: int) -> dict[str, str]:
    """`small`: a CSV and a JSON in two commits; `long`: `commits` commits, each adding an
    (empty) file in one of 100 folders, and every 100th adding or removing /marker (its
    history: commits/100 entries spread over the whole chain). Empty files need no upload:
    one request per commit."""
    client.create_repo("small")
    (scratch / "t.csv").write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(5000)))
    (scratch / "n.json").write_text(json.dumps({"k": list(range(100))}))
    first = client.put("small@master:/t.csv", scratch / "t.csv", message="csv").commit
    last = client.put("small@master:/n.json", scratch / "n.json", message="json").commit
    client.create_repo("long")
    started = time.perf_counter()
    for i in range(commits):
        puts = [{"path": f"/d{i % 100:02d}/f{i:05d}.txt", "size": 0, "chunks": []}]
        deletes: list[str] = []
        if i % 100 == 0:
            if i % 200:
                deletes = ["/marker"]
            else:
                puts.append({"path": "/marker", "size": 0, "chunks": []})
        client.commit("long", "master", puts, deletes, message=f"commit {i}")
        if i and i % 1000 == 0:
            log(f"{i} commits ({time.perf_counter() - started:.0f} s)")
    return {"small_first": first.id, "small_last": last.id}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--kaon", default=None, help="the kaon CLI (default: this venv's)")
    args = ap.parse_args()
    kaon = kaon_exe(args.kaon)
    work = Path(tempfile.mkdtemp(prefix="kaon-ui-repos-"))
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env |= {"KAON_HOME": str(home), "KAON_PORT": "0"}
    try:
        subprocess.run([str(kaon), "up"], env=env, check=True, capture_output=True)
        server = json.loads((home / "server.json").read_text())
        token = (home / "token").read_text().strip()
        with Client(server["url"], token) as client:
            ids = build(client, work, args.commits)
            long_head = client.list_commits("long", "master", limit=1)[0]
            middle = client.list_commits("long", "master", limit=args.commits // 2)[-1]
        pages = {
            "repos": "/ui/repos",
            "small: repo": "/ui/repos/small",
            "small: tree": "/ui/repos/small/tree/master",
            "small: csv preview": "/ui/repos/small/tree/master/t.csv",
            "small: json preview": "/ui/repos/small/tree/master/n.json",
            "small: diff": f"/ui/repos/small/diff?old={ids['small_first']}&new={ids['small_last']}",
            "small: history": "/ui/repos/small/history/master/t.csv",
            "small: commit": f"/ui/repos/small/commit/{ids['small_last']}",
            "long: repo (commits page 1)": "/ui/repos/long",
            "long: commits from the middle": f"/ui/repos/long?start={middle.id}",
            "long: tree (100 folders)": "/ui/repos/long/tree/master",
            "long: folder (100 files)": "/ui/repos/long/tree/master/d07",
            "long: history of /marker": "/ui/repos/long/history/master/marker",
            "long: commit": f"/ui/repos/long/commit/{long_head.id}",
            "long: diff of the whole chain": f"/ui/repos/long/diff?new={long_head.id}"
            f"&old={middle.id}",
        }
        url = urlsplit(server["url"])
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
        rows = []
        worst = 0.0
        for name, path in pages.items():
            server_ms(conn, path, token)  # warm
            times = sorted(server_ms(conn, path, token) for _ in range(args.repeat))
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, p95)
            rows.append([name, f"{statistics.median(times):.1f}", f"{p95:.1f}"])
            log(f"{name}: p95 {p95:.1f} ms")
        conn.close()
        print(
            f"\nServer-Timing of the repo pages (ms, {args.repeat} loads each; long repo: "
            f"{args.commits} commits)\n"
        )
        print_table(["page", "p50", "p95"], rows)
        print(f"\nworst p95 {worst:.1f} ms: {verdict(worst <= BUDGET_MS)} (budget {BUDGET_MS} ms)")
        return 0
    finally:
        stop_server(kaon, home, env)
        rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
