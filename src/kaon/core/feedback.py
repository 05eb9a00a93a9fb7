"""Feedback on a prediction (pure data): what came back for one answered request — the
reward and/or the truth — stored with the request, the response and the version that
answered, as one file of the workspace's `feedback` repo (branch = the endpoint's release),
appended, never overwritten (kaon.services.endpointrecord). The repo can be a pipeline input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaon.core.errors import InvalidInput

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MESSAGE = "feedback "  # how a feedback commit's message starts: "feedback <request id> on …"


def request_id(text: str) -> str:
    """A request id as a feedback file name takes it (X-Request-Id, Seldon's puid)."""
    if not _REQUEST_ID.fullmatch(text):
        raise InvalidInput(
            f"invalid request id {text[:80]!r}: use the X-Request-Id of the answer (or Seldon's "
            "meta.puid): 1-128 letters, digits, '_', '.' or '-'"
        )
    return text


def request_of(message: str) -> str | None:
    """The request id a feedback commit's message names (None: not a feedback commit)."""
    if not message.startswith(_MESSAGE):
        return None
    words = message[len(_MESSAGE) :].split(" ", 1)
    return words[0] if _REQUEST_ID.fullmatch(words[0]) else None


@dataclass(frozen=True)
class Feedback:
    request_id: str  # X-Request-Id of the answer (kaos/OIP), or Seldon's meta.puid
    endpoint: str  # the release name (petset)
    version: str  # the version that answered (c517ec)
    model_id: str | None
    received: float
    request: Any = None  # the request body as decoded JSON, when known
    response: Any = None  # the answer as decoded JSON, when known
    reward: float | None = None
    truth: Any = None
    protocol: str = "kaon"  # kaon | seldon | oip
    commit: str = ""  # the feedback repo commit that holds it (set once stored)

    @property
    def path(self) -> str:
        """Where it is stored in the feedback repo: one file per request."""
        return f"/{self.request_id}.json"

    @property
    def message(self) -> str:
        """The message of the commit that stores it (`request_of` reads the id back)."""
        model = f", model {self.model_id}" if self.model_id else ""
        return f"{_MESSAGE}{self.request_id} on {self.endpoint} version {self.version}{model}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "endpoint": self.endpoint,
            "version": self.version,
            "model_id": self.model_id,
            "received": self.received,
            "request": self.request,
            "response": self.response,
            "reward": self.reward,
            "truth": self.truth,
            "protocol": self.protocol,
        }

    @staticmethod
    def from_doc(doc: Mapping[str, Any], commit: str = "") -> Feedback:
        reward = doc.get("reward")
        return Feedback(
            request_id=str(doc["request_id"]),
            endpoint=str(doc.get("endpoint", "")),
            version=str(doc.get("version", "")),
            model_id=doc.get("model_id"),
            received=float(doc.get("received", 0.0)),
            request=doc.get("request"),
            response=doc.get("response"),
            reward=None if reward is None else float(reward),
            truth=doc.get("truth"),
            protocol=str(doc.get("protocol", "kaon")),
            commit=commit,
        )
