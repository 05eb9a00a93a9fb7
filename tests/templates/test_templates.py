"""The templates shipped in kaon/templates: layout, scripts, parameters and data.

Static checks only (no network, no scikit-learn): training and serving them is verified by
running them, which needs the packages of their requirements.txt files.
"""

from __future__ import annotations

import ast
import csv
import itertools
import json
import math
import os
import stat
import sys
from pathlib import Path

import pytest

import kaon

ROOT = Path(kaon.__file__).resolve().parent / "templates"
TEMPLATES = ["mnist", "property-val"]
SPLITS = ["training", "validation", "test"]
GRID_SIZES = {"mnist": 12, "property-val": 8}
# top-level import -> the requirement that provides it
PROVIDED_BY = {
    "numpy": "numpy",
    "sklearn": "scikit-learn",
    "threadpoolctl": "scikit-learn",  # a dependency of scikit-learn
    "PIL": "pillow",
}


def train_dir(name: str) -> Path:
    return ROOT / name / "model-train" / name / "model"


def serve_dir(name: str) -> Path:
    return ROOT / name / "model-serve" / name / "model"


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def requirements(folder: Path) -> set[str]:
    names = set()
    for line in (folder / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = line
            for sep in "<>=!~[; ":
                name = name.split(sep)[0]
            names.add(name.lower())
    return names


def top_level_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_metadata_lists_every_template() -> None:
    metadata = read_json(ROOT / "metadata.json")
    assert metadata == [
        {
            "name": "mnist",
            "description": "Train an image classification model on handwritten digits",
            "input_type": "images",
        },
        {
            "name": "property-val",
            "description": "Train a model to predict housing prices",
            "input_type": "numerical & categorical",
        },
        {
            "name": "pipelines",
            "description": "A 3-stage pipeline: clean CSVs, train, evaluate (stdlib only)",
            "input_type": "numerical (pipelines)",
        },
        {
            "name": "e2e",
            "description": "Seed 001's workflow on digits: warehouse, transform, tune, model, "
            "evaluate, release (scikit-learn)",
            "input_type": "images (pipelines)",
        },
    ]
    folders = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name[0] not in "._")
    assert folders == sorted(entry["name"] for entry in metadata)


@pytest.mark.parametrize("name", TEMPLATES)
def test_layout(name: str) -> None:
    base = ROOT / name
    for rel in [
        "README.md",
        "data.mf",
        "hyperopt/params.json",
        f"model-train/{name}/model/train",
        f"model-train/{name}/model/requirements.txt",
        f"model-train/{name}/model/params.json",
        f"model-serve/{name}/model/model.py",
        f"model-serve/{name}/model/requirements.txt",
        *(f"data/features/{s}/{s}.csv" for s in SPLITS),
    ]:
        assert (base / rel).is_file(), rel
    # one bundle per folder: the platform looks for exactly one `train` / `model.py`
    assert [p.relative_to(base) for p in (base / "model-train").rglob("train")] == [
        Path(f"model-train/{name}/model/train")
    ]
    assert len(list((base / "model-serve").rglob("model.py"))) == 1


@pytest.mark.parametrize("name", TEMPLATES)
def test_train_is_an_executable_python3_script(name: str) -> None:
    path = train_dir(name) / "train"
    mode = path.stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXGRP and mode & stat.S_IXOTH
    assert os.access(path, os.X_OK)
    source = path.read_text()
    assert source.startswith("#!/usr/bin/env python3\n")
    compile(source, str(path), "exec")


@pytest.mark.parametrize("name", TEMPLATES)
def test_train_reads_the_run_contract(name: str) -> None:
    sources = "".join(
        p.read_text() for p in [train_dir(name) / "train", *train_dir(name).glob("*.py")]
    )
    for needle in ["KAON_DATA_DIR", "KAON_SEED", "params.json", "sys.argv", "protocol=4"]:
        assert needle in sources, needle
    for out in ['"model"', '"metrics"', "metrics.json", "model.pkl"]:
        assert out in sources, out


@pytest.mark.parametrize("name", TEMPLATES)
def test_serve_model_defines_load_ctx_and_predict(name: str) -> None:
    path = serve_dir(name) / "model.py"
    tree = ast.parse(path.read_text(), str(path))
    compile(tree, str(path), "exec")
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert [a.arg for a in functions["load_ctx"].args.args] == ["model_dir"]
    assert [a.arg for a in functions["predict"].args.args] == ["payload", "ctx"]


