"""kaon.determinism: seeding, the KAON_SEED variable, describe(), and staying stdlib-only."""

from __future__ import annotations

import ast
import os
import random
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaon import determinism
from kaon.determinism import describe, seed_everything

SOURCE = Path(determinism.__file__)
TOUCHED = ("KAON_SEED", "PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "TF_DETERMINISTIC_OPS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """seed_everything writes os.environ: start each test without those variables and put
    them back afterwards (monkeypatch restores what it deleted)."""
    for name in TOUCHED:
        monkeypatch.delenv(name, raising=False)
    state = random.getstate()
    yield
    random.setstate(state)


def draws() -> list[float]:
    return [random.random() for _ in range(5)]


def test_same_seed_same_sequence() -> None:
    assert seed_everything(1234) == 1234
    first = draws()
    assert seed_everything(1234) == 1234
    assert draws() == first
    seed_everything(4321)
    assert draws() != first


def test_seed_comes_from_kaon_seed_else_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    assert seed_everything() == 0
    zero = draws()
    monkeypatch.setenv("KAON_SEED", " 7 ")
    assert seed_everything() == 7
    seven = draws()
    seed_everything(7)
    assert draws() == seven != zero
    assert seed_everything(9) == 9  # the argument wins over the variable


def test_seed_is_exported_for_subprocesses() -> None:
    seed_everything(42)
    assert os.environ["KAON_SEED"] == "42"
    assert os.environ["PYTHONHASHSEED"] == "42"
    code = "print(hash('kaon'))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1  # string hashing in children is fixed by PYTHONHASHSEED


@pytest.mark.parametrize("bad", ["abc", "1.5", "-1", str(2**32)])
def test_bad_kaon_seed_is_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("KAON_SEED", bad)
    with pytest.raises(ValueError):
        seed_everything()


def test_bad_seed_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        seed_everything(-1)
    with pytest.raises(TypeError):
        seed_everything(True)
    with pytest.raises(TypeError):
        seed_everything("3")  # type: ignore[arg-type]


def test_numpy_is_seeded_when_installed() -> None:
    numpy = pytest.importorskip("numpy")
    seed_everything(5)
    first = numpy.random.rand(3).tolist()
    seed_everything(5)
    assert numpy.random.rand(3).tolist() == first


Calls = list[tuple[str, tuple[object, ...], dict[str, object]]]  # (dotted name, args, kwargs)


class Recorder:
    """Stands in for any attribute chain of a fake module and records the calls made on it."""

    def __init__(self, calls: Calls, name: str) -> None:
        self._calls, self._name = calls, name

    def __getattr__(self, attr: str) -> Recorder:
        child = Recorder(self._calls, f"{self._name}.{attr}")
        object.__setattr__(self, attr, child)
        return child

    def __call__(self, *args: object, **kwargs: object) -> None:
        self._calls.append((self._name, args, kwargs))


def fake_module(name: str, calls: Calls) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__["__version__"] = "9.9.9"
    recorder = Recorder(calls, name)
    module.__dict__["__getattr__"] = recorder.__getattr__  # PEP 562: torch.anything -> Recorder
    return module


def test_torch_and_tensorflow_are_configured_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Calls = []
    torch, tensorflow = fake_module("torch", calls), fake_module("tensorflow", calls)
    backends = types.SimpleNamespace(
        cudnn=types.SimpleNamespace(deterministic=False, benchmark=True)
    )
    torch.__dict__["backends"] = backends
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "tensorflow", tensorflow)
    seed_everything(11)
    assert ("torch.manual_seed", (11,), {}) in calls
    assert ("torch.use_deterministic_algorithms", (True,), {"warn_only": True}) in calls
    assert backends.cudnn.deterministic is True and backends.cudnn.benchmark is False
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert ("tensorflow.random.set_seed", (11,), {}) in calls
    assert ("tensorflow.config.experimental.enable_op_determinism", (), {}) in calls
    info = describe()
    assert info["torch"] == "9.9.9" and info["tensorflow"] == "9.9.9"


def test_describe_reports_seed_threads_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    seed_everything(3)
    info = describe()
    assert {"KAON_SEED", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS"} <= set(info)
    assert {"OPENBLAS_NUM_THREADS", "python"} <= set(info)
    assert info["KAON_SEED"] == "3" and info["PYTHONHASHSEED"] == "3"
    assert info["OMP_NUM_THREADS"] == "1" and info["MKL_NUM_THREADS"] == "unset"
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))
    assert all(isinstance(v, str) for v in info.values())
    try:
        import numpy
    except ImportError:
        assert "numpy" not in info
    else:
        assert info["numpy"] == numpy.__version__


def test_module_imports_only_the_stdlib() -> None:
    tree = ast.parse(SOURCE.read_text())
    top_level: set[str] = set()
    for node in tree.body:  # module level only: optional imports live inside functions
        if isinstance(node, ast.Import):
            top_level |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top_level.add((node.module or "").split(".")[0])
    assert top_level <= set(sys.stdlib_module_names) | {"__future__"}, top_level


def test_works_copied_alone_into_a_bare_interpreter(tmp_path: Path) -> None:
    (tmp_path / "determinism.py").write_bytes(SOURCE.read_bytes())
    script = (
        "import sys, random, determinism\n"
        "assert determinism.seed_everything(8) == 8\n"
        "a = random.random(); determinism.seed_everything(8); assert random.random() == a\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules\n"
        "print(determinism.describe()['KAON_SEED'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KAON_SEED")}
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],  # -S: no site-packages, so no numpy
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "8"
