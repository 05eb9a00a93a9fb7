"""MLflow models served as they are (issue 20): a model saved by the real `mlflow`
(mlflow.sklearn.save_model, in a throw-away venv built by scripts/mlflow-venv.sh) is deployed
with `kaon serve deploy --mlflow FOLDER` (no model.py) and answers what `mlflow models serve`
answers for the same inputs; a folder with no pyfunc flavour or no MLmodel is refused clearly.

The MLflow models of kaon jobs (tests/e2e/mlflowjob.py) are tested here too, on this module's
platform. Outside CI a venv that cannot be built (no network) skips the test; under CI=true it
fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Kaon, free_port, tool_python
from .mlflowjob import test_a_jobs_mlflow_model_is_served_and_a_kaon_model_exported  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # mlflow envs, under load


SAVE = """
import sys
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
y = [0, 0, 0, 1, 1, 1]
model = LogisticRegression().fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)))
"""

BODIES: list[Any] = [  # what `mlflow models serve` takes for a model with named columns
    {"dataframe_split": {"columns": ["a", "b"], "data": [[0.0, 1.0], [5.0, 0.0], [2.5, 1.0]]}},
    {"dataframe_records": [{"a": 0.5, "b": 1.0}, {"a": 4.5, "b": 0.0}]},
]


SIGNATURE = {  # the OIP metadata of SAVE's signature (columns a, b: double; one long output)
    "inputs": [
        {"name": "a", "datatype": "FP64", "shape": [-1]},
        {"name": "b", "datatype": "FP64", "shape": [-1]},
    ],
    "outputs": [{"name": "result", "datatype": "INT64", "shape": [-1]}],
    "parameters": {"content_type": "pd"},
}


def metadata(base: str, name: str) -> dict[str, Any]:
    """The signature part of /v2/models/<name> (polled: after a restart the endpoint comes
    back with the platform)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/v2/models/{name}", timeout=30) as r:
                doc = json.loads(r.read())
                return {k: doc[k] for k in ("inputs", "outputs", "parameters") if k in doc}
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, f"/v2/models/{name} never answered"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def mlflow_python() -> Path:
    return tool_python("mlflow-venv.sh", what="mlflow")


@pytest.fixture(scope="module")
def mlflow_kaon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kaon]:
    """The platform of this module's deployments, each test in a workspace of its own: the
    MLflow model's environment (~190 packages) is built once, for the first of them."""
    kaon = Kaon(tmp_path_factory.mktemp("mlflow-kaon"))
    try:
        kaon.up()
        yield kaon
    finally:
        kaon.shutdown()


