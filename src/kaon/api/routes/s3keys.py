"""S3 access keys for the S3 gateway: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.deps import platform, principal
from kaon.api.schemas import S3CredentialIn, S3CredentialOut
from kaon.app import Platform
from kaon.core.credentials import S3Credential
from kaon.core.errors import InvalidInput, NotFound
from kaon.core.users import Principal

router = APIRouter(prefix="/v1/s3/credentials", tags=["s3"])


def _out(p: Platform, c: S3Credential, secret: bool = False) -> S3CredentialOut:
    return S3CredentialOut(
        access_key=c.access_key,
        secret=c.secret if secret else None,
        owner=c.owner,
        created=c.created,
        job=c.job,
        scope=str(c.scope),
        endpoint=p.credentials.endpoint,
    )


def _mine(c: S3Credential, who: Principal) -> bool:
    """The caller's key: issued to them, or to one of their jobs ("job 1a2b3c4d (ann)")."""
    if who.admin and who.job is None:
        return True
    return c.owner == who.user or (c.job is not None and c.owner.endswith(f" ({who.user})"))


@router.post("", response_model=S3CredentialOut, status_code=201)
def create(
    body: S3CredentialIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> S3CredentialOut:
    """A key of the caller's (its secret is shown only in this answer)."""
    if body.owner and body.owner != who.user:
        raise InvalidInput(
            f"owner {body.owner!r}: a key is its caller's ({who.user!r}); to make one for "
            "another user, run the command with their token (KAON_TOKEN)"
        )
    return _out(p, p.credentials.issue(who.user), secret=True)


@router.get("", response_model=list[S3CredentialOut])
def list_keys(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[S3CredentialOut]:
    """The caller's keys and their jobs' (an admin: every key); never secrets."""
    return [_out(p, c) for c in p.credentials.list() if _mine(c, who)]


@router.delete("/{access_key}", status_code=204)
def revoke(
    access_key: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> None:
    """Revoke one of the caller's keys (an admin: any); another user's answers 404."""
    if not any(c.access_key == access_key and _mine(c, who) for c in p.credentials.list()):
        raise NotFound(f"no access key {access_key} of yours: `kaon auth s3-credentials --list`")
    p.credentials.revoke(access_key)
