"""The crash and concurrency probes of issue 13, re-run against a real `kaon` server.

Each sub-probe (`--only a,b`) starts its own platform in a fresh KAON_HOME (free ports) and
counts what must never happen (targets 0) or times what must stay small:

  crash     kill -9 of the CLI mid-put (a big file, a folder of many files) and of the server
            mid-put and mid-gc, then `kaon up`: the repo holds either nothing new or the
            complete commit (every file's blake2b compared), earlier data is intact, `kaon gc`
            then works (it runs after the killed upload's lease expired, so it reclaims it) and
            leaves everything intact, and the same put again succeeds and reads back the same.
            Violations: every check that does not hold, counted per case.
  writers   `--writers` SDK writers (one Client and Uploader each), `--writers` S3 writers
            (boto3 PutObject through the gateway) and `--cli-writers` CLI processes, all at once,
            each putting its own file on the same branch: files lost (missing or different when
            read back) and errors.
  gcrace    puts while `kaon gc` runs back to back (benchmarks/gc_race.py's cases, smaller by
            default): puts failed and bytes re-sent because of gc.
  jobs      kill -9 of the server while training jobs run whose code prints nothing, leaves
            its session with a child (setsid) and a grandchild (plain and `--sandbox`): the
            job's processes still alive `--orphan-wait` s later, and once `kaon up` ran, how
            many S3 keys of jobs that are not running (the killed ones, one finished normally)
            still authenticate at the S3 gateway (boto3 ListBuckets; a user's key must work,
            as a control).
  sandbox   deploy -> user code running (the tiny train of benchmarks/train.py prints its
            start time) with the default bubblewrap (KAON_HOME hidden), with `--sandbox` (no
            network either) and with bubblewrap off (a `bwrap` on the server's PATH that fails
            the server's probe: kaon then runs the job unisolated and its log says so); two
            servers at once, deploys interleaved, median of `--repeat`; the default's median
            must stay within train.py's <= 1 s target.

    uv run python benchmarks/probe.py                      # ~5 min on 2 cores (16 loaded)
    uv run python benchmarks/probe.py --only jobs,sandbox  # a subset
    uv run python benchmarks/probe.py --quick              # smaller data, fewer rounds (~2 min)
    uv run python benchmarks/probe.py --check              # exit 1 if a target is missed

Exit code 0 unless --check is given and a target is missed (or a probe could not run).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gc_race
import psutil
import train as train_bench
from _common import kaon_exe, log, print_table, rmtree, stop_server, terminate_as_exit, verdict

from kaon.client.localfiles import plan
from kaon.client.upload import Uploader

MB = 1000 * 1000
LEASE = 2  # s: upload leases of the crash probe's platform (what a killed put left expires)
PROBES = ("crash", "writers", "gcrace", "jobs", "sandbox")


@dataclass
class Figure:
    probe: str
    name: str
    value: Any
    target: str
    ok: bool | None
    detail: str = ""


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        probe: str,
        name: str,
        value: Any,
        ok: bool | None,
        target: str = "0",
        detail: str = "",
    ) -> None:
        self.figures.append(Figure(probe, name, value, target, ok, detail))


class Platform(gc_race.Platform):
    """gc_race's platform (CLI, SDK client) that can also be killed and brought back."""

    def __init__(self, kaon: Path, home: Path, **env: str) -> None:
        super().__init__(kaon, home)
        self.env.update(env)
        self.pids: set[int] = set()

    def up(self) -> dict[str, Any]:
        self.ok("up")
        doc = self.server()
        self.pids.add(int(doc["pid"]))
        return doc

    def server(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "server.json").read_text()))

    def kill_server(self) -> None:
        pid = int(self.server()["pid"])
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).wait(10)

    def down(self) -> None:
        stop_server(self.kaon, self.home, self.env)
        for pid in self.pids:  # a server killed and restarted: none may survive the probe
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.environ().get("KAON_HOME") == str(self.home):
                    proc.kill()

    def ok_env(self, env: dict[str, str], *args: str) -> str:
        p = self.run(*args, env=env)
        out, err = p.communicate(timeout=600)
        if p.returncode:
            raise RuntimeError(f"kaon {' '.join(args)} failed ({p.returncode}): {err.strip()}")
        return out

    def code(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> tuple[int, str, str]:
        p = self.run(*args, env=env)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err


@contextlib.contextmanager
def platform_in(work: Path, name: str, kaon: Path, **env: str) -> Any:
    p = Platform(kaon, work / name, **env)
    log(f"{name}: kaon up in {p.home}")
    p.up()
    try:
        yield p
    finally:
        p.down()


# ---------------------------------------------------------------------------------------
# data and checks


def digest(path: Path) -> str:
    h = hashlib.blake2b()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def tree_digests(root: Path) -> dict[str, str]:
    if root.is_file():
        return {root.name: digest(root)}
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def read_back(p: Platform, spec: str, dest: Path) -> dict[str, str] | None:
    """`kaon get` of `spec` (a folder, or a file when it has a suffix) into `dest`; the
    digests as `tree_digests` of the original gives them, None if the get fails."""
    rmtree(dest)
    name = spec.rsplit("/", 1)[-1]
    is_file = "." in name
    out = dest / name if is_file else dest
    code, _out, err = p.code("get", "file", spec, "-o", str(out), *([] if is_file else ["-r"]))
    if code:
        log(f"get {spec} failed ({code}): {err.strip()[-300:]}")
        return None
    got = tree_digests(out)
    rmtree(dest)
    return got


def head_commits(p: Platform, repo: str) -> list[str]:
    with p.client() as c:
        return [x.id for x in c.list_commits(repo, "master")]


def stored(home: Path) -> dict[str, int]:
    """The files under the store and the drop folder, and their sizes."""
    found = {}
    for top in (home / "objects", home / "incoming"):
        for folder, _dirs, files in os.walk(top):
            for name in files:
                with contextlib.suppress(OSError):
                    path = Path(folder) / name
                    found[str(path.relative_to(home))] = path.stat().st_size
    return found


def grown(home: Path) -> int:
    """Bytes under the store and the drop folder (what an upload has written so far)."""
    return sum(stored(home).values())


def kinds(files: dict[str, int]) -> str:
    """What a set of store files is, by kind: 'temp pack 32 MB, pack 8 MB'."""
    sizes: dict[str, int] = {}
    for path, size in files.items():
        name = Path(path).name
        kind = (
            "drop folder"
            if path.startswith("incoming")
            else "temp "
            if name.startswith(".")
            else ""
        ) + ("" if path.startswith("incoming") else path.split("/")[1].rstrip("s"))
        sizes[kind] = sizes.get(kind, 0) + size
    return ", ".join(f"{k} {v / MB:.1f} MB" for k, v in sorted(sizes.items()) if v)


# ---------------------------------------------------------------------------------------
# 1. crash


def crash_put_case(
    p: Platform, work: Path, n: int, case: tuple[str, str, str, float], args: argparse.Namespace
) -> dict[str, Any]:
    """One kill -9 of `who` while `what` is put over `via` (the drop folder or HTTP), once
    `frac` of its bytes reached the store."""
    who, what, via, frac = case
    env = {"KAON_PACK_DROP": "0"} if via == "http" else {}
    repo = f"crash{n}"
    local = work / f"case{n}"
    if what == "big":
        data = local / "big.bin"
        size = gc_race._random_file(data, args.big_mb * MB)
    else:
        data = local / "many"
        size = gc_race._folder(data, args.files)
    want = tree_digests(data)
    seed = local / "readme.txt"
    seed.write_text(f"before the crash {n}\n")
    p.ok("repo", "create", repo)
    p.ok("put", "file", f"{repo}@master:/readme.txt", "-f", str(seed))
    before = head_commits(p, repo)
    old_files = stored(p.home)
    base = sum(old_files.values())
    target = "/big.bin" if what == "big" else "/many"
    flags = ["-r"] if what == "many" else []
    proc = p.run("put", "file", f"{repo}@master:{target}", "-f", str(data), *flags, env=env)
    started = time.monotonic()
    while proc.poll() is None and grown(p.home) - base < frac * size:
        time.sleep(0.005)
    killed_after = time.monotonic() - started
    finished_first = proc.poll() is not None
    if who == "client":
        proc.kill()
    else:
        p.kill_server()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=120)
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    if who == "server":
        p.up()
    violations: list[str] = []
    leftover: tuple[int, str] | None = None

    def check_state(when: str) -> str:
        now = head_commits(p, repo)
        back = read_back(p, f"{repo}@master:/readme.txt", local / "back")
        if back != {"readme.txt": digest(seed)}:
            violations.append(f"{when}: the earlier file changed or is unreadable")
        if now == before:
            return "nothing new"
        if len(now) == len(before) + 1 and now[1:] == before:
            got = read_back(p, f"{repo}@master:{target}", local / "back")
            if got != want:
                violations.append(f"{when}: a new commit whose files differ from the put's")
            return "complete commit"
        violations.append(f"{when}: history changed otherwise ({len(before)} -> {len(now)})")
        return "other"

    outcome = check_state("after the kill")
    log(f"  killed {'after the put ended' if finished_first else 'mid-put'}: {outcome}; gc")
    time.sleep(LEASE + 0.5)  # the killed put's lease expires: gc may reclaim what it left
    code, out, err = p.code("gc", "--json")
    freed = json.loads(out).get("bytes_freed", 0) if code == 0 else 0
    if code:
        violations.append(f"gc failed ({code}): {err.strip()[-200:]}")
    if check_state("after gc") == "nothing new":
        left = {k: v for k, v in stored(p.home).items() if k not in old_files}
        leftover = (sum(left.values()), kinds(left))  # what gc did not reclaim
    log("  re-put")
    code, _out, err = p.code(
        "put", "file", f"{repo}@master:{target}", "-f", str(data), *flags, env=env
    )
    if code:
        violations.append(f"re-put failed ({code}): {err.strip()[-200:]}")
    elif read_back(p, f"{repo}@master:{target}", local / "back") != want:
        violations.append("the re-put reads back different")
    rmtree(local)
    return {
        "case": f"kill -9 {who} mid-put {what} ({via}) at {frac:.0%}",
        "kill": "after the put ended" if finished_first else f"{killed_after:.2f} s in",
        "outcome": outcome,
        "gc_freed": freed,
        "leftover": leftover,
        "violations": violations,
    }


