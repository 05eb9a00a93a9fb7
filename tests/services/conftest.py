"""Service tests: SQLite metadata in a temp dir and, by default, the memory object store.

Modules where the object store matters (chunks, commits, gc) override `store_kind` to run
over both the local filesystem store and the memory store.
"""

from __future__ import annotations

import pytest

from kaon.wiring import Platform


@pytest.fixture
def store_kind() -> str:
    return "memory"


@pytest.fixture
def platform(store_kind: str, platform_factory) -> Platform:  # type: ignore[no-untyped-def]
    p: Platform = platform_factory(store=store_kind)
    return p
