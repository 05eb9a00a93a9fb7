"""Seed every random number generator a training run may use, and report the settings.

STDLIB ONLY: this file is copied into user environments that do not have kaon's dependencies.
It imports nothing from kaon; numpy, torch and tensorflow are used only when installed, looked up
with `importlib.util.find_spec` and imported inside the functions, never at import time.

    from kaon.determinism import seed_everything
    seed = seed_everything()          # KAON_SEED from the job's environment, else 0

Seeding makes a run repeatable on the same machine and software; it cannot make floating point
identical across hardware, thread counts or library versions. `describe()` records what matters.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import random
import sys
from types import ModuleType

SEED_ENV = "KAON_SEED"
MAX_SEED = 2**32 - 1  # numpy's legacy seeding accepts 0 .. 2**32 - 1
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
REPORTED_ENV = (SEED_ENV, "PYTHONHASHSEED", *THREAD_ENV, "CUBLAS_WORKSPACE_CONFIG")
# Libraries whose versions `describe` reports: module name -> distribution names to try.
LIBRARIES = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
}


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, numpy, torch and tensorflow (those installed); returns the seed used.

    The seed is `seed`, else the KAON_SEED environment variable, else 0. KAON_SEED and
    PYTHONHASHSEED are set in os.environ so that subprocesses (data loader workers, ...) see
    the same seed; PYTHONHASHSEED cannot change str hashing of the running interpreter, only
    of processes started after this call. torch is switched to deterministic algorithms (warning,
    not failing, where none exists) with cuDNN benchmarking off; tensorflow to op determinism.
    """
    seed = _resolve(seed)
    os.environ[SEED_ENV] = str(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)

    numpy = _optional("numpy")
    if numpy is not None:
        numpy.random.seed(seed)

    torch = _optional("torch")
    if torch is not None:
        # cuBLAS needs this before its first use to be deterministic (CUDA >= 10.2).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.manual_seed(seed)  # also seeds every CUDA device
        try:
            torch.use_deterministic_algorithms(True, warn_only=True)
        except TypeError:  # torch < 1.11 has no warn_only
            torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    tensorflow = _optional("tensorflow")
    if tensorflow is not None:
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")  # tensorflow < 2.8
        tensorflow.random.set_seed(seed)
        enable = getattr(tensorflow.config.experimental, "enable_op_determinism", None)
        if enable is not None:  # tensorflow >= 2.9
            enable()
    return seed


def describe() -> dict[str, str]:
    """The settings that decide repeatability: seed and thread variables, library versions.

    Every variable in REPORTED_ENV is present ("unset" when it is not set); "python" is always
    there; "numpy", "torch" and "tensorflow" only when installed. Nothing is imported to find
    a version unless the module is already loaded.
    """
    info = {name: os.environ.get(name, "unset") for name in REPORTED_ENV}
    info["python"] = platform.python_version()
    for module, distributions in LIBRARIES.items():
        version = _version(module, distributions)
        if version is not None:
            info[module] = version
    return info


def _resolve(seed: int | None) -> int:
    if seed is None:
        raw = os.environ.get(SEED_ENV, "").strip()
        if not raw:
            return 0
        try:
            seed = int(raw)
        except ValueError:
            raise ValueError(f"{SEED_ENV}={raw!r} is not an integer seed") from None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"the seed must be an int, not {type(seed).__name__}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"the seed must be between 0 and {MAX_SEED}, not {seed}")
    return seed


def _installed(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _optional(module: str) -> ModuleType | None:
    """`module` imported when it is installed, else None (without a slow failing import)."""
    if not _installed(module):
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _version(module: str, distributions: tuple[str, ...]) -> str | None:
    loaded = sys.modules.get(module)
    version = getattr(loaded, "__version__", None)
    if isinstance(version, str):
        return version
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
