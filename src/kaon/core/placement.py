"""Where an endpoint version's replicas run when several servers share one platform.

The server that runs a version (it holds the ENDPOINT claim on the version's name,
kaon.core.cluster) records here which server it is, the URL the other servers reach its
gateway at, and the addresses its ready replicas listen on. Another server's gateway forwards
a request for that version straight to the replicas when they listen on TCP (Ray replicas,
`tcp://host:port`), else through the owner's gateway (local replicas listen on Unix sockets
only their own machine can reach).
"""

from __future__ import annotations

from dataclasses import dataclass

REPLICA_PATH = "/_kaon/replica/"  # the owner's gateway: POST <url>/_kaon/replica/<version>
ANSWER_PATH = "/_kaon/answer/"  # any server's gateway: GET <url>/_kaon/answer/<request id>
FORWARDED = b"x-kaon-forwarded"  # sent on a hop between servers (the sender's id): no loops


@dataclass(frozen=True)
class Placement:
    endpoint: str  # the version's row name, e.g. petset-c517ec
    server: str  # the id of the server running its replicas (kaon.core.cluster.ServerRecord)
    url: str  # that server's base URL (its gateway answers on the API's port)
    addresses: tuple[str, ...]  # its ready replicas (kaon.ports.replicas), maybe none yet
    updated: float

    @property
    def direct(self) -> bool:
        """Whether another machine can reach the replicas themselves (all on TCP)."""
        return bool(self.addresses) and all(a.startswith("tcp://") for a in self.addresses)