@pytest.fixture(scope="module")
def saved(mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlflow") / "model"
    subprocess.run(
        [str(mlflow_python), "-c", SAVE, str(folder)], check=True, capture_output=True, timeout=300
    )
    return folder


def post(url: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def mlflow_serve(
    mlflow_python: Path, saved: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`mlflow models serve` of the saved model (its own environment: --env-manager local)."""
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow-serve") / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(mlflow_python.parent / "mlflow"),
                "models",
                "serve",
                "-m",
                str(saved),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PATH": f"{mlflow_python.parent}{os.pathsep}{os.environ['PATH']}"},
        )
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        deadline = time.monotonic() + 300  # importing mlflow takes a while
        while True:
            try:
                if post(url, BODIES[0])[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_mlflow_model_answers_as_mlflow_serves_it(
    saved: Path, mlflow_serve: str, mlflow_kaon: Kaon
) -> None:
    kaon = mlflow_kaon
    kaon.ok("workspace", "create", "-n", "mlws")
    env = {"KAON_WORKSPACE": "mlws"}
    doc = json.loads(
        kaon.ok(
            "serve",
            "deploy",
            "--mlflow",
            str(saved),
            "--name",
            "iris",
            "--wait",
            "--json",
            env=env,
        )
    )
    assert doc["release"] == "iris", doc
    base = kaon.server()["url"]  # type: ignore[index]
    assert metadata(base, "iris") == SIGNATURE  # the MLmodel's, before any request
    for body in BODIES:
        status, theirs = post(mlflow_serve, body)
        assert status == 200, theirs
        status, ours = post(f"{base}/iris/invocations", body)
        assert status == 200 and ours == theirs["predictions"], (body, ours, theirs)
    rows = [[0.0, 1.0], [5.0, 0.0], [2.5, 1.0]]  # plain rows: kaon names the columns
    status, ours = post(f"{base}/iris/invocations", rows)
    assert status == 200 and ours == post(mlflow_serve, BODIES[0])[1]["predictions"], ours
    oip = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "FP64", "data": [0.0, 5.0]},
            {"name": "b", "shape": [2], "datatype": "FP64", "data": [1.0, 0.0]},
        ],
        "parameters": {"content_type": "pd"},
    }
    status, answer = post(f"{base}/v2/models/iris/infer", oip)
    assert status == 200 and answer["outputs"][0]["data"] == [0, 1], answer
    assert metadata(base, "iris") == SIGNATURE  # a request learns nothing over it
    kaon.shutdown()
    kaon.up()  # the declared signature is stored: a restarted server answers it
    assert metadata(kaon.server()["url"], "iris") == SIGNATURE  # type: ignore[index]


def test_folders_that_are_not_pyfunc_models_are_refused(tmp_path: Path, saved: Path) -> None:
    kaon = Kaon(tmp_path / "home")  # refused before any server is reached
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"KAON_WORKSPACE": "w"}
    kaon.fails(2, "serve", "deploy", "--mlflow", str(empty), env=env, match="no MLmodel file")
    other = tmp_path / "keras-only"
    other.mkdir()
    (other / "MLmodel").write_text("flavors:\n  keras:\n    keras_version: 3.0\n")
    kaon.fails(
        2,
        "serve",
        "deploy",
        "--mlflow",
        str(other),
        env=env,
        match="no python_function flavour (found: keras)",
    )
    kaon.fails(
        2,
        "serve",
        "deploy",
        "--mlflow",
        str(saved),
        "-s",
        str(saved),
        env=env,
        match="or an MLflow model (--mlflow FOLDER)",
    )


def test_an_mlflow_model_whose_requirements_do_not_resolve_fails_its_build_saying_which(
    tmp_path: Path, saved: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(saved, broken)
    wanted = (saved / "requirements.txt").read_text()
    (broken / "requirements.txt").write_text(wanted + "kaon-no-such-package-xyz==9.9.9\n")
    kaon = Kaon(tmp_path / "home")
    try:
        kaon.up()
        kaon.ok("workspace", "create", "-n", "mlbad")
        env = {"KAON_WORKSPACE": "mlbad"}
        p = kaon.run(
            "serve", "deploy", "--mlflow", str(broken), "--wait", "--json", env=env, timeout=600
        )
        assert p.returncode == 1, p.stdout + p.stderr
        doc = json.loads(p.stdout)
        assert doc["failure"] == "build", doc
        build = kaon.ok("serve", "build-logs", "-e", doc["name"], env=env)
        assert "kaon-no-such-package-xyz" in build, build
    finally:
        kaon.shutdown()


ADAPTER_CHECK = """
import json, sys
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.pyfunc import PyFuncModel
from sklearn.linear_model import LogisticRegression
import mlflow.sklearn

plain = sys.argv[1] + "/plain"  # no signature: MLflow's predict passes the input through
X = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]]
mlflow.sklearn.save_model(LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1]), plain)
sys.path.insert(0, sys.argv[2])
import model as adapter

out = {}
for name, folder in (("plain", plain), ("signed", sys.argv[3])):
    rows = [[0.5, 1.0], [4.5, 0.0], [2.5, 1.0]]
    data = np.asarray(rows) if name == "plain" else pd.DataFrame(rows, columns=["a", "b"])
    theirs = mlflow.pyfunc.load_model(folder).predict(data).tolist()
    calls = []
    wrapped = PyFuncModel.predict
    PyFuncModel.predict = lambda self, *a, **k: calls.append(1) or wrapped(self, *a, **k)
    ctx = adapter.load_ctx(folder)  # MODEL_PATH "": the folder itself
    ours = [adapter.predict(rows, ctx), adapter.predict({"inputs": rows}, ctx)]
    PyFuncModel.predict = wrapped
    out[name] = {"same": ours == [theirs, theirs], "wrapper_calls": len(calls)}
print(json.dumps(out))
"""


def test_the_adapter_skips_mlflows_wrapper_only_where_it_changes_nothing(
    mlflow_python: Path, saved: Path, tmp_path: Path
) -> None:
    """Found by benchmarks/serve.py: MLflow's PyFuncModel.predict costs ~70 µs per request
    (schema lookups, inspect.signature, a prediction context) even for a model with no
    signature, where it passes the input to the flavour's predict unchanged: kaon --mlflow
    was 2.5x `mlflow models serve`, kaon with a model.py 3.6x. The generated model.py calls
    the flavour's predict itself for such a model (same answers), and keeps MLflow's wrapper
    for a model with a signature (it enforces the schema)."""
    from kaon.client.mlflowbundle import write_adapter

    code = tmp_path / "code"
    write_adapter(saved, code, "")  # model.py, loading the folder load_ctx is given
    result = subprocess.run(
        [str(mlflow_python), "-c", ADAPTER_CHECK, str(tmp_path), str(code), str(saved)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plain"] == {"same": True, "wrapper_calls": 0}, out
    assert out["signed"] == {"same": True, "wrapper_calls": 2}, out
