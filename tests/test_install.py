"""`pip install kaon` is the SDK and the CLI, without the server (issue 14 item 7): installed into
a fresh virtual environment, `kaon.client` imports and no server package is there; the commands
that run the server say, in one line, which extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import uv

ROOT = Path(__file__).resolve().parents[1]
SERVER = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "optuna", "uv", "pydantic")


def _requirement_name(req: str) -> str:
    for stop in "<>=[; ":
        req = req.split(stop, 1)[0]
    return req.lower().replace("_", "-")


def test_the_base_install_names_no_server_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_requirement_name(r) for r in project["dependencies"]}
    assert base.isdisjoint({*SERVER, "prometheus-client", "cryptography", "psycopg"})
    extras = project["optional-dependencies"]
    assert {"server", "postgres", "all"} <= set(extras)
    assert {_requirement_name(r) for r in extras["server"]} >= {
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "optuna",
        "uv",
    }


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install kaon` (this checkout, built as a wheel; no extras)."""
    where = tmp_path_factory.mktemp("sdk") / "venv"
    uv_bin = uv.find_uv_bin()
    subprocess.run([uv_bin, "venv", "-q", str(where), "--python", sys.executable], check=True)
    python = where / "bin" / "python"
    install = [uv_bin, "pip", "install", "-q", "--python", str(python), str(ROOT)]
    # the packages are in uv's cache after the first run; the index is needed only before
    if subprocess.run([*install, "--offline"], capture_output=True).returncode != 0:
        done = subprocess.run(install, capture_output=True, text=True, timeout=240)
        if done.returncode != 0:
            pytest.skip(
                f"no package index reachable to install kaon's base dependencies: {done.stderr[-300:]}"
            )
    return where


def test_the_sdk_works_without_the_server(venv: Path) -> None:
    check = (
        "import importlib.util, sys\n"
        "import kaon.client\n"
        "from kaon.client import Client\n"
        "import kaon.cli.main\n"
        f"server = {SERVER!r}\n"
        "print([m for m in server if m in sys.modules or importlib.util.find_spec(m)])\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    help_ = subprocess.run([str(venv / "bin" / "kaon"), "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "up" in help_.stdout


def test_running_the_server_names_the_extra(venv: Path, tmp_path: Path) -> None:
    env = {"KAON_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    kaon = str(venv / "bin" / "kaon")
    up = subprocess.run([kaon, "up"], capture_output=True, text=True, env=env)
    if up.returncode == 0:  # a server did start: stop it before failing
        subprocess.run([kaon, "down"], capture_output=True, env=env, check=False)
    assert up.returncode == 3
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'kaon[server]'" in lines[0], up.stderr
    assert "`kaon up` runs the kaon server" in lines[0]
    direct = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "kaon.api"], capture_output=True, text=True, env=env
    )
    assert direct.returncode == 1
    assert direct.stderr.count("\n") == 1 and "kaon[server]" in direct.stderr, direct.stderr
