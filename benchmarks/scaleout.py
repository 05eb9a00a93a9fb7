"""Scale-out benchmarks (issue 17): one driver for the three sections, each a script of its own.

```
uv run python benchmarks/scaleout.py --workdir DIR [--only s3,ray,meta] [--quick] [--check]
```

* `s3`   (benchmarks/scaleout_s3.py): put/get of 1 GiB through kaon on an S3 store vs the bare
  client on the same server; targets >= 0.8x both ways.
* `ray`  (benchmarks/scaleout_ray.py): a 12-trial grid with -p 2 on a one-node Ray cluster vs
  the local executor; wall <= 1.25x, Ray's per-trial start overhead reported.
* `meta` (benchmarks/scaleout_meta.py): metadata at scale on PostgreSQL (1,000,000 files over
  10,000 commits, 1,000,000 provenance edges): list file / list commit / ancestry / subvenance.

Each section runs as its own process with `--workdir DIR/<section>` (and `--quick`, `--check`,
`--json DIR/<section>.json` passed on); its report is printed as it comes; this driver exits 1
when a section failed (its `--check` or its run), after running the others.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTIONS = ("s3", "ray", "meta")


def section_argv(section: str, work: Path, *, quick: bool, check: bool) -> list[str]:
    """The arguments the section's script is run with (tests/test_scaleout_driver.py parses
    them with each script's `arg_parser()`)."""
    argv = ["--workdir", str(work / section), "--json", str(work / f"{section}.json")]
    return argv + (["--quick"] if quick else []) + (["--check"] if check else [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="an existing folder for every section")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: s3, ray, meta")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = ap.parse_args()
    work = Path(args.workdir)
    if not work.is_dir():
        ap.error(f"--workdir {work} is not an existing folder")
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        ap.error(f"--only: unknown section {unknown[0]!r} (use {', '.join(SECTIONS)})")
    failed: list[str] = []
    for section in chosen:
        folder = work / section
        folder.mkdir(exist_ok=True)
        cmd = [sys.executable, str(HERE / f"scaleout_{section}.py")]
        cmd += section_argv(section, work, quick=args.quick, check=args.check)
        print(f"\n=== {section}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(cmd)
        print(f"=== {section}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(section)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
