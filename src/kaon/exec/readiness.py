"""Whether a replica is ready: it answers a ping on its socket, from a process of its own
tree (not a stale replica left on the same path)."""

from __future__ import annotations

import os
import socket
import struct

from kaon.runtime.protocol import ProtocolError, read_frame, write_frame

PING_TIMEOUT = 1.0


def ping(path: str, timeout: float = PING_TIMEOUT) -> dict[str, object] | None:
    """The ping answer of the replica listening on `path`, None if none answers; its "pid" is
    the listening process as this process sees it (the kernel's word, not the replica's: in
    a sandbox of its own the replica has a pid of another namespace)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            write_frame(sock, {"op": "ping"})
            header, _ = read_frame(sock)
    except (OSError, EOFError, ProtocolError):
        return None
    return header | {"pid": struct.unpack("3i", creds)[0]}


def in_group(pid: object, pgid: int) -> bool:
    """Whether `pid` runs in process group `pgid` (a stale replica on the same path does not;
    an interpreter behind a wrapper script does)."""
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    try:
        return os.getpgid(pid) == pgid
    except (ProcessLookupError, PermissionError):
        return False
