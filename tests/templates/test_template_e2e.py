"""The `e2e` template (src/kaon/templates/e2e, `make demo-e2e`): its specs parse, its code
imports only what requirements.txt provides, and its stages, run by hand in an environment of
scikit-learn built by uv (the packages the platform would install), compute what the
walk-through expects: a reproducible hash split, a tuned and bit-for-bit reproducible model,
evaluation_result.csv above the gate, a serve bundle answering the shipped payload, and a
gate that fails with a one-line reason before touching any platform."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import uv

import kaon
from kaon.core.pipelines.parse import parse_specs

ROOT = Path(kaon.__file__).resolve().parent / "templates" / "e2e"
CODE = ROOT / "code"
DATA = ROOT / "data"
STAGES = ["warehouse", "transform", "tune", "model", "evaluate", "release"]


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtualenv with the template's requirements, built by uv as the platform builds the
    stages' (quick once uv's cache is warm)."""
    venv = tmp_path_factory.mktemp("e2e-env") / "venv"
    for command in (
        ["venv", "--quiet", str(venv)],
        ["pip", "install", "--quiet", "--python", str(venv), "-r", str(CODE / "requirements.txt")],
    ):
        done = subprocess.run(
            [uv.find_uv_bin(), *command], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"uv {command[0]} failed: {done.stderr}"
    return str(venv / "bin" / "python")


def run(
    python: str, cwd: Path, script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAON_", "PYTHONPATH"))}
    return subprocess.run(
        [python, str(CODE / script), *args],
        cwd=cwd,
        env={**clean, "PYTHONHASHSEED": "0", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def ok(python: str, cwd: Path, script: str, *args: str) -> str:
    done = run(python, cwd, script, *args)
    assert done.returncode == 0, f"{script}: {done.stderr}"
    return done.stdout


def test_specs_parse_into_the_six_stages_of_seed_001() -> None:
    parsed = parse_specs((ROOT / "specs.yaml").read_text(), "specs.yaml")
    assert [s.name for s in parsed.specs] == STAGES
    assert parsed.warnings == []
    for spec in parsed.specs:
        assert spec.transform.source == "code"
        assert list(spec.transform.cmd) == ["/bin/bash"]
        assert all("/pfs/" in line for line in spec.transform.stdin)
        for line in spec.transform.stdin:  # every script a stage runs is shipped
            words = line.split()
            if words[0] == "python":
                assert (CODE / words[1]).is_file(), line
    release = parsed.specs[-1]
    env = dict(release.transform.env)
    assert env["ENDPOINT"] == "petset"
    assert float(env["MIN_ACCURACY"]) > 0.9
    assert "${evaluate_COMMIT}" in release.transform.stdin[0]
    assert release.datum_tries == 1  # a failed gate is not retried
    for name in ("stream", "more"):
        assert sorted(p.name for p in (DATA / name).iterdir()) == [
            "digits-a.csv" if name == "stream" else "digits-b.csv"
        ]


def test_code_imports_only_its_requirements_the_stdlib_and_the_sdk() -> None:
    wanted = {  # requirement -> module; the last three: the SDK's uploads (release.py)
        "scikit-learn": "sklearn",
        "numpy": "numpy",
        "blake3": "blake3",
        "zstandard": "zstandard",
        "pyfastcdc": "pyfastcdc",
    }
    lines = (CODE / "requirements.txt").read_text().splitlines()
    names = {ln.split(">")[0].split("=")[0].strip() for ln in lines if ln and ln[0] != "#"}
    assert names == set(wanted)
    assert (CODE / "serve" / "requirements.txt").read_text() == "\n".join(lines) + "\n"
    local = {p.stem for p in CODE.glob("*.py")}
    allowed = sys.stdlib_module_names | local | set(wanted.values()) | {"__future__", "kaon"}
    for path in [*CODE.glob("*.py"), CODE / "serve" / "model.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert tops <= allowed, (path.name, tops)


def split_counts(folder: Path) -> dict[str, list[str]]:
    out = {}
    for name in ("training", "validation", "test"):
        with open(folder / f"{name}.csv", newline="") as f:
            out[name] = [row[0] for row in list(csv.reader(f))[1:]]
    return out


def test_stages_by_hand_split_tune_train_bit_for_bit_and_evaluate(
    python: str, tmp_path: Path
) -> None:
    warehouse, one, two = tmp_path / "warehouse", tmp_path / "t1", tmp_path / "t2"
    assert "1200 images" in ok(
        python,
        tmp_path,
        "warehouse.py",
        "--input",
        str(DATA / "stream"),
        "--output",
        str(warehouse),
    )
    ok(python, tmp_path, "transform.py", "--input", str(warehouse), "--output", str(one))
    assert "597 images" in ok(
        python,
        tmp_path,
        "warehouse.py",
        "--input",
        str(DATA / "more" / "digits-b.csv"),
        "--output",
        str(warehouse),
    )
    ok(python, tmp_path, "transform.py", "--input", str(warehouse), "--output", str(two))
    first, second = split_counts(one), split_counts(two)
    assert sum(map(len, second.values())) == 1797
    for name, ids in first.items():  # more data moves no image to another split
        assert set(ids) <= set(second[name]) and ids == sorted(ids), name
    assert json.loads((two / "split.json").read_text()) == {k: len(v) for k, v in second.items()}
    assert 0.6 < len(second["training"]) / 1797 < 0.8

    tune = tmp_path / "tune"
    ok(python, tmp_path, "tune.py", "--input", str(two), "--output", str(tune))
    hp = json.loads((tune / "optimal_hp.json").read_text())
    with open(tune / "hp_analysis_outcome.csv", newline="") as f:
        points = list(csv.DictReader(f))
    assert len(points) == 6
    best = max(float(p["val_accuracy"]) for p in points)
    firsts = [
        (float(p["C"]), float(p["gamma"])) for p in points if float(p["val_accuracy"]) == best
    ]
    assert firsts[:1] == [(hp["C"], hp["gamma"])]  # ties: the first of the grid

    models = []
    for run_ in ("m1", "m2"):
        ok(
            python,
            tmp_path,
            "train.py",
            "--input",
            str(two),
            "--hyperparam_fn_path",
            str(tune / "optimal_hp.json"),
            "--output",
            str(tmp_path / run_),
        )
        models.append((tmp_path / run_ / "model.pkl").read_bytes())
    assert models[0] == models[1]  # bit for bit
    info = json.loads((tmp_path / "m1" / "model.json").read_text())
    assert info["model_sha256"] == hashlib.sha256(models[0]).hexdigest()
    assert info["trained_on"] == len(second["training"]) + len(second["validation"])

    evaluate = tmp_path / "evaluate"
    ok(
        python,
        tmp_path,
        "evaluate.py",
        "--test",
        str(two / "test.csv"),
        "--model",
        str(tmp_path / "m1"),
        "--output",
        str(evaluate),
    )
    with open(evaluate / "evaluation_result.csv", newline="") as f:
        rows = {r["Metric Name"]: float(r["Value"]) for r in csv.DictReader(f)}
    assert list(rows) == ["Accuracy", "Precision", "Recall", "F1 Score", "Test Images"]
    assert rows["Test Images"] == len(second["test"])
    assert rows["Accuracy"] > 0.95  # the gate of specs.yaml passes

    # the serve bundle answers the shipped payload (the demo's predictions)
    payload = json.loads((DATA / "payload.json").read_text())
    answer = subprocess.run(
        [
            python,
            "-c",
            "import json, sys; sys.path.insert(0, sys.argv[1]); import model; "
            "ctx = model.load_ctx(sys.argv[2]); print(json.dumps([model.predict(json.loads(sys.argv[3]), ctx), "
            "model.predict({'pixels': json.loads(sys.argv[3])[0]}, ctx)]))",
            str(CODE / "serve"),
            str(tmp_path / "m1"),
            json.dumps(payload["ndarray"]),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    batch, single = json.loads(answer.stdout)
    assert len(batch) == len(payload["labels"]) == 5 and single == batch[:1]
    assert sum(a == b for a, b in zip(batch, payload["labels"], strict=True)) >= 4

    # the gate: below MIN_ACCURACY the release exits 1 with one reason, before any platform
    (evaluate / "model.json").write_text((tmp_path / "m1" / "model.json").read_text())
    failed = run(
        python,
        tmp_path,
        "release.py",
        "--input",
        str(evaluate),
        "--version",
        "c517ec0123",
        "--output",
        str(tmp_path / "rel"),
        env={"WORKSPACE": "e2e", "MIN_ACCURACY": "0.9999"},
    )
    assert failed.returncode == 1
    assert "quality gate failed: Accuracy" in failed.stderr and "nothing deployed" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "rel").exists()
