"""CredentialStore: the S3 access keys kaon issued (metadata database)."""

from __future__ import annotations

from typing import Protocol

from kaon.core.credentials import S3Credential


class CredentialStore(Protocol):
    def add_credential(self, credential: S3Credential) -> None: ...

    def get_credential(self, access_key: str) -> S3Credential | None: ...

    def list_credentials(self) -> list[S3Credential]: ...

    def delete_credential(self, access_key: str) -> bool:
        """False when there was no such key."""
        ...

    def delete_job_credentials(self, job: str) -> int:
        """Revoke every key of `job`; returns how many there were."""
        ...
