"""The seed-000 story the UI's tests and scripts/ui-screenshots.py show: a workspace, a data
repo with a commit, a training job with a small search (3 trials, -p 2), its models and an
endpoint serving the best one. What it stores (commit message, a log line, a metric name) can
be hostile, for the escaping test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..helpers import Kaon

SERVE = """
import json, os

def load_ctx(model_dir):
    return json.load(open(os.path.join(model_dir, "weights.json")))

def predict(payload, ctx):
    rows = payload["x"] if isinstance(payload, dict) else payload
    return {"result": [v * ctx["scale"] for v in rows]}
"""


def train_script(log_line: str, metric: str) -> str:
    return f"""#!/usr/bin/env python3
import json, os, pathlib, sys
out = pathlib.Path(sys.argv[1])
params = json.load(open("params.json"))
data = pathlib.Path(os.environ["KAON_DATA_DIR"])
rows = sum(1 for p in data.rglob("*.csv") for _ in open(p))
print(f"training on {{rows}} rows with {{params}}")
print({log_line!r})
(out / "model").mkdir(parents=True)
(out / "model" / "weights.json").write_text(json.dumps({{"scale": params["c"]}}))
(out / "metrics").mkdir()
(out / "metrics" / "metrics.json").write_text(
    json.dumps({{{metric!r}: params["c"] / 10, "loss": 1 / params["c"]}})
)
"""


@dataclass(frozen=True)
class Story:
    workspace: str
    repo: str
    commit: str
    job: dict[str, Any]
    model: str
    endpoint: str

    @property
    def fields(self) -> dict[str, str]:
        """What page paths are made of: "/ui/jobs/{job}".format(**story.fields)."""
        return {
            "workspace": self.workspace,
            "job": self.job["id"],
            "model": self.model,
            "repo": self.repo,
            "commit": self.commit,
            "endpoint": self.endpoint,
            "other": next(  # another trial's model (compare pages)
                t["model_id"] for t in self.job["trials"] if t["model_id"] != self.model
            ),
        }


def seed_000(
    k: Kaon,
    root: Path,
    workspace: str = "mnist",
    *,
    message: str = "the digits, first batch",
    log_line: str = "epoch 1 done",
    metric: str = "accuracy",
) -> Story:
    """Build the story on `k`'s platform (files under `root`); returns what it made."""
    env = {"KAON_WORKSPACE": workspace}
    k.ok("workspace", "create", "-n", workspace)
    repo = f"{workspace}-digits"
    csv = root / "digits.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("pixel,label\n" + "".join(f"{i % 7},{i % 10}\n" for i in range(50)))
    k.ok("repo", "create", repo)
    k.ok("put", "file", f"{repo}@master:/digits.csv", "-f", str(csv), "-m", message)
    commit = k.json("list", "commit", f"{repo}@master")[0]["id"]

    code = root / "code" / "mnist" / "model"
    code.mkdir(parents=True)
    (code / "train").write_text(train_script(log_line, metric))
    (code / "train").chmod(0o755)
    (code / "requirements.txt").write_text("")
    (code / "params.json").write_text(json.dumps({"c": 1}))
    for part in ("training", "test"):
        (root / "data" / "features" / part).mkdir(parents=True)
        (root / "data" / "features" / part / f"{part}.csv").write_text("1,2\n" * 5)
    grid = root / "grid.json"
    grid.write_text(json.dumps({"c": [1, 3, 9]}))
    job = json.loads(
        k.ok(
            "train",
            "deploy",
            "-s",
            str(root / "code"),
            "-d",
            str(root / "data"),
            "-h",
            str(grid),
            "-p",
            "2",
            "--wait",
            "--json",
            env=env,
        )
    )
    assert job["state"] == "JOB_SUCCESS", job
    best = max(job["trials"], key=lambda t: t["params"]["c"])
    model = best["model_id"]

    serve = root / "serve" / "mnist" / "model"
    serve.mkdir(parents=True)
    (serve / "model.py").write_text(SERVE)
    (serve / "requirements.txt").write_text("")
    out = k.ok(
        "serve", "deploy", "-s", str(root / "serve"), "-m", model, "--wait", "--json", env=env
    )
    return Story(workspace, repo, commit, job, model, json.loads(out)["name"])