def packs_now(home: Path) -> set[str]:
    with contextlib.suppress(OSError):
        return {str(f) for f in (home / "objects" / "packs").rglob("*")}
    return set()


def crash_gc_case(
    p: Platform, work: Path, n: int, when: str, args: argparse.Namespace
) -> dict[str, Any]:
    """A repo with every third file of a deleted repo; the server killed `when` seconds into
    gc, or at its first change to the pack files ("change": mid-rewrite)."""
    local = work / f"gc{n}"
    data = local / "all"
    gc_race._folder(data, args.files)
    keep = local / "keep"
    for i, f in enumerate(sorted(data.rglob("*.bin"))):
        if i % 3 == 0:
            dest = keep / f.relative_to(data)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(f, dest)
    want = tree_digests(keep)
    kept_bytes = sum(f.stat().st_size for f in keep.rglob("*.bin"))
    victim, kept = f"gcvictim{n}", f"gckeep{n}"
    base = grown(p.home)
    p.ok("repo", "create", victim)
    p.ok("repo", "create", kept)
    p.ok("put", "file", f"{victim}@master:/d", "-f", str(data), "-r")
    p.ok("put", "file", f"{kept}@master:/d", "-f", str(keep), "-r")
    p.ok("repo", "delete", victim)
    packs = packs_now(p.home)
    proc = p.run("gc", "--json")
    started = time.monotonic()
    if when == "change":
        while proc.poll() is None and packs_now(p.home) == packs:
            time.sleep(0.001)
    else:
        time.sleep(float(when))
    killed_after = time.monotonic() - started
    finished_first = proc.poll() is not None
    p.kill_server()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=120)
    p.up()
    violations: list[str] = []
    if read_back(p, f"{kept}@master:/d", local / "back") != want:
        violations.append("after the kill: the kept repo reads back different")
    code, out, err = p.code("gc", "--json")
    freed = json.loads(out).get("bytes_freed", 0) if code == 0 else 0
    if code:
        violations.append(f"gc failed ({code}): {err.strip()[-200:]}")
    growth = grown(p.home) - base  # the kept third, once gc rewrote the packs
    if read_back(p, f"{kept}@master:/d", local / "back") != want:
        violations.append("after gc: the kept repo reads back different")
    p.ok("repo", "create", victim)
    code, _o, err = p.code("put", "file", f"{victim}@master:/d", "-f", str(data), "-r")
    if code:
        violations.append(f"re-put failed ({code}): {err.strip()[-200:]}")
    elif read_back(p, f"{victim}@master:/d", local / "back") != tree_digests(data):
        violations.append("the re-put reads back different")
    rmtree(local)
    return {
        "case": "kill -9 server mid-gc, "
        + ("at its first pack change" if when == "change" else f"{when} s in"),
        "kill": "after gc ended" if finished_first else f"{killed_after:.2f} s in",
        "outcome": "kept repo intact" if not violations else "see violations",
        "gc_freed": freed,
        "leftover": None,
        "store": f"store +{growth / MB:.1f} MB for {kept_bytes / MB:.1f} MB kept",
        "violations": violations,
    }


