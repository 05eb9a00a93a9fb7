"""S3 access keys issued by kaon: an access key id and a secret, the user whose rights the key
carries and, for a job's key, the job and the workspace it is narrowed to (kaon.core.users).

SigV4 signs with the secret itself, so the server must be able to read it back: secrets are
stored sealed (kaon.core.sealing) with a key user code never sees. A job's pair is created when
the job starts running and revoked when it ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PREFIX = "KAON"
ALL = "*"  # the scope shown for a key with its user's rights, not narrowed
WORKSPACE = "workspace:"  # ... and for a job's key: "workspace:<name>"


@dataclass(frozen=True)
class S3Credential:
    access_key: str
    secret: str
    owner: str  # shown: who asked for it (a user name, or "job <id> (<user>)")
    created: float
    job: str | None = None  # the job whose reads and writes this key records
    workspace: str | None = None  # a job's key: only the shared repos and this workspace's
    user: str | None = None  # whose rights it carries; None: a key from before users, the
    # first admin's (and a job of no kaon user: see kaon.services.s3.access)

    @property
    def scope(self) -> str:
        """What the key reaches, as text: '*' its user's rights, 'workspace:<name>' narrowed."""
        return ALL if self.workspace is None else WORKSPACE + self.workspace


def new_credential(
    owner: str,
    created: float,
    job: str | None = None,
    workspace: str | None = None,
    user: str | None = None,
) -> S3Credential:
    """AWS-shaped: a 20-character access key id (KAON + 16) and a 40-character secret."""
    key = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    return S3Credential(key, secret, owner, created, job, workspace, user)
