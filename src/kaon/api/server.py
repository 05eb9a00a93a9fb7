"""`python -m kaon.api`: run the platform server in the foreground.

Builds the platform (wiring only), checks that each engine answers (database, object store,
executor, replicas: one line and exit 3 when one does not, before anything listens), binds the API socket and the S3 gateway's sibling socket
(so a busy port is one clear line), starts the platform (recovery of what a stop interrupted),
writes $KAON_HOME/server.json with the pid and both URLs, serves both through one uvicorn until
SIGINT/SIGTERM, then removes server.json.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

import uvicorn

from kaon.api.asgi import create_asgi
from kaon.api.auth import ensure_token
from kaon.api.coalesce import CoalescingHttpTools
from kaon.api.feedback import FeedbackLimits
from kaon.config import (
    GC_THRESHOLDS,
    PRIVATE_UMASK,
    SERVER_FILE,
    ServerSettings,
    exposure_warning,
    private_file,
)
from kaon.core.errors import KaonError
from kaon.wiring import build


def _bind(host: str, port: int, what: str = "--port / set KAON_PORT") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(
                f"kaon server: port {port} on {host} is already in use: "
                f"stop the other server (`kaon down`) or pass {what}"
            ) from None
        raise SystemExit(f"kaon server: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _fail(exc: KaonError) -> NoReturn:
    """One line on stderr, and the exit code of the error's kind (3: an engine is unavailable)."""
    print(f"kaon server: {exc.message}", file=sys.stderr, flush=True)
    raise SystemExit(exc.exit_code)


def _watch_home(state: Path, pid: int, every: float = 2.0) -> None:
    """Stop this server (SIGTERM: the graceful way) once its state file is gone or names
    another server: its KAON_HOME was deleted or taken over. Otherwise it would hold its port
    with no `server.json` left for `kaon down` to find."""

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                current = json.loads(state.read_text()).get("pid")
            except (OSError, ValueError):
                current = None
            if current != pid:
                logging.getLogger("kaon").warning(
                    "%s is gone or names another server: stopping", state
                )
                os.kill(pid, signal.SIGTERM)
                return

    threading.Thread(target=watch, name="kaon-home-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kaon server", description=__doc__)
    parser.add_argument("--host", default=None, help="interface (default 127.0.0.1, loopback)")
    parser.add_argument("--port", type=int, default=None, help="port (default 5266; 0 = any)")
    parser.add_argument(
        "--s3-port", type=int, default=None, help="S3 gateway port (default 5267; 0 = any)"
    )
    parser.add_argument(
        "--database", default=None, help="metadata database URL (KAON_DATABASE_URL)"
    )
    parser.add_argument("--store", default=None, help="object store URL (KAON_STORE_URL)")
    parser.add_argument(
        "--executor", default=None, help="local, ray or ray://host:10001 (KAON_EXECUTOR)"
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        settings = ServerSettings.from_env(
            args.host,
            args.port,
            args.s3_port,
            database=args.database,
            store=args.store,
            executor=args.executor,
        )
    except KaonError as exc:
        _fail(exc)
    os.umask(PRIVATE_UMASK)  # every file it (and its jobs, envs, replicas) writes: 0600 / 0700
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        platform = build(settings)
    except KaonError as exc:
        _fail(exc)
    try:
        token = ensure_token(settings.home)
        platform.check_backends()  # before anything listens: nothing half-started
    except KaonError as exc:
        platform.close()
        _fail(exc)
    sock = _bind(settings.host, settings.port)
    s3_sock = _bind(settings.host, settings.s3_port, "--s3-port / set KAON_S3_PORT")
    host, port = sock.getsockname()[:2]
    s3_port = s3_sock.getsockname()[1]
    warning = exposure_warning(host)
    if warning:
        logging.getLogger("kaon").warning(warning)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    s3_url = f"http://{shown}:{s3_port}"
    platform.credentials.endpoint = s3_url  # jobs get it in AWS_ENDPOINT_URL
    platform.job_tokens.endpoint = url  # and this in KAON_ENDPOINT, with a token of their own
    if not settings.advertise_url:  # the other servers reach this one at its bound URL
        platform.cluster.url = url
    try:  # recover what a stop interrupted, with the ports bound and the endpoints known
        platform.start()
    except KaonError as exc:
        platform.close()
        _fail(exc)
    state = settings.home / SERVER_FILE
    doc = {"pid": os.getpid(), "url": url, "port": port, "s3_url": s3_url, "s3_port": s3_port}
    private_file(state, json.dumps(doc))
    _watch_home(state, os.getpid())
    print(
        f"kaon server listening on {url}, S3 gateway on {s3_url} (home {settings.home})",
        file=sys.stderr,
        flush=True,
    )
    # the objects of start-up are never garbage: kept out of every collection (gc.freeze);
    # `python -m kaon.api` loads its modules with the collector off (kaon.api.__main__)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()
    config = uvicorn.Config(
        create_asgi(
            platform,
            token,
            settings.max_request_bytes,
            s3_port=s3_port,
            s3_anonymous=settings.s3_anonymous,
            feedback=FeedbackLimits(settings.feedback_max_bytes, *settings.feedback_rate),
        ),
        log_level=args.log_level,
        access_log=False,
        loop="auto",
        http=CoalescingHttpTools,  # an answer's headers and body in one write
        timeout_keep_alive=30,
    )
    # uvicorn re-raises SIGTERM once it has shut down gracefully: exit through `finally` then
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        uvicorn.Server(config).run(sockets=[sock, s3_sock])
    finally:
        with contextlib.suppress(FileNotFoundError):
            current = json.loads(state.read_text())
            if current.get("pid") == os.getpid():
                state.unlink()
        platform.close()
