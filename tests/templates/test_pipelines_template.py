"""The `pipelines` template (src/kaon/templates/pipelines): its specs parse, its code needs
nothing but the standard library, and its stages compute what the walk-through expects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kaon
from kaon.core.pipelines.parse import parse_specs

ROOT = Path(kaon.__file__).resolve().parent / "templates" / "pipelines"
CODE = ROOT / "code"


def test_specs_parse_without_warnings_and_read_the_shipped_repos() -> None:
    parsed = parse_specs((ROOT / "specs.yaml").read_text(), "specs.yaml")
    specs, warnings = parsed.specs, parsed.warnings
    assert [s.name for s in specs] == ["transform", "train", "evaluate"]
    assert warnings == []
    for spec in specs:
        assert spec.transform.source == "code"
        assert list(spec.transform.cmd) == ["/bin/bash"]
        assert all("/pfs/" in line for line in spec.transform.stdin)
        assert spec.datum_tries == 2
    for repo in ("raw", "params", "holdout"):
        assert (ROOT / "data" / repo).is_dir(), repo


def test_code_is_standard_library_only() -> None:
    lines = (CODE / "requirements.txt").read_text().splitlines()
    assert [ln for ln in lines if ln.strip() and not ln.startswith("#")] == []
    local = {p.stem for p in CODE.glob("*.py")}
    for path in CODE.glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                top = words[1].split(".")[0]
                assert top in sys.stdlib_module_names | local | {"__future__"}, (path, top)


def run(tmp: Path, script: str, *args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, str(CODE / script), *args]
    subprocess.run(command, check=True, cwd=tmp, env={**os.environ, **(env or {})})


def scores(tmp: Path, max_abs: str) -> dict[str, float]:
    tmp.mkdir()
    clean, model, metrics = tmp / "clean", tmp / "model", tmp / "m.json"
    raw = str(ROOT / "data" / "raw")
    run(tmp, "transform.py", "--input", raw, "--output", str(clean), env={"MAX_ABS": max_abs})
    assert sorted(p.name for p in (clean / "clean").iterdir()) == [
        f"part-0{i}.csv" for i in range(1, 5)
    ]
    hp = str(ROOT / "data" / "params" / "hp.json")
    run(tmp, "train.py", "--input", str(clean), "--hyperparam_fn_path", hp, "--output", str(model))
    hold = str(ROOT / "data" / "holdout")
    model_file = str(model / "model.json")
    run(tmp, "evaluate.py", "--model", model_file, "--holdout", hold, "--output", str(metrics))
    found: dict[str, float] = json.loads(metrics.read_text())
    return found


def test_stages_run_by_hand_and_max_abs_100_drops_the_glitches(tmp_path: Path) -> None:
    first = scores(tmp_path / "v1", "1000")  # specs.yaml's value: the +300 glitches stay
    second = scores(tmp_path / "v2", "100")  # the walk-through's update: they go
    assert first["rows"] == second["rows"] == 40
    assert (first["trained_on"], second["trained_on"]) == (188, 180)
    assert second["rmse"] < 1.0 < first["rmse"]  # y = 3 x1 - 2 x2 + 0.5 + N(0, 0.5)
