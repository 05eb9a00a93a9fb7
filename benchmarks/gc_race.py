"""Puts while gc runs in a loop: how many fail, and how many bytes gc made them send again.

The outside probe of issue 13 (item 6), re-run: `kaon gc` back to back (through the SDK, one
request after the other) while

* a big file (`--big-mb`, 300 MB) and a folder of `--files` small files (20,000) are put with
  the real CLI, once through the same-machine paths (drop folder, server-side chunking) and
  once over HTTP (KAON_PACK_DROP=0), each checked by reading it back;
* `--writers` SDK writers (200) each put `--puts` files (1) of `--size-kb` KiB at once, each
  on its own branch.

All data is random, so every byte is new: bytes re-sent because of gc = the raw bytes the
puts report as sent (`new_bytes`) minus the data's size. Targets: puts failed 0, bytes
re-sent 0. `--check` exits 1 when a target is missed (else always 0).

    uv run python benchmarks/gc_race.py                   # ~2-4 min on 2 cores
    uv run python benchmarks/gc_race.py --files 3000 --big-mb 64 --writers 50   # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import kaon_exe, log, print_table, rmtree, stop_server, terminate_as_exit, verdict

from kaon.client import Client
from kaon.client.localfiles import plan
from kaon.client.upload import Uploader

MB = 1000 * 1000


def _random_file(path: Path, size: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 * 1024 * 1024)
            f.write(os.urandom(n))
            left -= n
    return size


def _folder(root: Path, count: int) -> int:
    return sum(
        _random_file(root / f"d{i % 100:02}" / f"f{i:06}.bin", 1024 + (i * 37) % 7168)
        for i in range(count)
    )


def _same(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 22), fb.read(1 << 22)
            if x != y:
                return False
            if not x:
                return True


class Platform:
    def __init__(self, kaon: Path, home: Path) -> None:
        self.kaon = kaon
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        self.env.update(KAON_HOME=str(home), KAON_PORT="0")

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(self.kaon), *args],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def ok(self, *args: str) -> str:
        p = self.run(*args)
        out, err = p.communicate(timeout=1800)
        if p.returncode:
            raise SystemExit(f"kaon {' '.join(args)} failed ({p.returncode}): {err.strip()}")
        return out

    def client(self) -> Client:
        doc = json.loads((self.home / "server.json").read_text())
        return Client(doc["url"], (self.home / "token").read_text().strip())


@contextmanager
def gc_looping(platform: Platform) -> Iterator[list[int]]:
    """gc back to back in a thread while the block runs; yields [runs, failures]."""
    counts = [0, 0]
    stop = threading.Event()

    def loop() -> None:
        with platform.client() as client:
            while not stop.is_set():
                try:
                    client.gc()
                    counts[0] += 1
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    counts[1] += 1
                    log(f"gc failed: {exc}")
                    time.sleep(0.5)

    thread = threading.Thread(target=loop, name="gc-loop", daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join(timeout=600)


def cli_puts(platform: Platform, work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The big file and the folder, put at once with the CLI while gc loops, per transport."""
    results: list[dict[str, Any]] = []
    for via, env in (("drop", {}), ("http", {"KAON_PACK_DROP": "0"})):
        big = work / via / "big.bin"
        big_size = _random_file(big, args.big_mb * MB)
        folder = work / via / "folder"
        folder_size = _folder(folder, args.files)
        repo = f"race-{via}"
        platform.ok("repo", "create", repo)
        with gc_looping(platform) as gc:
            started = time.monotonic()
            procs = {
                "big": platform.run("put", "file", f"{repo}@master:/big.bin", "-f", str(big),
                                    "--json", env=env),
                "folder": platform.run("put", "file", f"{repo}@master:/folder", "-f",
                                       str(folder), "-r", "--json", env=env),
            }  # fmt: skip
            answers = {name: p.communicate(timeout=1800) for name, p in procs.items()}
            seconds = time.monotonic() - started
            runs = gc[0]
        for name, size, path in (("big", big_size, big), ("folder", folder_size, folder)):
            out, err = answers[name]
            code = procs[name].returncode
            row: dict[str, Any] = {
                "case": f"CLI put {name} ({via})",
                "puts": 1,
                "failed": int(code != 0),
                "error": err.strip().splitlines()[-1] if code else "",
                "bytes": size,
                "resent": 0,
                "gc_runs": runs,
                "seconds": seconds,
                "verified": None,
            }
            if code == 0:
                row["resent"] = int(json.loads(out)["stats"]["new_bytes"]) - size
                if args.verify:
                    row["verified"] = _verify(platform, repo, name, path, work / via / "back")
            results.append(row)
    return results


