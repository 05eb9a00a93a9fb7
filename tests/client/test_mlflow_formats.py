"""MLflow's files as kaon reads and writes them (no mlflow here: the e2e tests load them with
the real one): an MLmodel signature as OIP metadata, a lock as MLflow requirements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from kaon.client.mlflowbundle import find_mlmodel, oip_signature
from kaon.client.mlflowexport import pins, write
from kaon.core.errors import InvalidBundle, InvalidInput
from kaon.core.signatures import checked


def test_column_and_tensor_signatures_become_oip_metadata() -> None:
    columns = {
        "signature": {
            "inputs": json.dumps(
                [{"type": "double", "name": "a"}, {"type": "string", "name": "city"}]
            ),
            "outputs": json.dumps([{"type": "long"}]),
        }
    }
    assert oip_signature(columns) == {
        "inputs": [
            {"name": "a", "datatype": "FP64", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [{"name": "result", "datatype": "INT64", "shape": [-1]}],
        "parameters": {"content_type": "pd"},
    }
    tensor = {
        "signature": {
            "inputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]',
            "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        }
    }
    sig = oip_signature(tensor)
    assert sig == {
        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "result", "datatype": "INT64", "shape": [-1]}],
    }
    assert checked(sig, "here") == sig
    assert oip_signature({"flavors": {}}) is None
    with pytest.raises(InvalidBundle, match="not the JSON list MLflow writes"):
        oip_signature({"signature": {"inputs": "{oops"}})


def test_a_bad_declared_signature_says_what_is_wrong() -> None:
    with pytest.raises(InvalidBundle, match=r"inputs\[0\]\.datatype 'FP128'"):
        checked({"inputs": [{"name": "x", "datatype": "FP128", "shape": [1]}]}, "sig.json")
    with pytest.raises(InvalidBundle, match=r"outputs\[0\]\.shape"):
        checked({"outputs": [{"name": "y", "datatype": "FP32", "shape": "3"}]}, "sig.json")


def test_the_shallowest_mlmodel_is_found(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "MLmodel").write_text("flavors: {}\n")
    assert find_mlmodel(tmp_path) == tmp_path / "z"
    assert find_mlmodel(tmp_path / "a" / "b" / "nothing") is None


LOCK = """\
# via requirements.in
numpy==2.1.0 \\
    --hash=sha256:00
scikit-learn==1.5.2 ; python_version >= "3.9" \\
    --hash=sha256:11
    # via -r requirements.in
"""


def test_an_export_is_an_mlflow_sklearn_model(tmp_path: Path) -> None:
    assert pins(LOCK) == ["numpy==2.1.0", "scikit-learn==1.5.2"]
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(b"pickle")
    dest = write({"lock": LOCK, "python": "3.11.7"}, "a_b:c", tmp_path / "model", tmp_path / "out")
    mlmodel = yaml.safe_load((dest / "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["sklearn_version"] == "1.5.2"
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert (dest / "requirements.txt").read_text().splitlines() == [
        "mlflow",
        "numpy==2.1.0",
        "scikit-learn==1.5.2",
    ]
    assert yaml.safe_load((dest / "python_env.yaml").read_text())["python"] == "3.11.7"
    with pytest.raises(InvalidInput, match="no scikit-learn"):
        write({"lock": "numpy==2.1.0\n"}, "a_b:c", tmp_path / "model", tmp_path / "out2")


def test_an_export_needs_one_pickled_estimator(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"x")
    with pytest.raises(InvalidInput, match=r"no model\.pkl in its model folder"):
        write({"lock": LOCK}, "a_b:c", tmp_path / "model", tmp_path / "out")
    for name in ("a.pkl", "b.pkl"):
        (tmp_path / "model" / name).write_bytes(b"x")
    with pytest.raises(InvalidInput, match=r"several \*\.pkl files"):
        write({"lock": LOCK}, "a_b:c", tmp_path / "model", tmp_path / "out")
    (tmp_path / "model" / "b.pkl").unlink()
    assert (
        write({"lock": LOCK}, "a_b:c", tmp_path / "model", tmp_path / "out") / "model.pkl"
    ).read_bytes() == b"x"
