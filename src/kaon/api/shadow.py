"""Shadow traffic: a request answered by the serving version is mirrored, asynchronously, to
the release's shadow version (`kaon serve update --shadow`). The mirror never delays nor fails
the answer: it starts after the answer is sent, at most MAX_IN_FLIGHT at once (more are
skipped and counted), and whatever it does is only recorded — in /metrics (status, latency,
agreement with the answer returned, per version) and in a bounded JSONL log per version
(`shadow.log` beside the version's other logs, the newest KEEP lines)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kaon.api.oip import answer as oip_answer
from kaon.api.versionmetrics import VersionMetrics
from kaon.runtime.oip import is_oip
from kaon.services.endpointrun import Route

log = logging.getLogger("kaon.gateway")

MAX_IN_FLIGHT = 64
KEEP = 1000  # lines of a version's shadow log
KEPT_BYTES = 4096  # of a shadow answer, in its log line

Predict = Callable[[Route, str, bytes], Awaitable[tuple[int, bytes]]]
Where = Callable[[str], Path | None]  # a version's name -> its shadow log (None: no such row)


class ShadowLog:
    """Bounded JSONL files, one per version: appended, compacted to the newest KEEP lines
    when they reach twice that. Thread-safe (written from the executor)."""

    def __init__(self, where: Where, keep: int = KEEP) -> None:
        self._where = where
        self._keep = keep
        self._lock = threading.Lock()
        self._paths: dict[str, Path | None] = {}
        self._lines: dict[str, int] = {}

    def write(self, name: str, record: dict[str, Any]) -> None:
        with self._lock:
            if name not in self._paths:
                self._paths[name] = self._where(name)
                self._lines[name] = _count(self._paths[name])
            path = self._paths[name]
            if path is None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._lines[name] += 1
            if self._lines[name] >= 2 * self._keep:
                kept = path.read_text(encoding="utf-8").splitlines(keepends=True)[-self._keep :]
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(kept), encoding="utf-8")
                tmp.replace(path)
                self._lines[name] = len(kept)


def _count(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)


class Shadows:
    def __init__(self, predict: Predict, metrics: VersionMetrics, journal: ShadowLog) -> None:
        self._predict = predict
        self._metrics = metrics
        self._journal = journal
        self._tasks: set[asyncio.Task[None]] = set()

    def mirror(
        self,
        shadow: Route,
        content_type: str,
        body: bytes,
        answered: Route,
        answer: tuple[int, bytes],
        request_id: str,
    ) -> None:
        """Send the request to `shadow` in the background (returns at once)."""
        if len(self._tasks) >= MAX_IN_FLIGHT:
            self._metrics.skipped(shadow)
            return
        task = asyncio.get_running_loop().create_task(
            self._run(shadow, content_type, body, answered, answer, request_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        shadow: Route,
        content_type: str,
        body: bytes,
        answered: Route,
        answer: tuple[int, bytes],
        request_id: str,
    ) -> None:
        try:
            started = time.perf_counter()
            status, out = await self._predict(shadow, content_type, body)
            seconds = time.perf_counter() - started
            agree = (status, out) == answer
            self._metrics.shadowed(shadow, status, seconds, agree)
            record = {
                "at": time.time(),
                "request_id": request_id,
                "version": shadow.version,
                "answered_by": answered.version or answered.name,
                "status": status,
                "seconds": round(seconds, 6),
                "agree": agree,
                "answer": _shown(shadow, content_type, status, out)[:KEPT_BYTES].decode(
                    "utf-8", "replace"
                ),
            }
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._journal.write, shadow.name, record)
        except Exception:  # a mirror never fails anything: it is logged and forgotten
            log.exception("mirroring a request to shadow %s failed", shadow.name)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _shown(shadow: Route, content_type: str, status: int, out: bytes) -> bytes:
    """The shadow's answer as a client would read it (an OIP answer framed for the gateway
    gets its model name and version, kaon.api.oip.answer)."""
    return oip_answer(shadow, out).body if status == 200 and is_oip(content_type) else out
