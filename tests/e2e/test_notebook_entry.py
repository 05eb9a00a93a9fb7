"""A notebook as code (issue 19): a source bundle whose entry point is `train.ipynb` trains
with papermill (its `parameters` cell takes each trial's hyperparameters; papermill and
ipykernel join the environment without being required), and the executed notebook is stored
with the model; a pipeline transform running `papermill` stores its executed notebook in the
output repo. Real papermill, real kernels, the real CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon, spec_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # papermill envs, under load


def notebook(*sources: str, parameters: str) -> str:
    """A notebook: a `parameters` cell, then one code cell per source."""
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "id": "parameters",
            "metadata": {"tags": ["parameters"]},
            "source": parameters,
            "outputs": [],
            "execution_count": None,
        }
    ]
    cells += [
        {
            "cell_type": "code",
            "id": f"cell-{i}",
            "metadata": {},
            "source": s,
            "outputs": [],
            "execution_count": None,
        }
        for i, s in enumerate(sources)
    ]
    return json.dumps(
        {
            "cells": cells,
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3"},
                "language_info": {"name": "python"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


TRAIN = """import json, os
out = os.environ["KAON_OUTPUT_DIR"]
os.makedirs(f"{out}/model", exist_ok=True)
os.makedirs(f"{out}/metrics", exist_ok=True)
with open(f"{out}/model/model.json", "w") as f:
    json.dump({"alpha": alpha, "label": label}, f)
with open(f"{out}/metrics/metrics.json", "w") as f:
    json.dump({"score": alpha * 2}, f)
print(f"trained with alpha={alpha} label={label}")
"""

REPORT = """import os
names = sorted(os.listdir(os.path.join(os.environ.get("PFS_DIR", "/pfs"), "notes")))
print(f"{title}: {len(names)} file(s): {', '.join(names)}")
"""

SPEC = """\
pipeline: {name: report}
input: {pfs: {repo: notes, glob: "/"}}
transform:
  source: code
  cmd: [papermill, --log-output, report.ipynb, /pfs/out/report.ipynb, -p, title, "weekly notes"]
"""


def text(cell: dict[str, Any]) -> str:
    """A cell's source and its stream outputs, as text."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    out = "".join(
        o["text"] if isinstance(o["text"], str) else "".join(o["text"])
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    )
    return source + out


def test_a_notebook_trains_with_hyperparameters_and_is_kept_executed(tmp_path: Path) -> None:
    bundle = tmp_path / "code" / "nbtrain" / "model"
    bundle.mkdir(parents=True)
    (bundle / "train.ipynb").write_text(notebook(TRAIN, parameters='alpha = 1.0\nlabel = "x"\n'))
    (bundle / "requirements.txt").write_text("")  # papermill and ipykernel: kaon adds them
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"alpha": [0.25, 0.5], "label": ["run"]}))
    kaon = Kaon(tmp_path / "home")
    try:
        kaon.up()
        kaon.ok("workspace", "create", "-n", "nbws")
        env = {"KAON_WORKSPACE": "nbws"}
        p = kaon.run(
            "train",
            "deploy",
            "-s",
            str(tmp_path / "code"),
            "-h",
            str(grid),
            "--wait",
            "--json",
            env=env,
            timeout=900,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        job = json.loads(p.stdout)
        assert len(job["trials"]) == 2, job
        kaon.ok("train", "get", "-j", job["id"], "-m", "-o", str(tmp_path / "got"), env=env)
        executed = sorted((tmp_path / "got").rglob("train.ipynb"))
        assert len(executed) == 2, executed  # one per trial, beside its model
        seen = set()
        for path in executed:
            cells = json.loads(path.read_text())["cells"]
            injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
            assert len(injected) == 1, cells  # papermill's cell, after the parameters cell
            alpha = json.loads((path.parent / "model" / "model.json").read_text())["alpha"]
            assert f"alpha = {alpha}" in text(injected[0])
            assert f"trained with alpha={alpha} label=run" in text(cells[-1])
            seen.add(alpha)
        assert seen == {0.25, 0.5}
        build = kaon.ok("train", "build-logs", "-j", job["id"], env=env)
        assert "papermill" in build, build
    finally:
        kaon.shutdown()


def test_a_pipeline_transform_runs_a_notebook(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "report.ipynb").write_text(notebook(REPORT, parameters='title = "report"\n'))
    (code / "requirements.txt").write_text("")  # `papermill` in cmd: kaon adds its tools
    spec = spec_file(tmp_path, SPEC)
    (tmp_path / "n.txt").write_text("note")
    kaon = Kaon(tmp_path / "home")
    try:
        kaon.up()
        kaon.ok("repo", "create", "notes")
        p = kaon.run("create", "pipeline", "-f", str(spec), timeout=900)
        assert p.returncode == 0, p.stdout + p.stderr
        kaon.ok("put", "file", "notes@master:/n.txt", "-f", str(tmp_path / "n.txt"))
        deadline = time.monotonic() + 900
        while True:
            got = kaon.run("get", "file", "report@master:/report.ipynb")
            if got.returncode == 0:
                break
            assert time.monotonic() < deadline, kaon.run("logs", "-p", "report").stdout[-3000:]
            time.sleep(1)
        cells = json.loads(got.stdout)["cells"]
        assert any('title = "weekly notes"' in text(c) for c in cells), cells
        assert "weekly notes: 1 file(s): n.txt" in text(cells[-1]), cells[-1]
    finally:
        kaon.shutdown()