def probe_crash(kaon: Path, work: Path, args: argparse.Namespace, rep: Report) -> None:
    rows = []
    with platform_in(work, "crash", kaon, KAON_UPLOAD_LEASE_SECONDS=str(LEASE)) as p:
        cases = [
            (who, what, via, frac)
            for via in args.transport
            for who in ("client", "server")
            for what in ("big", "many")
            for frac in args.kill_at
        ]
        for n, (who, what, via, frac) in enumerate(cases, 1):
            log(f"crash {n}/{len(cases)}: kill -9 {who} mid-put of {what} ({via}) at {frac:.0%}")
            rows.append(crash_put_case(p, work, n, (who, what, via, frac), args))
        for i, when in enumerate(args.gc_kill_at):
            log(f"crash gc {i + 1}/{len(args.gc_kill_at)}: kill -9 server mid-gc ({when})")
            rows.append(crash_gc_case(p, work, i, when, args))
    print("\ncrash: kill -9 mid-put and mid-gc, then restart, gc, re-put")
    print_table(
        ["case", "killed", "after", "gc freed MB", "new files left after gc / store", "violations"],
        [
            [
                r["case"],
                r["kill"],
                r["outcome"],
                f"{r['gc_freed'] / MB:.1f}",
                r.get("store", "-")
                if r["leftover"] is None
                else f"{r['leftover'][0] / MB:.1f} {r['leftover'][1]}",
                str(len(r["violations"])),
            ]
            for r in rows
        ],
    )
    for r in rows:
        for v in r["violations"]:
            print(f"  {r['case']}: {v}")
    total = sum(len(r["violations"]) for r in rows)
    ran = sum(1 for r in rows if r["kill"] not in ("after the put ended", "after gc ended"))
    rep.add(
        "crash",
        "violations after kill -9 (state, gc, re-put)",
        total,
        total == 0,
        detail=f"{len(rows)} cases, {ran} killed mid-way",
    )


