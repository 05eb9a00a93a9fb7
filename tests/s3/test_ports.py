"""The S3 port, like the API port: a busy one stops the server with one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_busy_s3_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAON_")}
        env["KAON_HOME"] = str(tmp_path)
        p = subprocess.run(
            [sys.executable, "-m", "kaon.api", "--port", "0", "--s3-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert f"port {port}" in lines[0] and "--s3-port / set KAON_S3_PORT" in lines[0]
