"""ObjectStore conformance: every object store backend passes the suite in kaon.testing
(kaon.testing.contracts.objects), run here on each backend of kaon.store.

To add a backend (e.g. S3), add its name to BACKENDS and a branch in `_make_store`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaon.ports.objectstore import ObjectStore
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore
from kaon.testing.contracts.objects import ObjectStoreContract

BACKENDS = ["memory", "local"]


def _make_store(kind: str, tmp_path: Path) -> ObjectStore:
    if kind == "memory":
        return MemoryObjectStore()
    if kind == "local":
        return LocalObjectStore(tmp_path / "objects")
    raise AssertionError(f"unknown backend {kind}")


@pytest.fixture(params=BACKENDS)
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, tmp_path)


class TestObjectStore(ObjectStoreContract):
    pass


def test_local_file_holds_the_object_or_is_none(object_store: ObjectStore) -> None:
    """A same-machine client reads a pack's ranges from local_file (kaon.client.download)."""
    store = object_store
    store.put("packs/ab/abcd", b"local bytes")
    path = store.local_file("packs/ab/abcd")
    if isinstance(store, LocalObjectStore):
        assert path is not None and Path(path).read_bytes() == b"local bytes"
    else:
        assert path is None
