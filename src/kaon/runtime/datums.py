"""Datum batching for pipeline code (`transform.datum_batching: true`): stdlib only.

A batching transform is one long-lived process that handles many datums, so a model is
loaded once, not per datum (Pachyderm's `pachctl next datum`)::

    from kaon.runtime.datums import next_datum

    model = load_model()
    while (datum := next_datum()) is not None:   # /pfs now shows this datum
        predict(model, "/pfs/images", "/pfs/out")  # datum["PACH_DATUM_ID"], …

`next_datum()` reports the previous datum done (a success), then blocks until /pfs/<input>
and /pfs/out show the next one; it returns that datum's variables (PACH_DATUM_ID,
<input>_COMMIT, …), also set in `os.environ`, or None when there is none left: then return
or exit with 0. A datum whose processing raises (the process exits non-zero) failed: the
platform starts a new process for the datums left. In a shell transform, the command
`kaon-next-datum` (on PATH) does the same; it prints the variables as `export` lines, and
fails when there is none left::

    while d=$(kaon-next-datum); do eval "$d"; wc -c /pfs/in/* > /pfs/out/$PACH_DATUM_ID; done

The platform talks to the process over the socket whose descriptor is in $KAON_DATUM_FD:
"next\n" (or "next-sh\n") asks; the answer is one line, JSON {"env": {...}} or {"done": true}
(for "next-sh": the export lines joined by "; ", or "done").
"""

from __future__ import annotations

import json
import os
import sys

FD_VARIABLE = "KAON_DATUM_FD"


def next_datum() -> dict[str, str] | None:
    """The next datum's variables once /pfs shows it; None when there is none left."""
    answer = json.loads(_ask(b"next\n"))
    if answer.get("done"):
        return None
    env: dict[str, str] = answer["env"]
    os.environ.update(env)
    return env


def _ask(request: bytes) -> str:
    raw = os.environ.get(FD_VARIABLE)
    if not raw:
        raise RuntimeError(
            f"next_datum(): ${FD_VARIABLE} is not set: this process is not a batching "
            "pipeline's (set transform.datum_batching: true)"
        )
    fd = int(raw)
    for stream in (sys.stdout, sys.stderr):  # what it printed belongs to the datum before
        stream.flush()
    os.write(fd, request)
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 1 if line else 4096)  # the answer is the only thing to read
        if not chunk:
            raise RuntimeError("next_datum(): the platform closed the connection")
        line += chunk
    return line.decode("utf-8").rstrip("\n")
