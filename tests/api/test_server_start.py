"""`python -m kaon.api`'s start: its modules load with the cyclic collector off (each full
collection walked everything imported so far), and it serves with the collector back on, at
GC_THRESHOLDS, with start-up's objects frozen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kaon.config import GC_THRESHOLDS, SERVER_FILE

# uvicorn's run is replaced by a report of the collector's state at the moment it would serve
SCRIPT = """
import gc, json, runpy, sys
import uvicorn
seen = []
gc.callbacks.append(lambda phase, info: seen.append(info["generation"]) if phase == "start" else None)
def run(self, sockets=None):
    print(json.dumps({"enabled": gc.isenabled(), "threshold": list(gc.get_threshold()),
                      "frozen": gc.get_freeze_count(), "collections": len(seen)}))
uvicorn.Server.run = run
sys.argv = ["kaon.api", "--port", "0", "--s3-port", "0"]
runpy.run_module("kaon.api", run_name="__main__")
"""


def test_serves_with_the_collector_on_after_an_import_without_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
    env["KAON_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["enabled"] is True
    assert tuple(state["threshold"]) == GC_THRESHOLDS
    assert state["frozen"] > 10_000  # the modules and the platform: out of every collection
    assert state["collections"] == 0  # none while ~1,000 modules loaded and the platform built
    assert "listening on" in done.stderr
    assert not (tmp_path / SERVER_FILE).exists()  # removed on the way out, as ever
