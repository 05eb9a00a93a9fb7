"""S3 access keys issued by kaon: an access key id and a secret, optionally scoped to a job.

SigV4 signs with the secret itself, so the server must be able to read it back: secrets are
stored as they are in the metadata database (whose file lives in $KAON_HOME, mode 0700 like
the API token). A job's pair is created when the job starts running and revoked when it ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kaon.core.access import FULL, Scope

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PREFIX = "KAON"


@dataclass(frozen=True)
class S3Credential:
    access_key: str
    secret: str
    owner: str  # who asked for it (a user name, or "job <id>")
    created: float
    job: str | None = None  # the job whose reads and writes this key records
    scope: Scope = FULL  # what it may reach (kaon.core.access)


def new_credential(
    owner: str, created: float, job: str | None = None, scope: Scope = FULL
) -> S3Credential:
    """AWS-shaped: a 20-character access key id (KAON + 16) and a 40-character secret."""
    key = PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    return S3Credential(key, secret, owner, created, job, scope)
