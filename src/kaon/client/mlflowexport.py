"""A kaon scikit-learn model exported as an MLflow model (`kaon train get --format mlflow`).

The model folder of a trial holding a pickled estimator (`model.pkl`, as the templates write
it; else the only `*.pkl` there) becomes a folder MLflow loads (`mlflow.pyfunc.load_model`,
`mlflow models serve -m`): `MLmodel` with the `sklearn` flavour (serialization `pickle`) and
the `python_function` flavour (loader `mlflow.sklearn`), `model.pkl`, and the environment of
the job that trained it: `requirements.txt` (its lock's exact versions, hashes left out, with
`mlflow` when the lock lacks it) and `python_env.yaml` (its Python version). No mlflow is
needed on this side: the files are MLflow's documented format, written as MLflow writes them.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the lock

from kaon.client.rest import RestApi
from kaon.core.errors import InvalidInput

PICKLE = "model.pkl"


def pins(lock: str) -> list[str]:
    """The `name==version` lines of a `uv pip compile --generate-hashes` lock."""
    out: list[str] = []
    for line in lock.splitlines():
        if not line or line[0] in " \t#-":
            continue
        out.append(line.split(";")[0].rstrip(" \\").strip())
    return [p for p in out if p]


def _version(requirements: list[str], name: str) -> str | None:
    for line in requirements:
        found, _, version = line.partition("==")
        if found.strip().lower().replace("_", "-") == name:
            return version.strip()
    return None


def _pickle(folder: Path, model_id: str) -> Path:
    chosen = folder / PICKLE
    if chosen.is_file():
        return chosen
    found = sorted(p for p in folder.glob("*.pkl") if p.is_file())
    if len(found) == 1:
        return found[0]
    said = "several *.pkl files" if found else "no model.pkl"
    raise InvalidInput(
        f"model {model_id}: {said} in its model folder; --format mlflow exports a pickled "
        "scikit-learn estimator written as <out>/model/model.pkl"
    )


def write(env: Mapping[str, Any], model_id: str, folder: Path, dest: Path) -> Path:
    """The MLflow model of the model whose files are in `folder` in `dest`; `env`: the
    environment of the job that made it (its lock and Python version)."""
    pickled = _pickle(folder, model_id)
    requirements = pins(str(env.get("lock", "")))
    if _version(requirements, "scikit-learn") is None:
        raise InvalidInput(
            f"model {model_id}: its job's environment has no scikit-learn; --format mlflow "
            "exports scikit-learn models"
        )
    if _version(requirements, "mlflow") is None:
        requirements.insert(0, "mlflow")
    python = str(env.get("python", "3"))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pickled, dest / PICKLE)
    (dest / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python_env = {
        "python": python,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    (dest / "python_env.yaml").write_text(yaml.safe_dump(python_env, sort_keys=False))
    mlmodel = {
        "flavors": {
            "python_function": {
                "env": {"virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": PICKLE,
                "predict_fn": "predict",
                "python_version": python,
            },
            "sklearn": {
                "code": None,
                "pickled_model": PICKLE,
                "serialization_format": "pickle",
                "sklearn_version": _version(requirements, "scikit-learn"),
            },
        },
        "kaon_model_id": model_id,  # where it came from (MLflow keeps unknown keys)
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    (dest / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return dest


def export(api: RestApi, workspace: str, model_id: str, dest: Path) -> Path:
    """Model `model_id` of `workspace` as an MLflow model folder `dest` (new or empty)."""
    from kaon.client.modelfiles import fetch_model

    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(f"{dest}: exists and is not an empty folder; give another -o")
    with tempfile.TemporaryDirectory(prefix="kaon-export-") as tmp:
        job = fetch_model(api, workspace, model_id, Path(tmp) / "model")
        return write(job.env, model_id, Path(tmp) / "model", dest)