# ---------------------------------------------------------------------------------------
# 2. concurrent writers


def ready(barrier: threading.Barrier) -> bool:
    """Wait for the other writers; False if the probe was stopped meanwhile."""
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        return False
    return True


def probe_writers(kaon: Path, work: Path, args: argparse.Namespace, rep: Report) -> None:
    import boto3
    from botocore.config import Config

    local = work / "conc"
    expected: dict[str, str] = {}
    for kind, count in (("sdk", args.writers), ("s3", args.writers), ("cli", args.cli_writers)):
        for i in range(count):
            f = local / kind / f"w{i:03}.bin"
            gc_race._random_file(f, 4096 + 13 * i)
            expected[f"{kind}/w{i:03}.bin"] = digest(f)
    errors: list[str] = []
    lock = threading.Lock()

    def failed(what: str) -> None:
        with lock:
            errors.append(what)

    with platform_in(work, "writers", kaon) as p:
        p.ok("repo", "create", "conc")
        p.ok("put", "file", "conc@master:/readme.txt", "-f", str(local / "sdk" / "w000.bin"))
        with p.client() as c:
            cred = c.create_s3_credentials()
        s3url = p.server()["s3_url"]
        cfg = Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 1}, max_pool_connections=4
        )
        go = threading.Barrier(2 * args.writers + 1)

        def sdk(i: int) -> None:
            path = local / "sdk" / f"w{i:03}.bin"
            with p.client() as c:
                if not ready(go):
                    return
                try:
                    Uploader(c, None, drop=False).put(
                        "conc", "master", plan(path, f"/sdk/w{i:03}.bin", False)
                    )
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    failed(f"sdk {i}: {type(exc).__name__}: {exc}")

        def s3(i: int) -> None:
            client = boto3.client(
                "s3",
                endpoint_url=s3url,
                aws_access_key_id=cred.access_key,
                aws_secret_access_key=cred.secret,
                region_name="us-east-1",
                config=cfg,
            )
            body = (local / "s3" / f"w{i:03}.bin").read_bytes()
            if not ready(go):
                return
            try:
                client.put_object(Bucket="master.conc", Key=f"s3/w{i:03}.bin", Body=body)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                failed(f"s3 {i}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=f, args=(i,), daemon=True)
                   for f in (sdk, s3) for i in range(args.writers)]  # fmt: skip
        try:
            for t in threads:
                t.start()
            go.wait()
        except BaseException:  # Ctrl-C, SIGTERM: no writer may wait for the others forever
            go.abort()
            raise
        started = time.monotonic()
        procs = [
            p.run(
                "put",
                "file",
                f"conc@master:/cli/w{i:03}.bin",
                "-f",
                str(local / "cli" / f"w{i:03}.bin"),
            )
            for i in range(args.cli_writers)
        ]
        for t in threads:
            t.join()
        for i, proc in enumerate(procs):
            _out, err = proc.communicate(timeout=600)
            if proc.returncode:
                failed(f"cli {i}: exit {proc.returncode}: {err.strip()[-200:]}")
        seconds = time.monotonic() - started
        got = {}
        for kind in ("sdk", "s3", "cli"):
            back = read_back(p, f"conc@master:/{kind}", work / "conc-back" / kind) or {}
            got |= {f"{kind}/{k}": v for k, v in back.items()}
        commits = len(head_commits(p, "conc")) - 1
    lost = sum(1 for k, v in expected.items() if got.get(k) != v)
    rmtree(local)
    print(
        f"\nwriters: {args.writers} SDK + {args.writers} S3 + {args.cli_writers} CLI writers "
        f"on conc@master at once: {seconds:.1f} s, {commits} commits, {len(errors)} errors"
    )
    for e in errors[:5]:
        print(f"  {e}")
    rep.add(
        "writers",
        "files lost (missing or different)",
        lost,
        lost == 0,
        detail=f"{len(expected)} files written at once",
    )
    rep.add(
        "writers",
        "writer errors",
        len(errors),
        not errors,
        detail=f"{commits} commits for {len(expected)} puts",
    )


