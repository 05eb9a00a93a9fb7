"""The CLI's small local state in $KAON_HOME/cli.json: the current workspace and the ids
behind the `ind` column of the last listing (so `-i 0` means the row shown as 0).

The workspace a command uses: its -w/--workspace option, else $KAON_WORKSPACE, else the one
saved by `kaon workspace create/set` (shared by every shell using that $KAON_HOME)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kaon.config import kaon_home, private_dir, private_file
from kaon.core.errors import InvalidInput

STATE_FILE = "cli.json"


def _path() -> Path:
    return kaon_home() / STATE_FILE


def _read() -> dict[str, Any]:
    try:
        doc = json.loads(_path().read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write(doc: dict[str, Any]) -> None:
    path = _path()
    private_file(private_dir(path.parent) / path.name, json.dumps(doc))


_override: list[str] = []  # set by a command's -w/--workspace (this process only)


def use_workspace(name: str) -> None:
    """This command's -w/--workspace: wins over $KAON_WORKSPACE and the saved current one."""
    _override[:] = [name.strip().lower()]


def workspace_origin() -> tuple[str | None, str]:
    """The workspace commands use and where it comes from (flag > env > saved)."""
    if _override and _override[0]:
        return _override[0], "from the -w/--workspace option"
    env = os.environ.get("KAON_WORKSPACE", "").strip().lower()
    if env:
        return env, "from $KAON_WORKSPACE"
    name = saved_workspace()
    if name:
        return name, f"saved by `kaon workspace create` or `set` in {_path()}"
    return None, "not set"


def saved_workspace() -> str | None:
    name = _read().get("workspace")
    return name if isinstance(name, str) and name else None


def current_workspace() -> str | None:
    return workspace_origin()[0]


def require_workspace() -> str:
    name = current_workspace()
    if name is None:
        raise InvalidInput(
            "no workspace is set: create one with `kaon workspace create -n <name>` "
            "or pick one with `kaon workspace set -n <name>`"
        )
    return name


def set_workspace(name: str | None) -> None:
    """Save the current workspace. The rows of the last `train list`/`serve list` were another
    workspace's when it changes, so they are forgotten (-i then asks for a new listing)."""
    doc = _read()
    if name is None:
        doc.pop("workspace", None)
        doc.pop("index", None)
    else:
        if doc.get("workspace") != name and isinstance(doc.get("index"), dict):
            doc["index"] = {k: v for k, v in doc["index"].items() if k == "workspace"}
        doc["workspace"] = name
    _write(doc)


def save_index(kind: str, ids: list[str]) -> None:
    doc = _read()
    doc.setdefault("index", {})[kind] = ids
    _write(doc)


def from_index(kind: str, ind: int) -> str:
    ids = _read().get("index", {}).get(kind)
    if not isinstance(ids, list):
        raise InvalidInput(
            f"-i {ind} is a row of the last listing: run `kaon {kind} list` first (rows are "
            "forgotten when the current workspace changes)"
        )
    if not 0 <= ind < len(ids):
        by_name = {
            "train": " (BUILDING rows have none: give -j)",
            "serve": " (BUILDING rows have none: give -e)",
        }
        raise InvalidInput(
            f"index {ind} is not in the last `kaon {kind} list`, which numbered {len(ids)} "
            f"row(s){by_name.get(kind, '')}: run it again"
        )
    return str(ids[ind])
