"""What `pip install kaon` leaves out, and the one line that says how to get it.

`pip install kaon` is the SDK and the CLI: a notebook that talks to a remote platform needs
nothing more. Running the platform (`kaon up`, `kaon server`, `python -m kaon.api`) needs
`kaon[server]`; PostgreSQL metadata `kaon[postgres]`; `kaon[all]` is everything.
"""

from __future__ import annotations

import importlib.util

# the import names of the `server` extra's packages (pyproject.toml)
SERVER_MODULES = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "uv",
    "optuna",
    "prometheus_client",
    "cryptography",
)


def missing(modules: tuple[str, ...] = SERVER_MODULES) -> list[str]:
    """The modules of `modules` this Python cannot import (checked without importing them)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def server_missing(what: str) -> str | None:
    """None when the server can run here; else the one-line error for `what` (a command)."""
    absent = missing()
    if not absent:
        return None
    return (
        f"{what} runs the kaon server, which this install lacks ({', '.join(absent)} missing): "
        "install it with `pip install 'kaon[server]'` (or `uv pip install 'kaon[server]'`)"
    )