# ---------------------------------------------------------------------------------------
# 3. puts while gc loops


def probe_gcrace(kaon: Path, work: Path, args: argparse.Namespace, rep: Report) -> None:
    ns = argparse.Namespace(
        big_mb=args.big_mb, files=args.files, writers=args.writers, puts=1, size_kb=64, verify=True
    )
    with platform_in(work, "gcrace", kaon) as p:
        rows = gc_race.cli_puts(p, work / "gcrace-data", ns)
        rows.append(gc_race.sdk_writers(p, work / "gcrace-data", ns))
    rmtree(work / "gcrace-data")
    print("\ngcrace: puts while gc runs back to back (benchmarks/gc_race.py)")
    print_table(
        ["case", "puts", "failed", "MB", "re-sent B", "gc runs", "read back"],
        [
            [
                r["case"],
                str(r["puts"]),
                str(r["failed"]),
                f"{r['bytes'] / MB:.1f}",
                str(r["resent"]),
                str(r["gc_runs"]),
                {True: "same", False: "DIFFERENT", None: "-"}[r["verified"]],
            ]
            for r in rows
        ],
    )
    failed = sum(r["failed"] for r in rows) + sum(r["verified"] is False for r in rows)
    resent = sum(r["resent"] for r in rows)
    runs = min(r["gc_runs"] for r in rows)
    rep.add(
        "gcrace",
        "puts failed while gc loops",
        failed,
        failed == 0,
        detail=f"{sum(r['puts'] for r in rows)} puts, >= {runs} gc runs during each",
    )
    rep.add("gcrace", "bytes re-sent because of gc", resent, resent == 0)


# ---------------------------------------------------------------------------------------
# 4. jobs and the killed server

QUIET = """#!/usr/bin/env python3
import json, os, sys, time
keys = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "KAON_"))}
if os.fork() == 0:  # a child that leaves the session, and its own child
    os.setsid()
    os.fork()
    time.sleep(900)
    os._exit(0)
(__import__("pathlib").Path(os.environ["HOME"]) / "keys.json").write_text(json.dumps(keys))
if sys.argv[2:] == ["--finish"]:  # its folder goes when it ends: the log keeps the keys
    print("KEYS", json.dumps(keys), flush=True)
    os.makedirs(os.path.join(sys.argv[1], "model"), exist_ok=True)
    open(os.path.join(sys.argv[1], "model", "m.txt"), "w").write("ok")
    sys.exit(0)
time.sleep(900)
"""


def job_processes(job: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("KAON_JOB_ID") == job:
                found.append(proc)
    return found


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)
    return value


def job_bundle(root: Path, finish: bool) -> tuple[Path, Path]:
    model = root / "code" / "quiet" / "model"
    model.mkdir(parents=True)
    train = QUIET.replace('sys.argv[2:] == ["--finish"]', str(finish))
    (model / "train").write_text(train)
    (model / "train").chmod(0o755)
    (model / "requirements.txt").write_text("")
    (root / "data").mkdir()
    (root / "data" / "x.csv").write_text("1,2\n")
    return root / "code", root / "data"


