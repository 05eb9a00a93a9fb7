"""S3 access keys: issued to users (`kaon auth s3-credentials`) and to running jobs.

A user's key carries that user's rights. A job gets its own pair when it starts running, in
its environment as AWS_* variables, and loses it when it ends: it acts as the job's owner
narrowed to the job's workspace, and whatever the gateway sees signed with it is the job's
doing, which is how reads and writes through S3 end up in the job's provenance. What a key
may reach is decided by kaon.services.s3.access.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kaon.core.credentials import S3Credential, new_credential
from kaon.core.errors import NotFound, UnknownAccessKey
from kaon.ports.credentials import CredentialStore

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Env:
    """The S3 endpoint and a key pair, as a job's environment variables."""

    endpoint: str
    access_key: str
    secret: str
    region: str = REGION

    def variables(self) -> dict[str, str]:
        split = urlsplit(self.endpoint)
        https = "1" if split.scheme == "https" else "0"
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # TensorFlow's S3 file system (tf.io.gfile, file_io), as Pachyderm's gateway docs
            # set it: host:port without a scheme, plain HTTP
            "S3_ENDPOINT": split.netloc or self.endpoint,
            "S3_USE_HTTPS": https,
            "S3_VERIFY_SSL": https,
            "S3_REGION": self.region,
        }


class CredentialService:
    def __init__(
        self,
        store: CredentialStore,
        clock: Callable[[], float],
        is_user: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self._store = store
        self._clock = clock
        self._is_user = is_user
        self._cache: dict[str, S3Credential] = {}
        self._lock = threading.Lock()
        self.endpoint: str | None = None  # set by the server once the S3 port listens

    def issue(
        self,
        owner: str,
        job: str | None = None,
        workspace: str | None = None,
        user: str | None = None,
    ) -> S3Credential:
        """A new key acting for `user` (None: the first admin), narrowed to `workspace`."""
        credential = new_credential(owner or user or "kaon", self._clock(), job, workspace, user)
        self._store.add_credential(credential)
        return credential

    def get(self, access_key: str) -> S3Credential:
        with self._lock:
            known = self._cache.get(access_key)
        if known is not None:
            return known
        credential = self._store.get_credential(access_key)
        if credential is None:
            raise UnknownAccessKey(
                f"the access key id {access_key!r} does not exist in our records: "
                "create one with `kaon auth s3-credentials`"
            )
        with self._lock:
            self._cache[access_key] = credential
        return credential

    def secret_of(self, access_key: str) -> str:
        return self.get(access_key).secret

    def list(self) -> list[S3Credential]:
        return self._store.list_credentials()

    def revoke(self, access_key: str) -> None:
        with self._lock:
            self._cache.pop(access_key, None)
        if not self._store.delete_credential(access_key):
            raise NotFound(f"no access key {access_key!r}")

    def revoke_user(self, user: str) -> int:
        """Revoke every key acting for `user` (theirs and their jobs'): when they are removed."""
        gone = [c.access_key for c in self._store.list_credentials() if c.user == user]
        for key in gone:
            with self._lock:
                self._cache.pop(key, None)
            self._store.delete_credential(key)
        return len(gone)

    # jobs --------------------------------------------------------------------------------
    def for_job(self, job: str, author: str, workspace: str) -> S3Env | None:
        """A fresh pair for `job`, acting as its owner `author` narrowed to `workspace` (the
        shared repos and `workspace`'s, no other workspace's), with the endpoint; None when no
        gateway listens. A job whose author is no kaon user gets a key of no user: the first
        admin's narrowed the same way, what a job's key reached before users existed."""
        if self.endpoint is None:
            return None
        owner = f"job {job[:8]} ({author})" if author else f"job {job[:8]}"
        user = author if author and self._is_user(author) else None
        credential = self.issue(owner, job, workspace, user)
        return S3Env(self.endpoint, credential.access_key, credential.secret)

    def revoke_job(self, job: str) -> None:
        with self._lock:
            for key in [k for k, c in self._cache.items() if c.job == job]:
                del self._cache[key]
        self._store.delete_job_credentials(job)

    def revoke_stale(self, running: set[str]) -> tuple[str, ...]:
        """Revoke the keys of every job not in `running` (at start-up: a job interrupted by
        a stop never reached its `revoke_job`); the jobs whose keys went."""
        stale = tuple(sorted({c.job for c in self._store.list_credentials() if c.job} - running))
        for job in stale:
            self.revoke_job(job)
        return stale
