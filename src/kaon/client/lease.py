"""UploadLease: the server's gc spares what an upload uses while it goes on.

gc reclaims chunks no commit references; an upload's chunks are referenced only once its
commit is made. Each put names a lease (a random id) with every request that asks about or
sends chunks; the server pins those chunks under it in its metadata database (any API server's
gc sees them). A thread renews the lease every RENEW seconds, between requests too (a long
read); it is released once the commit is made. If the client dies, the lease expires (about
ten minutes after its last renewal) and gc reclaims what was left.
"""

from __future__ import annotations

import contextlib
import threading
import uuid

from kaon.client.rest import RestApi
from kaon.core.errors import KaonError

RENEW = 60.0  # seconds between renewals (the server keeps a lease ~10 minutes)


class UploadLease:
    def __init__(self, client: RestApi) -> None:
        self._client = client
        self.id = uuid.uuid4().hex
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="kaon-lease", daemon=True)

    def start(self) -> None:
        """Renew in the background from now on."""
        self._thread.start()

    def end(self) -> None:
        """Stop renewing and release the lease (the put is committed, or failed)."""
        self._done.set()
        self._thread.join()
        with contextlib.suppress(KaonError):  # else it expires by itself
            self._client.release_lease(self.id)

    def _renew(self) -> None:
        while not self._done.wait(RENEW):
            with contextlib.suppress(KaonError):  # the next request renews it as well
                self._client.renew_lease(self.id)
