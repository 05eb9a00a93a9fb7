"""A workspace: a named home for a team's repos, jobs and endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kaon.core.jobs import WorkspaceName


@dataclass(frozen=True)
class Workspace:
    name: WorkspaceName
    created: float
    author: str
    current: dict[str, Any] = field(default_factory=dict)  # latest source/data/hyper bundles
