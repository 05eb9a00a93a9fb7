"""Feedback on a prediction (pure data): what came back for one answered request — the
reward and/or the truth — stored with the request, the response and the version that
answered, as one file of the workspace's `feedback` repo (branch = the endpoint's release),
appended, never overwritten (kaon.services.endpointrecord). The repo can be a pipeline input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