def authenticates(s3url: str, keys: dict[str, str]) -> bool:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    s3 = boto3.client(
        "s3",
        endpoint_url=s3url,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    try:
        s3.list_buckets()
    except ClientError:
        return False
    return True


def api_authenticates(url: str, token: str) -> bool:
    """Whether a job's API token (KAON_TOKEN) still reads its workspace."""
    import httpx

    answer = httpx.get(
        f"{url}/v1/workspaces/probe/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code == 200


def probe_jobs(kaon: Path, work: Path, args: argparse.Namespace, rep: Report) -> None:
    left: list[int] = []
    alive_keys: list[str] = []
    alive_tokens: list[str] = []
    with platform_in(work, "jobs", kaon) as p:
        env = {"KAON_WORKSPACE": "probe"}
        p.ok("workspace", "create", "-n", "probe")

        def deploy(name: str, finish: bool, *extra: str) -> str:
            code, data = job_bundle(work / "job" / name, finish)
            doc = json.loads(
                p.ok_env(env, "train", "deploy", "-s", str(code), "-d", str(data), "--json", *extra)
            )
            return str(doc["id"])

        def keys_of(job: str) -> dict[str, str]:
            path = p.home / "jobs" / job / "trials" / "0" / "home" / "keys.json"
            if path.exists():
                return dict(json.loads(path.read_text()))
            logs = p.ok_env(env, "train", "logs", "-j", job) if job == done else ""
            line = next((x for x in logs.splitlines() if "KEYS {" in x), "")
            return dict(json.loads(line.split("KEYS ", 1)[1])) if line else {}

        done = deploy("finished", True)
        running = {deploy("plain", False): "plain", deploy("sandbox", False, "--sandbox"): "sb"}
        for job in running:
            wait_for(f"job {job} runs", lambda j=job: keys_of(j) and len(job_processes(j)) >= 3)
        wait_for(
            "the finished job",
            lambda: (
                json.loads(p.ok_env(env, "train", "info", "-j", done, "--json"))["state"]
                == "JOB_SUCCESS"
            ),
        )
        after_success = [q.pid for q in job_processes(done)]
        s3url = p.server()["s3_url"]
        valid = sum(authenticates(s3url, keys_of(job)) for job in running)  # the method works
        api_url = p.server()["url"]
        valid_tokens = sum(
            api_authenticates(api_url, keys_of(job).get("KAON_TOKEN", "")) for job in running
        )
        before = {job: len(job_processes(job)) for job in running}
        log(f"jobs: processes per running job before the kill: {before}; kill -9 of the server")
        p.kill_server()
        killed = time.monotonic()
        gone_after: dict[str, float | None] = dict.fromkeys(running)
        while time.monotonic() - killed < args.orphan_wait:
            for job in running:
                if gone_after[job] is None and not job_processes(job):
                    gone_after[job] = time.monotonic() - killed
            if all(v is not None for v in gone_after.values()):
                break
            time.sleep(0.05)
        for job in running:
            procs = job_processes(job)
            left += [q.pid for q in procs]
            for q in procs:  # never leave them running
                with contextlib.suppress(psutil.Error):
                    q.kill()
        doc = p.up()
        for job in running:
            wait_for(
                "the interrupted job's state",
                lambda j=job: (
                    json.loads(p.ok_env(env, "train", "info", "-j", j, "--json"))["state"]
                    != "JOB_RUNNING"
                ),
            )
        with p.client() as c:
            user = c.create_s3_credentials()
        control = authenticates(
            doc["s3_url"],
            {"AWS_ACCESS_KEY_ID": user.access_key, "AWS_SECRET_ACCESS_KEY": user.secret},
        )
        for job in [done, *running]:
            keys = keys_of(job)
            if not keys:
                alive_keys.append(f"{job}: its key was never seen")
            elif authenticates(doc["s3_url"], keys):
                alive_keys.append(f"{job} ({running.get(job, 'finished')})")
            token = keys.get("KAON_TOKEN", "")
            if not token:
                alive_tokens.append(f"{job}: its API token was never seen")
            elif api_authenticates(doc["url"], token):
                alive_tokens.append(f"{job} ({running.get(job, 'finished')})")
    print(
        f"\njobs: kill -9 of the server with 2 silent jobs running (plain, --sandbox), "
        f"each with a setsid() child and a grandchild; processes before: {before}"
    )
    for job, tag in running.items():
        gone = gone_after[job]
        print(
            f"  {tag}: all processes gone {f'{gone:.2f} s' if gone is not None else 'NOT'} "
            f"after the kill (waited up to {args.orphan_wait:g} s)"
        )
    rep.add(
        "jobs",
        "job processes alive after kill -9 of the server",
        len(left),
        not left,
        detail=f"after {args.orphan_wait:g} s; pids {left}"
        if left
        else f"2 jobs, {sum(before.values())} processes before",
    )
    rep.add(
        "jobs",
        "processes alive after JOB_SUCCESS (setsid child, grandchild)",
        len(after_success),
        not after_success,
    )
    rep.add(
        "jobs",
        "keys of jobs not running that authenticate",
        len(alive_keys),
        not alive_keys and control and valid == 2,
        detail=f"alive: {', '.join(alive_keys)}"
        if alive_keys
        else f"3 jobs (2 killed, 1 finished); before the kill {valid}/2 worked; a user's "
        f"key works: {control}",
    )
    rep.add(
        "jobs",
        "API tokens (KAON_TOKEN) of jobs not running that authenticate",
        len(alive_tokens),
        not alive_tokens and valid_tokens == 2,
        detail=f"alive: {', '.join(alive_tokens)}"
        if alive_tokens
        else f"3 jobs (2 killed, 1 finished); before the kill {valid_tokens}/2 worked",
    )


# ---------------------------------------------------------------------------------------
# 5. sandbox overhead

FAILING_BWRAP = "#!/bin/sh\nexit 1\n"  # fails kaon's probe of bubblewrap: jobs run without it


def probe_sandbox(kaon: Path, work: Path, args: argparse.Namespace, rep: Report) -> None:
    shim = work / "no-bwrap"
    shim.mkdir()
    (shim / "bwrap").write_text(FAILING_BWRAP)
    (shim / "bwrap").chmod(0o755)
    homes = {"default": work / "sb-default", "off": work / "sb-off"}
    base_env = train_bench.kaon_env(homes["default"])
    envs = {
        "default": train_bench.kaon_env(homes["default"], "probe"),
        "off": train_bench.kaon_env(homes["off"], "probe")
        | {"PATH": f"{shim}:{base_env.get('PATH', '')}"},
    }
    times: dict[str, list[float]] = {"off": [], "default": [], "--sandbox": []}
    isolated: dict[str, set[bool]] = {k: set() for k in times}
    code, data = train_bench.tiny_bundle(work / "tiny")
    try:
        for mode in ("default", "off"):
            env = envs[mode]
            train_bench.run([kaon, "up"], env=env)
            train_bench.run([kaon, "workspace", "create", "-n", "probe"], env=env)
        runs = [("default", []), ("off", []), ("--sandbox", ["--sandbox"])]
        for i in range(-1, args.repeat):  # -1: the untimed warm-up that builds the environment
            for mode, extra in runs:
                env = envs["off" if mode == "off" else "default"]
                train_bench.write_tiny_train(code, f"{mode} {i}")
                d = train_bench.deploy(kaon, env, work, ["-s", code, "-d", data, *extra])
                start = d.mark(train_bench.START_MARK)
                if start is None:
                    raise RuntimeError(f"the tiny train printed no start:\n{d.train_log}")
                isolated[mode].add("bubblewrap is not available" not in d.train_log + d.build_log)
                if i >= 0:
                    times[mode].append(start - d.cli.t0)
            if i >= 0:
                log(
                    f"sandbox {i + 1}/{args.repeat}: "
                    + ", ".join(f"{m} {times[m][-1]:.3f} s" for m in times)
                )
    finally:
        for home in homes.values():
            stop_server(kaon, home, train_bench.kaon_env(home))
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"\nsandbox: deploy -> user code running, median of {args.repeat} (interleaved)")
    print_table(
        ["mode", "median s", "min s", "max s", "isolated (no 'not available' in the log)"],
        [
            [m, f"{med[m]:.3f}", f"{min(v):.3f}", f"{max(v):.3f}", str(sorted(isolated[m]))]
            for m, v in times.items()
        ],
    )
    honest = isolated["off"] == {False} and isolated["default"] == isolated["--sandbox"] == {True}

    def paired(mode: str) -> float:  # the same round's deploys: less of the machine's noise
        return statistics.median(a - b for a, b in zip(times[mode], times["off"], strict=True))

    rep.add(
        "sandbox",
        "overhead of bubblewrap per job start (default - off)",
        f"{paired('default'):+.3f} s",
        None,
        "-",
        f"median of per-round differences; of the medians {med['default'] - med['off']:+.3f} s;"
        f" --sandbox - off {paired('--sandbox'):+.3f} s",
    )
    rep.add(
        "sandbox",
        "deploy -> user code running, default sandbox",
        f"{med['default']:.3f} s",
        med["default"] <= train_bench.DEPLOY_TARGET and honest,
        f"<= {train_bench.DEPLOY_TARGET:g} s",
        f"off: {med['off']:.3f} s; modes as meant: {honest}",
    )


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def floats(text: str) -> list[float]:
        return [float(x) for x in text.split(",") if x]

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only",
        default=",".join(PROBES),
        help=f"comma-separated sub-probes (default all: {','.join(PROBES)})",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smaller data and fewer rounds (defaults below, divided)",
    )
    ap.add_argument("--big-mb", type=int, default=None, help="big file of crash/gcrace (100)")
    ap.add_argument("--files", type=int, default=None, help="files of a folder put (5000)")
    ap.add_argument("--writers", type=int, default=None, help="SDK and S3 writers each (200)")
    ap.add_argument("--cli-writers", type=int, default=None, help="CLI writers (50)")
    ap.add_argument(
        "--kill-at",
        type=floats,
        default=None,
        help="kill mid-put once this share of its bytes is stored (0.3,0.95)",
    )
    ap.add_argument(
        "--transport",
        type=lambda t: [x for x in t.split(",") if x],
        default=["drop"],
        help="the crash probe's puts: drop (same machine: drop folder, server-side chunking), "
        "http (KAON_PACK_DROP=0, a remote client's path), or both: drop,http",
    )
    ap.add_argument(
        "--gc-kill-at",
        type=lambda t: [x for x in t.split(",") if x],
        default=None,
        help="kill the server mid-gc: at its first change to the pack files, or this many "
        "seconds in (change,0.05)",
    )
    ap.add_argument(
        "--orphan-wait",
        type=float,
        default=10.0,
        help="seconds a killed server's job processes get to die",
    )
    ap.add_argument("--repeat", type=int, default=None, help="timed deploys per mode (5)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--kaon", default=None, help="the kaon CLI (default: found)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)
    defaults = {
        "big_mb": (100, 40),
        "files": (5000, 2000),
        "writers": (200, 50),
        "cli_writers": (50, 10),
        "kill_at": ([0.3, 0.95], [0.5]),
        "gc_kill_at": (["change", "0.05"], ["change"]),
        "repeat": (5, 5),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.only = [x.strip() for x in args.only.split(",") if x.strip()]
    if not set(args.transport) <= {"drop", "http"}:
        ap.error(f"--transport {','.join(args.transport)}: choose drop, http or drop,http")
    unknown = set(args.only) - set(PROBES)
    if unknown:
        ap.error(f"unknown probe(s) {', '.join(sorted(unknown))}: choose from {', '.join(PROBES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kaon = kaon_exe(args.kaon)
    work = Path(tempfile.mkdtemp(prefix="kaon-probe-", dir=args.workdir))
    rep = Report()
    probes = {
        "crash": probe_crash,
        "writers": probe_writers,
        "gcrace": probe_gcrace,
        "jobs": probe_jobs,
        "sandbox": probe_sandbox,
    }
    started = time.monotonic()
    load = [os.getloadavg()[0]]
    try:
        with terminate_as_exit():
            for name in args.only:
                t0 = time.monotonic()
                try:
                    probes[name](kaon, work, args, rep)
                except SystemExit as exc:
                    if not isinstance(exc.code, str):  # SIGTERM, SIGHUP: stop, clean up
                        raise
                    log(f"{name} failed: {exc}")  # a kaon command failed (gc_race's `ok`)
                    rep.add(name, "the probe ran to its end", "no", False, "yes", str(exc)[:200])
                except (RuntimeError, OSError, ValueError, KeyError) as exc:
                    log(f"{name} failed: {type(exc).__name__}: {exc}")
                    rep.add(name, "the probe ran to its end", "no", False, "yes", str(exc)[:200])
                log(f"{name}: {time.monotonic() - t0:.0f} s")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            rmtree(work)
    load.append(os.getloadavg()[0])
    print(
        f"\nFigures (issue 13 probes; {time.monotonic() - started:.0f} s; load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end, {os.cpu_count()} CPUs)"
    )
    if "sandbox" in args.only and max(load) > (os.cpu_count() or 1):
        print(
            "note: other processes loaded the machine: the times (sandbox) are not a quiet "
            "machine's"
        )
    print_table(
        ["probe", "figure", "value", "target", "result", "detail"],
        [
            [
                f.probe,
                f.name,
                str(f.value),
                f.target,
                "-" if f.target == "-" else verdict(f.ok),
                f.detail,
            ]
            for f in rep.figures
        ],
    )
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in rep.figures], indent=2, default=str))
    return 1 if args.check and any(f.ok is False for f in rep.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
