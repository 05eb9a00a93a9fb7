"""Which server runs which training job: the JOB claims (kaon.core.cluster), held by the
server that accepted a job from before it is recorded until it ends. Without a cluster (a
platform built for one process) this process runs every job."""

from __future__ import annotations

from kaon.core.cluster import ClaimKind
from kaon.core.errors import Conflict
from kaon.services.cluster import ClusterService


class JobClaims:
    def __init__(self, cluster: ClusterService | None) -> None:
        self._cluster = cluster

    @property
    def ttl(self) -> float:
        return self._cluster.ttl if self._cluster is not None else 0.0

    def claim(self, job_id: str) -> None:
        """Claim a new job (ids are random: another holder is a bug)."""
        if not self.take(job_id):
            raise Conflict(f"job {job_id} is claimed by another server")

    def take(self, job_id: str) -> bool:
        """Claim `job_id` unless another live server holds it."""
        return self._cluster is None or self._cluster.claim(ClaimKind.JOB, job_id)

    def release(self, job_id: str) -> None:
        if self._cluster is not None:
            self._cluster.release(ClaimKind.JOB, job_id)

    def runs_on(self, job_id: str) -> str | None:
        """The URL of the other live server running `job_id`; None when this one does or no
        live server does."""
        if self._cluster is None:
            return None
        owner = self._cluster.owner(ClaimKind.JOB, job_id)
        return None if owner is None or owner.id == self._cluster.id else owner.url

    def lost(self, job_id: str) -> str:
        """Who ran `job_id` before this server took it over ("server <url>")."""
        if self._cluster is None:
            return "its server"
        return self._cluster.lost(ClaimKind.JOB, job_id)
