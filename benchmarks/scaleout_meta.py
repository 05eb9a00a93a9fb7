#!/usr/bin/env python3
"""Metadata at scale on PostgreSQL (issue 17): a repo of 1,000,000 files over 10,000 commits
and a provenance graph of ~1,000,000 edges, then the read paths through a real server.

Targets (PASS/FAIL), each the median of --picks requests through the SDK (`kaon.client.Client`,
real HTTP to `python -m kaon.api` on the filled database), warm (the server has answered the
same kind of request before); the first, cold request is reported beside it:

  * `list file` of a 100,000-file folder, first page (`list_files(limit=100)`): <= 100 ms;
  * `list commit` first page (`list_commits(limit=50)`): <= 50 ms;
  * ancestry <= 50 ms: a model's provenance (`GET .../models/<id>/provenance`), and a commit's
    ancestors (`list_commits(<a commit 5,000 deep>, limit=50)`);
  * subvenance of a busy commit (the data commit most jobs used): <= 200 ms.

How the data is written (fast, but what kaon writes):
  * files: every commit's trees are built by kaon's own `apply_changes` and saved by the real
    `TreeStore` into the server's local object store (`file://$KAON_HOME/objects`), the commit
    object too; the commit rows and the branch head are then inserted in batches with the
    statement `SqlMetadataStore.add_commit` runs (the `commits` columns, the branch's head).
    Commit 1 puts 100,000 files in /big; the 9,999 others ~90 files each under
    /shards/sNNN/cNNNNN/ (a user's daily batches). Chunks are not written (no route measured
    here reads a chunk).
  * provenance: benchmarks/provenance.py's synthetic history (training jobs using data, code,
    params and environments, models, deploys, feedback; the node ids and shapes
    `kaon.services.provenance` records), scaled to ~1,000,000 edges and recorded through the
    store's batch path `SqlProvenanceStore.record`. No derived-from lineage (nothing records it).

    uv run python benchmarks/scaleout_meta.py [--postgres ADMIN_URL] [--quick] [--workdir DIR]
        [--json FILE] [--keep] [--check]

Without --postgres a throw-away server is started (tests/pgfixtures.py). Exit 1 with --check
when a target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import log, rmtree, terminate_as_exit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from provenance import Shape, record_all, start_server, stop_server, synthesize
from sqlalchemy import create_engine, insert, text

from kaon.client import Client
from kaon.core.commit import Commit, seal
from kaon.core.ids import BranchName, CommitId, Digest, RepoName
from kaon.core.repo import Repo
from kaon.core.tree import ChunkRef, FileContent, apply_changes
from kaon.db import schema
from kaon.db.database import Database
from kaon.services.trees import TreeStore
from kaon.store.local import LocalObjectStore
from pgfixtures import new_pg_database, throwaway_postgres

REPO = "big"
TARGETS = {  # seconds, medians
    "list file /big (first page)": 0.100,
    "list commit (first page)": 0.050,
    "model ancestry (provenance)": 0.050,
    "commit ancestry (5,000 deep)": 0.050,
    "subvenance of the busiest commit": 0.200,
}


def arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: start one)")
    p.add_argument("--commits", type=int, help="default 10,000 (--quick: 2,000)")
    p.add_argument("--files", type=int, help="default 1,000,000 (--quick: 200,000)")
    p.add_argument("--folder", type=int, help="files of /big (commit 1): 100,000 (--quick: 20,000)")
    p.add_argument("--jobs", type=int, help="provenance job nodes: 145,000 (--quick: 30,000)")
    p.add_argument("--picks", type=int, help="requests per measured route: 30 (--quick: 10)")
    p.add_argument("--quick", action="store_true", help="the smaller sizes above")
    p.add_argument("--workdir", type=Path, help="where the server's home goes (default: temp)")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep PostgreSQL and print its URL")
    p.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    return p


SIZES = {  # option: (full, --quick)
    "commits": (10_000, 2_000),
    "files": (1_000_000, 200_000),
    "folder": (100_000, 20_000),
    "jobs": (145_000, 30_000),
    "picks": (30, 10),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = arg_parser().parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


# -- writing -------------------------------------------------------------------------------


def _batches(n: int, parts: int) -> Iterator[int]:
    """`n` split into `parts` near-equal sizes."""
    q, r = divmod(n, parts)
    for i in range(parts):
        yield q + (1 if i < r else 0)


def fill_files(url: str, home: Path, args: argparse.Namespace) -> list[Commit]:
    """The repo's commits (oldest first): trees through TreeStore, rows as add_commit writes."""
    trees = TreeStore(LocalObjectStore(home / "objects"))
    db = Database(url)
    db.metadata.create_repo(Repo(RepoName(REPO), time.time(), "1,000,000 files"))
    db.close()
    sizes = [args.folder, *_batches(args.files - args.folder, args.commits - 1)]
    commits: list[Commit] = []
    root: Digest | None = None
    t0 = time.time() - 86400.0 * len(sizes) / 24  # an hour apart, ending now
    serial = 0
    for i, n in enumerate(sizes):
        puts: dict[str, FileContent] = {}
        for _ in range(n):
            serial += 1
            where = f"/big/f{serial:06d}.bin" if i == 0 else f"/shards/s{i % 100:03d}/c{i:05d}"
            path = where if i == 0 else f"{where}/f{serial:07d}.bin"
            size = 1000 + serial % 50_000
            puts[path] = FileContent(size, (ChunkRef(Digest(os.urandom(32).hex()), size),))
        tree = apply_changes(root, puts, (), trees.load, trees.save)
        root = trees.save(tree)
        at = t0 + 3600.0 * i
        commit = seal(
            Commit(
                id=CommitId(""),
                repo=RepoName(REPO),
                branch=BranchName("master"),
                parent=commits[-1].id if commits else None,
                tree=root,
                size=tree.size,
                count=tree.count,
                message=f"batch {i}",
                author="bench",
                started=at,
                finished=at + 1.0,
            )
        )
        trees.save_commit(commit)
        commits.append(commit)
        if i % 1000 == 0:
            log(f"  {i:,} commits, {serial:,} files")
    trees.sync()
    engine = create_engine(url)
    cols = [c.key for c in schema.commits.columns]
    with engine.begin() as conn:
        for k in range(0, len(commits), 2000):
            rows = [{c: getattr(x, c) for c in cols} for x in commits[k : k + 2000]]
            conn.execute(insert(schema.commits), rows)
        conn.execute(
            insert(schema.branches), {"repo": REPO, "name": "master", "head": commits[-1].id}
        )
    engine.dispose()
    return commits