def _verify(platform: Platform, repo: str, name: str, local: Path, back: Path) -> bool:
    if name == "big":
        platform.ok("get", "file", f"{repo}@master:/big.bin", "-o", str(back / "big.bin"))
        return _same(local, back / "big.bin")
    platform.ok("get", "file", f"{repo}@master:/folder", "-r", "-o", str(back / "folder"))
    mine = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(back / "folder") for p in (back / "folder").rglob("*"))
    theirs = [p for p in theirs if (back / "folder" / p).is_file()]
    return mine == theirs and all(_same(local / p, back / "folder" / p) for p in mine)


def sdk_writers(platform: Platform, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """`--writers` SDK writers at once, `--puts` puts each, while gc loops."""
    size = args.size_kb * 1024
    for w in range(args.writers):
        for i in range(args.puts):
            _random_file(work / "sdk" / f"w{w}" / f"p{i}.bin", size + w * args.puts + i)
    platform.ok("repo", "create", "writers")
    failures: list[str] = []
    resent = [0]
    lock = threading.Lock()
    start = threading.Barrier(args.writers)

    def writer(w: int) -> None:
        with platform.client() as client:
            client.create_branch("writers", f"w{w}")
            start.wait()
            for i in range(args.puts):
                path = work / "sdk" / f"w{w}" / f"p{i}.bin"
                try:
                    _c, stats = Uploader(client, None, drop=False).put(
                        "writers", f"w{w}", plan(path, f"/p{i}.bin", False)
                    )
                except Exception as exc:  # noqa: BLE001 - counted and shown
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    resent[0] += stats.new_bytes - path.stat().st_size

    with gc_looping(platform) as gc:
        started = time.monotonic()
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        runs = gc[0]
    return {
        "case": f"SDK writers ({args.writers} x {args.puts})",
        "puts": args.writers * args.puts,
        "failed": len(failures),
        "error": failures[0] if failures else "",
        "bytes": sum(size + k for k in range(args.writers * args.puts)),
        "resent": resent[0],
        "gc_runs": runs,
        "seconds": seconds,
        "verified": None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=200)
    parser.add_argument("--puts", type=int, default=1, help="puts per SDK writer")
    parser.add_argument("--size-kb", type=int, default=64, help="size of an SDK writer's file")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--kaon", default=None, help="the kaon CLI (default: found)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kaon-gc-race-", dir=args.workdir))
    platform = Platform(kaon_exe(args.kaon), work / "home")
    try:
        with terminate_as_exit():
            log(f"kaon up in {platform.home}")
            platform.ok("up")
            rows = cli_puts(platform, work, args)
            rows.append(sdk_writers(platform, work, args))
    finally:
        stop_server(platform.kaon, platform.home, platform.env)
        rmtree(work)
    failed = sum(r["failed"] for r in rows)
    resent = sum(r["resent"] for r in rows)
    print_table(
        ["case", "puts", "failed", "MB", "re-sent B", "gc runs", "s", "read back"],
        [
            [
                r["case"],
                str(r["puts"]),
                str(r["failed"]),
                f"{r['bytes'] / MB:.1f}",
                str(r["resent"]),
                str(r["gc_runs"]),
                f"{r['seconds']:.1f}",
                {True: "same", False: "DIFFERENT", None: "-"}[r["verified"]],
            ]
            for r in rows
        ],
    )
    for r in rows:
        if r["error"]:
            print(f"  {r['case']}: {r['error']}")
    ok_failed = failed == 0 and all(r["verified"] is not False for r in rows)
    print("\nFigures")
    print(f"  puts failed while gc loops: {failed} (target 0) {verdict(ok_failed)}")
    print(f"  bytes re-sent because of gc: {resent} (target 0) {verdict(resent == 0)}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "failed": failed, "resent": resent}))
    return 1 if args.check and not (ok_failed and resent == 0) else 0


if __name__ == "__main__":
    sys.exit(main())
