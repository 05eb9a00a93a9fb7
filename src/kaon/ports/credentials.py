"""CredentialStore: the S3 access keys kaon issued (metadata database)."""

from __future__ import annotations

from typing import Protocol

from kaon.core.credentials import S3Credential


class CredentialStore(Protocol):
    def add_credential(self, credential: S3Credential) -> None:
        """AlreadyExists when the access key is taken."""
        ...

    def get_credential(self, access_key: str) -> S3Credential | None:
        """None when there is no such key."""
        ...

    def list_credentials(self) -> list[S3Credential]:
        """Every key, oldest first."""
        ...

    def delete_credential(self, access_key: str) -> bool:
        """False when there was no such key."""
        ...

    def delete_job_credentials(self, job: str) -> int:
        """Revoke every key of `job`; returns how many there were."""
        ...
