"""Upload leases: gc spares what an upload in flight asked about or sent, until the lease is
released or expires (a client that vanished), and only then reclaims it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kaon.config import ServerSettings
from kaon.core.errors import InvalidInput
from kaon.core.ids import Digest
from kaon.services import leases
from kaon.services.localfs import commit_folder
from kaon.services.objectkeys import PACKS
from kaon.wiring import Backends, Platform

PlatformFactory = Any  # tests/conftest.py: platforms built and started on a temp home
LEASE = "a" * 32
OTHER = "b" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(platform_factory: PlatformFactory) -> tuple[Platform, Clock]:
    clock = Clock()
    return platform_factory(clock=clock), clock


@pytest.fixture
def backends(clocked: tuple[Platform, Clock], platform_factory: PlatformFactory) -> Backends:
    return platform_factory.backends(clocked[0])


def _upload(p: Platform, make_pack: Any, lease: str | None) -> list[Digest]:
    body, refs = make_pack([os.urandom(3000), os.urandom(5000)])
    digests = [r.digest for r in refs]
    assert p.chunks.missing(digests, lease) == digests
    p.chunks.store_pack(body, lease=lease)
    return digests


def test_gc_spares_a_leased_upload_until_it_expires(
    clocked: tuple[Platform, Clock], backends: Backends, make_pack: Any
) -> None:
    p, clock = clocked
    held = _upload(p, make_pack, LEASE)
    loose = _upload(p, make_pack, None)
    report = p.gc.collect()
    assert p.chunks.missing(held) == []  # uploaded, not committed yet: spared
    assert p.chunks.missing(loose) == loose  # no lease: reclaimed as before
    assert report.packs_deleted == 1
    clock.now += leases.TTL - 1
    p.gc.collect()
    assert p.chunks.missing(held) == []
    clock.now += 2  # the client vanished: nothing renewed the lease
    p.gc.collect()
    assert p.chunks.missing(held) == held
    assert list(backends.objects.list(PACKS)) == []


def test_asking_renews_and_pins_chunks_the_store_holds(
    clocked: tuple[Platform, Clock], make_pack: Any
) -> None:
    p, clock = clocked
    held = _upload(p, make_pack, LEASE)  # uploaded by one client, never committed
    clock.now += leases.TTL - 10
    assert p.chunks.missing(held, OTHER) == []  # another upload relies on them now
    clock.now += 20  # the first lease expired, the second not
    p.gc.collect()
    assert p.chunks.missing(held) == []
    p.chunks.renew(OTHER)
    clock.now += leases.TTL - 1
    p.gc.collect()
    assert p.chunks.missing(held) == []
    p.chunks.release(OTHER)  # committed elsewhere, or given up: gc decides again
    p.gc.collect()
    assert p.chunks.missing(held) == held


def test_server_side_ingest_releases_its_lease_after_the_commit(
    clocked: tuple[Platform, Clock], backends: Backends, tmp_path: Path
) -> None:
    p, _clock = clocked
    p.repos.create_repo("r")
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(200_000))
    commit_folder(p.chunks, p.commits, "r", "master", [("f.bin", local)])
    assert backends.meta.leased_digests(0.0) == set()
    assert p.gc.collect().packs_deleted == 0


def test_a_bad_lease_id_is_refused(clocked: tuple[Platform, Clock]) -> None:
    p, _clock = clocked
    with pytest.raises(InvalidInput, match="32 lowercase hex"):
        p.chunks.missing(["0" * 64], "not-a-lease")


def test_the_lease_time_is_configured_and_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAON_HOME", str(tmp_path))
    monkeypatch.setenv("KAON_UPLOAD_LEASE_SECONDS", "30")
    assert ServerSettings.from_env().upload_lease_seconds == 30.0
    for bad in ("soon", "0", "-5", "nan"):
        monkeypatch.setenv("KAON_UPLOAD_LEASE_SECONDS", bad)
        with pytest.raises(SystemExit, match="positive number of seconds"):
            ServerSettings.from_env()
