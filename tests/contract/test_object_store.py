"""ObjectStore conformance: every object store backend passes the suite in kaon.testing
(kaon.testing.contracts.objects), run here on each backend of kaon.store.

To add a backend, add its name to BACKENDS and a branch in `_make_store`. The S3 backend runs
on a real S3-compatible server (tests/s3fixtures.py: moto's server mode, a fresh bucket each).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaon.ports.objectstore import ObjectStore
from kaon.store.local import LocalObjectStore
from kaon.store.memory import MemoryObjectStore
from kaon.store.s3 import S3ObjectStore
from kaon.store.s3client import parse_url
from kaon.testing.contracts.objects import ObjectStoreContract

BACKENDS = ["memory", "local", "s3"]


def _make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if kind == "memory":
        return MemoryObjectStore()
    if kind == "local":
        return LocalObjectStore(tmp_path / "objects")
    if kind == "s3":
        # small parts, so the big-object tests go through multipart uploads too
        url = request.getfixturevalue("s3_store_url")
        return S3ObjectStore(parse_url(url), part_size=5 << 20)
    raise AssertionError(f"unknown backend {kind}")


@pytest.fixture(params=BACKENDS)
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return _make_store(request.param, request, tmp_path)


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
