"""User code sees none of the platform's files: not the token, the database, the packs or the
upload drop - by default and under --sandbox (issue 13, item 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .helpers import Kaon
from .test_train import bundle, data, wait_state, ws

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap"),
]

PROBE = """#!/usr/bin/env python3
import json, os, pathlib, sys
home = pathlib.Path({home!r})
seen = {{}}
for rel in ("token", "kaon.db", "objects", "incoming/.token", "incoming", "secret.key", ""):
    path = home / rel
    try:
        if path.is_dir():
            seen[rel] = sorted(os.listdir(path))
        else:
            path.read_bytes()
            seen[rel] = "READ"
    except OSError as exc:
        seen[rel] = type(exc).__name__
print("SEEN " + json.dumps(seen, sort_keys=True))
# the job's own folders stay usable
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
rows = sum(1 for p in data.rglob("*.csv") for _ in open(p))
(out := pathlib.Path(sys.argv[1]) / "model").mkdir(parents=True)
(out / "model.json").write_text(json.dumps({{"rows": rows}}))
"""


@pytest.mark.parametrize("extra", [[], ["--sandbox"]], ids=["default", "sandbox"])
def test_user_code_cannot_read_the_platform_files(
    kaon: Kaon, tmp_path: Path, extra: list[str]
) -> None:
    assert (kaon.home / "token").exists() and (kaon.home / "kaon.db").exists()
    env = ws(kaon, f"iso{len(extra)}")
    src = bundle(tmp_path / "code", PROBE.format(home=str(kaon.home)))
    dat = data(tmp_path / "data")
    job = json.loads(
        kaon.ok("train", "deploy", "-s", str(src), "-d", str(dat), *extra, "--json", env=env)
    )
    assert wait_state(kaon, env, job["id"])["state"] == "JOB_SUCCESS"
    logs = kaon.ok("train", "logs", "-j", job["id"], env=env)
    line = next(ln for ln in logs.splitlines() if "SEEN " in ln)
    seen = json.loads(line.split("SEEN ", 1)[1])
    for rel in ("token", "kaon.db", "objects", "incoming/.token", "incoming", "secret.key"):
        assert seen[rel] in ("FileNotFoundError", "PermissionError"), (rel, seen)
    # only the folders on the way to the job's own (work, env, runtime) exist in the home
    assert set(seen[""]) <= {"jobs", "envs", "runtime", "work"}, seen
