"""Upload leases: what gc must spare while an upload is still going on.

gc reclaims chunks no commit references, and an upload's chunks are referenced only once its
commit is made: without a lease, a gc between the two reclaimed them (the put failed, or sent
them again). An upload names a lease (a random id it chose) with each request; the server pins
under it every digest the upload asked about or sent, in the metadata database (so any API
server's gc sees it), and pushes its expiry TTL seconds ahead. gc spares pinned digests of
unexpired leases, and removes expired leases; the client releases its lease once committed.
A client that vanished stops renewing: its chunks are reclaimed by the first gc after TTL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from kaon.core.errors import InvalidInput
from kaon.core.ids import Digest, is_hex
from kaon.ports.metadata import LeaseStore

TTL = 600.0  # seconds a lease lives after its upload's last request (or renewal)


def new_lease() -> str:
    """A fresh lease id (what a client chooses too)."""
    return uuid.uuid4().hex


def check_lease(lease: str) -> str:
    if len(lease) != 32 or not is_hex(lease):
        raise InvalidInput(f"invalid upload lease {lease!r}: expected 32 lowercase hex digits")
    return lease


class UploadLeases:
    def __init__(self, store: LeaseStore, clock: Callable[[], float], ttl: float = TTL) -> None:
        self._store = store
        self._clock = clock
        self.ttl = ttl

    def hold(self, lease: str | None, digests: Sequence[Digest] = ()) -> None:
        """Renew `lease` (created if new) and pin `digests` under it; nothing without one."""
        if lease is not None:
            self._store.hold(check_lease(lease), digests, self._clock() + self.ttl)

    def release(self, lease: str) -> None:
        """The upload is committed (or given up): its chunks are gc's to judge again."""
        self._store.release(check_lease(lease))

    def spared(self) -> set[Digest]:
        """For gc: digests of leases still alive (expired ones are removed first)."""
        now = self._clock()
        self._store.expire_leases(now)
        return self._store.leased_digests(now)