def fill_provenance(url: str, args: argparse.Namespace) -> tuple[int, str, int, list[str]]:
    """Record the synthetic history; (edges, the busiest data commit, its jobs, models)."""
    shape = Shape(
        data_commits=args.commits,
        jobs=args.jobs,
        repos=8,
        code_commits=max(60, args.jobs // 36),  # ~4,000 for 145,000 jobs
        code_repos=60,
        envs=max(60, args.jobs // 290),
        endpoints=max(3, args.jobs // 480),
        deploys=max(10, args.jobs // 24),
        feedback=10,
        feedback_loop=0.0,
        lineage=False,
    )
    h = synthesize(shape, 1)
    db = Database(url)
    log(f"  recording {h.edges:,} edges")
    record_all(db.provenance, h, 5000)
    db.close()
    busiest, jobs = h.fanout.most_common(1)[0]
    return h.edges, busiest.split(":", 1)[1], jobs, h.models


# -- measuring -----------------------------------------------------------------------------


_SERVER: list[Any] = []  # the server's psutil.Process, once started
CPU: list[float] = []  # the server's CPU seconds per warm request, one per timed()


def timed(fn: Callable[[], Any], picks: int) -> tuple[float, float, Any]:
    """(cold: the first call, warm: the median of the next `picks`, the last answer). The
    server's CPU time per warm request is appended to CPU (wall times depend on the load of
    a shared machine; CPU time much less)."""
    t = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t
    runs = []
    before = _SERVER[0].cpu_times() if _SERVER else None
    for _ in range(picks):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    if before is not None:
        after = _SERVER[0].cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        CPU.append(used / max(1, picks))
    return cold, statistics.median(runs), out


def tree_costs(entries: int) -> str:
    """What one folder of `entries` files costs a server: its tree object's size (zstd, as
    stored), decoding it (what a cold `list file` pays, CPU time) and the decoded tree's
    memory (what the TreeStore's LRU of 4,096 trees holds per big folder)."""
    import tracemalloc

    from kaon.core import zstd
    from kaon.core.tree import FileNode, Tree

    tree = Tree(
        tuple(
            FileNode(f"f{i:07d}.bin", 1000 + i, (ChunkRef(Digest(os.urandom(32).hex()), 1000 + i),))
            for i in range(entries)
        )
    )
    raw = tree.encode()
    stored = zstd.compressor(3).compress(raw)
    t = time.process_time()
    decoded = Tree.decode(zstd.decompressor().decompress(stored))
    decode_s = time.process_time() - t
    del decoded
    tracemalloc.start()
    kept = Tree.decode(raw)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return (
        f"a {entries:,}-file folder: tree object {len(stored) / 1e6:.1f} MB stored "
        f"({len(raw) / 1e6:.1f} MB JSON), decoded in {decode_s * 1000:.0f} ms of CPU, "
        f"{held / 1e6:.0f} MB in memory"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kaon-scaleout-meta-", dir=args.workdir))
    home = work / "home"
    home.mkdir()
    results: list[tuple[str, float, float, str]] = []
    try:
        with (
            terminate_as_exit(),
            throwaway_postgres() if not args.postgres else _given(args.postgres) as admin,
        ):
            url = new_pg_database(admin)
            Database(url).close()  # migrated to head
            log(f"files: {args.files:,} over {args.commits:,} commits")
            t = time.perf_counter()
            commits = fill_files(url, home, args)
            files_s = time.perf_counter() - t
            log(f"provenance: {args.jobs:,} jobs")
            t = time.perf_counter()
            edges, busy, busy_jobs, models = fill_provenance(url, args)
            prov_s = time.perf_counter() - t
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
            engine.dispose()
            log(
                f"written: files {files_s:.0f} s, provenance {prov_s:.0f} s ({edges:,} edges); "
                f"database {int(size or 0) / 1e6:,.0f} MB"
            )
            server = start_server(home, url)
            import psutil

            _SERVER.append(psutil.Process(server.proc.pid))
            try:
                base = f"http://{server.host}:{server.port}"
                with Client(base, server.token) as c:
                    results += measure(c, args, commits, busy, busy_jobs, models)
            finally:
                stop_server(server.proc)
            failed = report(args, results, edges)
            if args.keep:
                keep(url, home, busy, models)
    finally:
        rmtree(work)
    return 1 if failed and args.check else 0


def report(
    args: argparse.Namespace, results: list[tuple[str, float, float, str]], edges: int
) -> bool:
    """Print the figures (and write them to --json); whether a target failed."""
    print()
    print(
        f"kaon metadata at scale on PostgreSQL: {args.files:,} files over {args.commits:,} "
        f"commits, {edges:,} provenance edges; {os.cpu_count()} CPU"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (wall times scale with it)")
    print(tree_costs(args.folder))
    print(f"{'request':<36} {'cold':>9} {'warm med':>9} {'srv CPU':>8} {'target':>8}  result")
    failed = False
    cpus = CPU + [0.0] * len(results)
    for (name, cold, warm, note), cpu in zip(results, cpus, strict=False):
        target = TARGETS.get(name)
        ok = target is None or warm <= target
        failed |= not ok
        verdict = "" if target is None else ("PASS" if ok else "FAIL")
        goal = f"{target * 1000:.0f} ms" if target else "-"
        print(
            f"{name:<36} {cold * 1000:>6.1f} ms {warm * 1000:>6.1f} ms {cpu * 1000:>5.1f} ms "
            f"{goal:>8}  {verdict} {note}"
        )
    if args.json:
        figures = {
            "files": args.files,
            "commits": args.commits,
            "edges": edges,
            "load": os.getloadavg()[0],
            "requests": [
                {
                    "name": name,
                    "cold": cold,
                    "warm": warm,
                    "target": TARGETS.get(name),
                    "note": note,
                }
                for name, cold, warm, note in results
            ],
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return failed


def keep(url: str, home: Path, busy: str, models: list[str]) -> None:
    """--keep: leave the filled database up (to EXPLAIN ANALYZE its queries) until Ctrl-C or
    SIGTERM; what it holds is written to kept.json beside the home."""
    import contextlib
    import signal

    facts = {"url": url, "home": str(home), "busy_commit": busy, "models": models[:50]}
    (home.parent / "kept.json").write_text(json.dumps(facts, indent=2))
    log(f"kept: {home.parent / 'kept.json'}: database {url}; Ctrl-C or SIGTERM to drop it")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def measure(
    c: Client,
    args: argparse.Namespace,
    commits: list[Commit],
    busy: str,
    busy_jobs: int,
    models: list[str],
) -> list[tuple[str, float, float, str]]:
    out: list[tuple[str, float, float, str]] = []
    n = args.picks
    c.create_workspace("bench")  # the synthetic models' workspace
    cold, warm, page = timed(lambda: c.list_files(REPO, "master", "/big", limit=100), n)
    out.append(("list file /big (first page)", cold, warm, f"{len(page)} of {args.folder:,}"))
    last = page[-1].path
    cold, warm, page = timed(lambda: c.list_files(REPO, "master", "/big", limit=100, after=last), n)
    out.append(("list file /big (second page)", cold, warm, f"{len(page)} entries"))
    cold, warm, page = timed(lambda: c.list_commits(REPO, "master", 50), n)
    out.append(("list commit (first page)", cold, warm, f"{len(page)} of {len(commits):,}"))
    deep = commits[len(commits) // 2].id
    cold, warm, page = timed(lambda: c.list_commits(REPO, deep, 50), n)
    out.append(("commit ancestry (5,000 deep)", cold, warm, f"{len(page)} commits"))
    picks = [m.split("/", 1)[1] for m in models[:: max(1, len(models) // n)]][:n]
    it = iter(picks * 2)
    cold, warm, graph = timed(lambda: c.provenance("bench", next(it)), n - 1)
    out.append(("model ancestry (provenance)", cold, warm, f"{len(graph.graph.nodes)} nodes"))
    cold, warm, graph = timed(lambda: c.subvenance(busy), n)
    out.append(
        (
            "subvenance of the busiest commit",
            cold,
            warm,
            f"{busy_jobs} jobs used it; {len(graph.graph.nodes)} nodes",
        )
    )
    # a workspace's viewer (not an admin): each job node's workspace is looked up (the
    # synthetic jobs have no job rows, so they are left out of the answer)
    viewer = c.add_user("viewer").secret
    c.share("bench", "viewer", "viewer")
    with Client(c.endpoint, viewer) as v:
        cold, warm, graph = timed(lambda: v.subvenance(busy), n)
        out.append(("subvenance, as a viewer", cold, warm, f"{len(graph.graph.nodes)} nodes"))
    return out


class _given:
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
