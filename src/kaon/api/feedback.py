"""Limits on the unauthenticated `POST /<endpoint>/feedback` (each record is a commit that gc
never reclaims): a size per record, one record per request id, and a rate per endpoint.

The rate is a token bucket per endpoint holding `count` tokens, refilled at count/period: a
burst of `count` feedbacks passes, then one per period/count. Refused requests answer 413 (too
large), 409 (this request id already has its record) or 429 with Retry-After (rate).

`RecentAnswers` is what feedback refers to: the gateway's newest answers (request id → the
version that answered, the request and the answer), bounded in count and in bytes."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class FeedbackLimits:
    max_bytes: int = DEFAULT_MAX_BYTES  # KAON_FEEDBACK_MAX_BYTES
    count: int = 600  # KAON_FEEDBACK_RATE = count/period (kaon.config)
    period: float = 60.0

    @property
    def rate_text(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.period, f"{self.period:g}s")
        return f"{self.count}/{unit}"


class FeedbackGate:
    """The per-endpoint token buckets (thread-safe; the clock is injectable for tests)."""

    def __init__(self, limits: FeedbackLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # endpoint -> (tokens, when)

    def admit(self, endpoint: str) -> float:
        """Take a token for `endpoint`: 0 when admitted, else the seconds until one is free."""
        rate = self.limits.count / self.limits.period
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(endpoint, (float(self.limits.count), now))
            tokens = min(float(self.limits.count), tokens + (now - then) * rate)
            if tokens >= 1.0:
                self._buckets[endpoint] = (tokens - 1.0, now)
                return 0.0
            self._buckets[endpoint] = (tokens, now)
            return max(1.0, math.ceil((1.0 - tokens) / rate))


REMEMBERED = 100_000  # answers feedback can refer to (the newest)
BODY_MAX = 64 * 1024  # a request or answer body larger than this is not kept (None)
BUDGET = 64 * 1024 * 1024  # bytes of kept bodies, over all remembered answers


@dataclass
class Answered:
    """One answer the gateway gave, as its feedback will record it."""

    endpoint: str  # the version row that answered (petset-c517ec, or a wave-1 name)
    release: str  # its release (the feedback branch)
    version: str
    model_id: str | None
    answered: float
    request: bytes | None  # the body as received (None: too large to keep)
    response: bytes | None  # the body as answered
    protocol: str = "kaon"
    fed: bool = False  # its feedback was taken (one per request)
    workspace: str = ""
    auth: bool = False  # its endpoint's --auth: another server asking passes a token on

    @property
    def size(self) -> int:
        return len(self.request or b"") + len(self.response or b"")

    def to_doc(self) -> dict[str, Any]:
        """As another server of the platform receives it (`GET /_kaon/answer/<id>`)."""
        doc = {k: v for k, v in vars(self).items() if k not in ("request", "response", "fed")}
        for key in ("request", "response"):
            body: bytes | None = getattr(self, key)
            doc[key] = None if body is None else base64.b64encode(body).decode()
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Answered:
        fields = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        for key in ("request", "response"):
            fields[key] = None if doc.get(key) is None else base64.b64decode(doc[key])
        fields.pop("fed", None)
        return cls(**fields)


class RecentAnswers:
    """The newest answers by request id, bounded in count and in bytes of kept bodies (the
    oldest forgotten first); bodies are kept as bytes and decoded only when feedback comes."""

    def __init__(self, count: int = REMEMBERED, budget: int = BUDGET) -> None:
        self._count = count
        self._budget = budget
        self._bytes = 0
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, Answered] = OrderedDict()

    def add(self, request_id: str, answer: Answered) -> None:
        if answer.request is not None and len(answer.request) > BODY_MAX:
            answer.request = None
        if answer.response is not None and len(answer.response) > BODY_MAX:
            answer.response = None
        with self._lock:
            self._answers[request_id] = answer
            self._bytes += answer.size
            while len(self._answers) > self._count or self._bytes > self._budget:
                _, old = self._answers.popitem(last=False)
                self._bytes -= old.size

    def get(self, request_id: str) -> Answered | None:
        with self._lock:
            return self._answers.get(request_id)

    def __len__(self) -> int:
        return len(self._answers)


def decoded(body: bytes | None) -> Any:
    """A kept body as feedback records it: its JSON value, else its text, else None."""
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
