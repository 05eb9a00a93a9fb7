"""MemoryCredentialStore: the CredentialStore port over the shared in-memory tables (secrets
are kept as they are: nothing of it reaches a disk)."""

from __future__ import annotations

from kaon.core.credentials import S3Credential
from kaon.core.errors import AlreadyExists
from kaon.memory.tables import Tables


class MemoryCredentialStore:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def add_credential(self, credential: S3Credential) -> None:
        key = credential.access_key
        with self._t.lock:
            if key in self._t.credentials:
                raise AlreadyExists(f"S3 key {key!r} already exists", access_key=key)
            self._t.credentials[key] = credential

    def get_credential(self, access_key: str) -> S3Credential | None:
        with self._t.lock:
            return self._t.credentials.get(access_key)

    def list_credentials(self) -> list[S3Credential]:
        with self._t.lock:
            return sorted(self._t.credentials.values(), key=lambda c: c.created)

    def delete_credential(self, access_key: str) -> bool:
        with self._t.lock:
            return self._t.credentials.pop(access_key, None) is not None

    def delete_job_credentials(self, job: str) -> int:
        with self._t.lock:
            gone = [k for k, c in self._t.credentials.items() if c.job == job]
            for key in gone:
                del self._t.credentials[key]
        return len(gone)
