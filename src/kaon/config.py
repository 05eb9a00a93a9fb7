"""Settings read once from the environment (KAON_*), shared by server, SDK and CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 5266
TOKEN_FILE = "token"
SERVER_FILE = "server.json"
CLIENT_FILE = "config.json"


def kaon_home() -> Path:
    return Path(os.environ.get("KAON_HOME") or Path.home() / ".kaon").expanduser().absolute()


@dataclass(frozen=True)
class ServerSettings:
    home: Path
    metadata_url: str
    store_url: str
    host: str
    port: int
    executor: str = "local"
    env_builder: str = "uv"
    max_parallel: int = 0  # trials running at once across jobs; 0: one per CPU
    max_request_bytes: int = 5 * 1024 * 1024  # prediction bodies larger than this get a 413

    @staticmethod
    def from_env(host: str | None = None, port: int | None = None) -> ServerSettings:
        home = kaon_home()
        return ServerSettings(
            home=home,
            metadata_url=os.environ.get("KAON_METADATA_URL") or f"sqlite:///{home / 'kaon.db'}",
            store_url=os.environ.get("KAON_STORE_URL") or f"file://{home / 'objects'}",
            host=host or os.environ.get("KAON_HOST") or "127.0.0.1",
            port=port if port is not None else int(os.environ.get("KAON_PORT") or DEFAULT_PORT),
            executor=os.environ.get("KAON_EXECUTOR") or "local",
            env_builder=os.environ.get("KAON_ENV_BUILDER") or "uv",
            max_parallel=int(os.environ.get("KAON_MAX_PARALLEL") or 0),
            max_request_bytes=int(os.environ.get("KAON_MAX_REQUEST_BYTES") or 5 * 1024 * 1024),
        )
