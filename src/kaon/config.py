"""Settings read once from the environment (KAON_*), shared by server, SDK and CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 5266
DEFAULT_S3_PORT = 5267
TOKEN_FILE = "token"
SERVER_FILE = "server.json"
CLIENT_FILE = "config.json"
# gc.set_threshold for the server and the CLI: collections ~100x rarer than the defaults
# (700, 10, 10). An upload or commit of 20,000 files allocates ~10^6 objects that live until
# it ends; the default collector walked them again and again (a third of such a request).
GC_THRESHOLDS = (100_000, 50, 100)


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
    s3_port: int = DEFAULT_S3_PORT  # the S3 gateway's port (0: any free one)
    s3_anonymous: bool = False  # open local mode: unsigned S3 requests are allowed
    max_request_bytes: int = 5 * 1024 * 1024  # prediction bodies larger than this get a 413
    s3_upload_expiry_days: float = 7.0  # unfinished multipart uploads older than this expire
    upload_lease_seconds: float = 600.0  # an upload's lease lives this long after its last use

    @staticmethod
    def from_env(
        host: str | None = None, port: int | None = None, s3_port: int | None = None
    ) -> ServerSettings:
        home = kaon_home()
        api_port = port if port is not None else int(os.environ.get("KAON_PORT") or DEFAULT_PORT)
        return ServerSettings(
            home=home,
            metadata_url=os.environ.get("KAON_METADATA_URL") or f"sqlite:///{home / 'kaon.db'}",
            store_url=os.environ.get("KAON_STORE_URL") or f"file://{home / 'objects'}",
            host=host or os.environ.get("KAON_HOST") or "127.0.0.1",
            port=api_port,
            executor=os.environ.get("KAON_EXECUTOR") or "local",
            env_builder=os.environ.get("KAON_ENV_BUILDER") or "uv",
            max_parallel=int(os.environ.get("KAON_MAX_PARALLEL") or 0),
            max_request_bytes=int(os.environ.get("KAON_MAX_REQUEST_BYTES") or 5 * 1024 * 1024),
            s3_port=_s3_port(s3_port, api_port),
            s3_anonymous=os.environ.get("KAON_S3_ANONYMOUS", "") in ("1", "true", "yes"),
            s3_upload_expiry_days=_days("KAON_S3_UPLOAD_EXPIRY_DAYS", 7.0),
            upload_lease_seconds=_days("KAON_UPLOAD_LEASE_SECONDS", 600.0, unit="seconds"),
        )


def _days(name: str, default: float, unit: str = "days") -> float:
    text = os.environ.get(name) or ""
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SystemExit(f"{name}={text!r}: expected a positive number of {unit} (e.g. 7 or 0.5)")
    return value


def _s3_port(given: int | None, api_port: int) -> int:
    """--s3-port, else KAON_S3_PORT, else 5267; when the API takes any free port (0), so does
    the S3 gateway (parallel servers of tests and benchmarks never collide)."""
    if given is not None:
        return given
    env = os.environ.get("KAON_S3_PORT")
    if env:
        return int(env)
    return 0 if api_port == 0 else DEFAULT_S3_PORT
