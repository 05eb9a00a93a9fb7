#!/usr/bin/env python3
"""The pipeline store's batch paths with many datum records (kaon.db.datums).

Loads --jobs jobs of --datums datum records each into a fresh database (SQLite file by
default; --url for PostgreSQL, e.g. a throw-away schema), every hash recorded by every job
(job 1 SUCCESS, the later ones SKIPPED: how an incremental pipeline's records pile up), or
with --distinct a new hash per record. Then times, median of --repeat:

  * `succeeded()` of 1,000 hashes (what a new job skips), and the SQL statements it runs;
  * `save_datums()` of 1,000 new records, and its statements;
  * `save_datums()` of those 1,000 again as FAILED (the rare path: their hashes ranked again);
  * `list_datums()` of one job's 1,000 records.

    uv run python benchmarks/pipeline_store.py [--jobs 200] [--datums 1000] [--distinct]
        [--url postgresql+psycopg://...] [--check]

--check: exit 1 unless a lookup of 1,000 hashes and a save of 1,000 records each run at most
8 statements and take at most 0.25 s (targets for a 200,000-row store on a laptop-class disk).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import log
from sqlalchemy import event

from kaon.core.pipelines.records import DatumState
from kaon.db.database import Database
from kaon.testing.pipeline_samples import datum, digest, gid, job, pipeline, version


def timed(repeat: int, fn: Callable[[], Any]) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--datums", type=int, default=1000)
    ap.add_argument("--distinct", action="store_true", help="a new hash per record")
    ap.add_argument("--url", help="a fresh, empty database (default: a temp SQLite file)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kaon-bench-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'kaon.db'}"
        with Database(url) as db:
            return run(db, args)


def run(db: Database, args: argparse.Namespace) -> int:
    store, n = db.pipelines, args.datums
    store.add_pipeline(pipeline(), version())
    started = time.perf_counter()
    for j in range(1, args.jobs + 1):
        store.add_job(job(j))
        state = DatumState.SUCCESS if j == 1 or args.distinct else DatumState.SKIPPED
        store.save_datums(
            [
                datum(j * n + i, job_n=j, state=state, hash_n=j * n + i if args.distinct else i)
                for i in range(n)
            ]
        )
    log(f"loaded {args.jobs * n:,} records in {time.perf_counter() - started:.1f} s")
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def counted(fn: Callable[[], Any]) -> int:
        statements.clear()
        fn()
        return len(statements)

    last = args.jobs * n if args.distinct else 0
    hashes = [digest(last + i, "b") for i in range(1000)]
    assert len(store.succeeded("edges", hashes)) == 1000
    fresh = [datum(10**9 + i, job_n=10**4) for i in range(1000)]
    failed = [dataclasses.replace(r, state=DatumState.FAILED, output=None) for r in fresh]
    rows = {
        "succeeded(1,000 hashes)": (
            timed(args.repeat, lambda: store.succeeded("edges", hashes)),
            counted(lambda: store.succeeded("edges", hashes)),
        ),
        "save_datums(1,000 new)": (
            timed(1, lambda: store.save_datums(fresh)),
            counted(lambda: store.save_datums(fresh)),
        ),
        "save_datums(1,000 demoted)": (
            timed(1, lambda: store.save_datums(failed)),
            counted(lambda: store.save_datums(failed)),
        ),
        "list_datums(1,000)": (
            timed(args.repeat, lambda: store.list_datums("edges", gid(1))),
            counted(lambda: store.list_datums("edges", gid(1))),
        ),
    }
    print(f"| {db.dialect}, {args.jobs * n:,} records | seconds | statements |")
    print("| --- | --- | --- |")
    for name, (seconds, count) in rows.items():
        print(f"| {name} | {seconds:.3f} | {count} |")
    checked = [rows["succeeded(1,000 hashes)"], rows["save_datums(1,000 new)"]]
    ok = all(s <= 0.25 and c <= 8 for s, c in checked)
    print("PASS" if ok else "FAIL")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
