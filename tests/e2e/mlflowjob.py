"""MLflow models made by kaon jobs (issue 20): a job whose model folder holds an MLflow model
(saved by the real mlflow in the job's environment) is served from its model id alone
(`kaon serve deploy -m <model id>`: no -s, no --mlflow), and a kaon scikit-learn model
(model/model.pkl) is exported with `kaon train get --format mlflow`; the real
`mlflow.pyfunc.load_model` (in the throw-away venv of scripts/mlflow-venv.sh) loads the export
and answers what the job's model and kaon's endpoint answer. A model with no MLmodel file is
refused with what to do.

The test is collected in test_mlflow_models.py (imported there): it runs on that module's
platform, in a workspace of its own, where the MLflow model's environment (~190 packages, the
same requirements as its job's) is already built; a file of its own would have had a platform
(and that environment) of its own, possibly on the other xdist worker. The job saves its model
with `pip_requirements=` its own requirements.txt: the model's requirements.txt then names the
job's pins and its endpoint runs in the job's environment. Left to infer them, mlflow wrote
another set (mlflow, numpy, pandas, rich, scikit-learn, scipy, skops), a second ~850 MB
environment built for the endpoint (~30-90 s of this test); kaon serves whatever the
requirements.txt beside the MLmodel says either way."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from api.gatewayed import bundles

from .helpers import Kaon

TRAIN = """#!/usr/bin/env python3
import json, os, pickle, sys

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

out = sys.argv[1]
X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
y = [0, 0, 0, 1, 1, 1]
model = LogisticRegression(C=0.5).fit(X.to_numpy(), y)  # fitted on arrays: any column names
os.makedirs(f"{out}/model", exist_ok=True)
with open(f"{out}/model/model.pkl", "wb") as f:
    pickle.dump(model, f)
mlflow.sklearn.save_model(
    model,
    f"{out}/model/mlflow",
    signature=infer_signature(X, model.predict(X.to_numpy())),
    pip_requirements=os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt"),
)
rows = [[0.0, 1.0], [5.0, 0.0], [2.5, 1.0], [2.6, 0.0]]
with open(f"{out}/predictions.json", "w") as f:
    json.dump({"rows": rows, "predictions": model.predict(rows).tolist()}, f)
"""

LOAD = """
import json, sys
import mlflow.pyfunc
import numpy as np
model = mlflow.pyfunc.load_model(sys.argv[1])
print(json.dumps(np.asarray(model.predict(np.array(json.loads(sys.argv[2])))).tolist()))
"""


def slow_ok(kaon: Kaon, *args: str, env: dict[str, str]) -> str:
    """`kaon.ok` with time for an environment with mlflow built under load."""
    p = kaon.run(*args, env=env, timeout=900)
    assert p.returncode == 0, f"kaon {' '.join(args)} → {p.returncode}\n{p.stdout}{p.stderr}"
    kaon.track()
    return p.stdout


def post(url: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read())


@pytest.mark.timeout(1500)  # mlflow envs, under load
def test_a_jobs_mlflow_model_is_served_and_a_kaon_model_exported(
    tmp_path: Path, saved: Path, mlflow_python: Path, mlflow_kaon: Kaon
) -> None:
    bundle = tmp_path / "code" / "mljob" / "model"
    bundle.mkdir(parents=True)
    (bundle / "train").write_text(TRAIN)
    (bundle / "train").chmod(0o755)
    # the model's own pins (mlflow, scikit-learn, ...): the environment the serve test built
    (bundle / "requirements.txt").write_text((saved / "requirements.txt").read_text())
    kaon = mlflow_kaon
    kaon.ok("workspace", "create", "-n", "mljobs")
    env = {"KAON_WORKSPACE": "mljobs"}
    code = str(tmp_path / "code")
    job = json.loads(slow_ok(kaon, "train", "deploy", "-s", code, "--wait", "--json", env=env))
    model = str(job["trials"][0]["model_id"])
    kaon.ok("train", "get", "-j", job["id"], "-m", "-o", str(tmp_path / "got"), env=env)
    recorded = json.loads(next((tmp_path / "got").rglob("predictions.json")).read_text())
    rows, expected = recorded["rows"], recorded["predictions"]
    pins = next((tmp_path / "got").rglob("mlflow/requirements.txt")).read_text().split()
    assert sorted(pins) == sorted((bundle / "requirements.txt").read_text().split())  # the job's

    # 2. served from its model id alone: the MLmodel in its files makes it an MLflow model
    out = slow_ok(
        kaon, "serve", "deploy", "-m", model, "--name", "jobml", "--wait", "--json", env=env
    )
    assert json.loads(out)["release"] == "jobml"
    base = kaon.server()["url"]  # type: ignore[index]
    status, ours = post(f"{base}/jobml/invocations", rows)
    assert status == 200 and ours == expected, (ours, expected)
    with urllib.request.urlopen(f"{base}/v2/models/jobml", timeout=30) as r:
        meta = json.loads(r.read())
    assert [i["name"] for i in meta["inputs"]] == ["a", "b"], meta  # its signature

    # 3. exported as an MLflow model: the real mlflow loads it and answers the same
    export = ("--model-id", model, "--format", "mlflow", "-o", str(tmp_path / "export"))
    got = kaon.run("train", "get", *export, env=env)
    assert got.returncode == 0, got.stdout + got.stderr
    folder = tmp_path / "export" / "mljobs" / job["id"] / "mlflow" / model.rsplit(":", 1)[-1]
    assert str(folder) in got.stdout + got.stderr  # where it went is said
    assert {"MLmodel", "model.pkl", "requirements.txt", "python_env.yaml"} <= {
        p.name for p in folder.iterdir()
    }
    assert "scikit-learn==" in (folder / "requirements.txt").read_text()
    loaded = subprocess.run(
        [str(mlflow_python), "-c", LOAD, str(folder), json.dumps(rows)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == expected, loaded.stderr
    again = ("train", "get", "--model-id", model, "--format", "mlflow", "-o")
    kaon.fails(2, *again, str(tmp_path / "export"), env=env, match="not an empty folder")

    # a model that is not an MLflow model / not a pickled estimator: said, nothing sent
    train, _, _ = bundles(tmp_path / "plain")
    plain = json.loads(kaon.ok("train", "deploy", "-s", str(train), "--wait", "--json", env=env))
    other = str(plain["trials"][0]["model_id"])
    kaon.fails(2, "serve", "deploy", "-m", other, env=env, match="holds no MLmodel file")
    kaon.fails(
        2,
        "train",
        "get",
        "--model-id",
        other,
        "--format",
        "mlflow",
        "-o",
        str(tmp_path / "x"),
        env=env,
        match="no model.pkl in its model folder",
    )
