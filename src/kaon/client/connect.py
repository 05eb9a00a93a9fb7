"""Where the server is and which token to send.

Server: KAON_ENDPOINT, else the endpoint of `kaon init -e`, else the local platform.
Token (who the CLI and SDK act as): KAON_TOKEN, else the token of `kaon init --token`, else
(local platform only) $KAON_HOME/token, the platform's own token (the first admin's)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from kaon.config import (
    CLIENT_FILE,
    SERVER_FILE,
    TOKEN_FILE,
    kaon_home,
    private_dir,
    private_file,
)


@dataclass(frozen=True)
class Target:
    endpoint: str | None  # None: the local platform, not running yet
    token: str | None
    local: bool


def read_json(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed server whose parent exited stays a zombie until init reaps it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[:1] != ["Z"]
    except OSError:
        return True


def local_server(home: Path | None = None) -> tuple[str, int] | None:
    """(url, pid) of the local platform when its server.json names a live process."""
    doc = read_json((home or kaon_home()) / SERVER_FILE)
    url, pid = doc.get("url"), doc.get("pid")
    if isinstance(url, str) and isinstance(pid, int) and pid_alive(pid):
        return url, pid
    return None


def local_token(home: Path | None = None) -> str | None:
    try:
        return ((home or kaon_home()) / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def resolve_target() -> Target:
    home = kaon_home()
    env_endpoint = os.environ.get("KAON_ENDPOINT")
    env_token = os.environ.get("KAON_TOKEN")
    config = read_json(home / CLIENT_FILE)
    endpoint = env_endpoint or config.get("endpoint")
    if isinstance(endpoint, str) and endpoint:
        token = env_token or config.get("token")
        return Target(endpoint.rstrip("/"), token if isinstance(token, str) else None, False)
    running = local_server(home)
    saved = config.get("token")
    token = env_token or (saved if isinstance(saved, str) and saved else None)
    return Target(running[0] if running else None, token or local_token(home), True)


def save_config(endpoint: str | None, token: str | None) -> Path:
    path = private_dir(kaon_home()) / CLIENT_FILE
    doc = {"endpoint": endpoint, "token": token} if endpoint or token else {}
    private_file(path, json.dumps(doc))
    return path