@pytest.mark.parametrize(("name", "kind"), list(itertools.product(TEMPLATES, ["train", "serve"])))
def test_python_files_compile_and_imports_are_required(name: str, kind: str) -> None:
    folder = train_dir(name) if kind == "train" else serve_dir(name)
    required = requirements(folder)
    assert {"scikit-learn", "numpy"} <= required
    local = {p.stem for p in folder.glob("*.py")}
    files = [*folder.glob("*.py"), *([folder / "train"] if kind == "train" else [])]
    for path in files:
        source = path.read_text()
        compile(source, str(path), "exec")
        provided = {"kaon"}  # kaon's runtime helpers are on every job's PYTHONPATH
        for module in top_level_imports(source) - local - provided - set(sys.stdlib_module_names):
            assert PROVIDED_BY.get(module) in required, f"{path.name} imports {module}"


def test_mnist_serve_needs_pillow() -> None:
    assert "pillow" in requirements(serve_dir("mnist"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_params_and_grid(name: str) -> None:
    params = read_json(train_dir(name) / "params.json")
    grid = read_json(ROOT / name / "hyperopt" / "params.json")
    assert isinstance(params, dict)
    assert isinstance(grid, dict)
    assert grid
    for key, values in grid.items():
        assert key in params, f"grid key {key} is not in params.json"
        assert isinstance(values, list)
        assert values
        assert len(set(map(json.dumps, values))) == len(values)
    assert math.prod(len(v) for v in grid.values()) == GRID_SIZES[name]


def test_mnist_params() -> None:
    params = read_json(train_dir("mnist") / "params.json")
    assert params == {
        "decision_function_shape": "ovo",
        "degree": 5,
        "gamma": 0.01,
        "kernel": "poly",
        "C": 1.0,
    }


def test_property_val_params_name_csv_columns() -> None:
    params = read_json(train_dir("property-val") / "params.json")
    assert isinstance(params, dict)
    header = read_csv(ROOT / "property-val" / "data" / "features" / "training" / "training.csv")[0]
    assert set(params["features"]) <= set(header)
    assert params["target"] in header
    assert params["target"] not in params["features"]
    assert set(params["categorical"]) <= set(params["features"])


def test_mnist_csvs() -> None:
    total = 0
    for split in SPLITS:
        rows = read_csv(ROOT / "mnist" / "data" / "features" / split / f"{split}.csv")
        header, body = rows[0], rows[1:]
        assert header == ["label"] + [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
        assert body
        for row in body:
            assert len(row) == 65
            assert 0 <= int(row[0]) <= 9
            assert all(0 <= int(v) <= 16 for v in row[1:])
        assert {int(row[0]) for row in body} == set(range(10))
        total += len(body)
    assert total == 1797  # all of scikit-learn's load_digits()


def test_property_val_csvs() -> None:
    params = read_json(train_dir("property-val") / "params.json")
    assert isinstance(params, dict)
    numeric = [c for c in [*params["features"], params["target"]] if c not in params["categorical"]]
    headers, categories = set(), {c: set() for c in params["categorical"]}
    for split in SPLITS:
        rows = read_csv(ROOT / "property-val" / "data" / "features" / split / f"{split}.csv")
        header, body = rows[0], rows[1:]
        headers.add(tuple(header))
        assert body
        assert all(len(row) == len(header) for row in body)
        for row in body:
            record = dict(zip(header, row, strict=True))
            assert all(math.isfinite(float(record[c])) for c in numeric)
            assert float(record[params["target"]]) > 0
            for c in params["categorical"]:
                categories[c].add(record[c])
    assert len(headers) == 1
    assert all(len(values) > 1 for values in categories.values())


@pytest.mark.parametrize("name", TEMPLATES)
def test_data_manifest(name: str) -> None:
    lines = (ROOT / name / "data.mf").read_text().splitlines()
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert entry["url"].startswith(("http://", "https://"))
        assert not entry["path"].startswith("/")
        assert (ROOT / name / "data" / entry["path"]).is_file()
        assert entry["url"].endswith("/" + entry["path"])


def test_payloads() -> None:
    jpeg = (ROOT / "mnist" / "test_payload.jpg").read_bytes()
    assert jpeg.startswith(b"\xff\xd8\xff")
    assert jpeg.endswith(b"\xff\xd9")
    house = read_json(ROOT / "property-val" / "test_payload.json")
    params = read_json(train_dir("property-val") / "params.json")
    assert isinstance(house, dict)
    assert isinstance(params, dict)
    assert set(house) == set(params["features"])
