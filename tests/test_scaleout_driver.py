"""benchmarks/scaleout.py passes `--workdir`, `--json`, `--quick` and `--check` to each section
script: every section's own parser accepts what the driver builds (no benchmark is run)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Import a benchmark script by file, as `python benchmarks/x.py` would (its folder on
    sys.path); sys.path and sys.modules are restored afterwards."""
    monkeypatch.setattr(sys, "path", [str(BENCH), *sys.path])
    before = set(sys.modules)

    def _load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    yield _load
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("check", [False, True])
def test_every_section_parses_what_the_driver_passes(
    load: object, tmp_path: Path, quick: bool, check: bool
) -> None:
    driver = load("scaleout")  # type: ignore[operator]
    for section in driver.SECTIONS:
        argv = driver.section_argv(section, tmp_path, quick=quick, check=check)
        script = load(f"scaleout_{section}")  # type: ignore[operator]
        args = script.arg_parser().parse_args(argv)
        assert Path(args.workdir) == tmp_path / section, section
        assert Path(args.json) == tmp_path / f"{section}.json", section
        assert args.quick is quick, section
        assert args.check is check, section


def test_the_driver_runs_the_scripts_it_names(load: object) -> None:
    driver = load("scaleout")  # type: ignore[operator]
    assert driver.SECTIONS == ("s3", "ray", "meta")
    for section in driver.SECTIONS:
        assert (BENCH / f"scaleout_{section}.py").is_file()
