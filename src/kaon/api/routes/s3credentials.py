"""S3 access keys for the S3 gateway: create (the secret is shown once), list, revoke.

A key acts for the user who created it (kaon.services.s3.access); one created with a job's
token is that job's: narrowed to its workspace and revoked when it ends."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.answers import s3_credential_info
from kaon.api.deps import platform, principal
from kaon.core.credentials import S3Credential
from kaon.core.errors import Forbidden, InvalidInput, NotFound
from kaon.core.users import Principal
from kaon.wire import S3CredentialInfo
from kaon.wire.requests import S3CredentialIn
from kaon.wiring import Platform

router = APIRouter(prefix="/v1/s3/credentials", tags=["s3"])


def _out(p: Platform, c: S3Credential, secret: bool = False) -> S3CredentialInfo:
    return s3_credential_info(c, p.credentials.endpoint, secret)


def _mine(c: S3Credential, who: Principal) -> bool:
    """The caller's key: it carries their rights (theirs, or one of their jobs')."""
    if who.admin and who.job is None:
        return True
    return c.user == who.user


@router.post("", response_model=S3CredentialInfo, status_code=201)
def create(
    body: S3CredentialIn, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> S3CredentialInfo:
    """A key of the caller's (its secret is shown only in this answer); one made with a job's
    token is the job's (narrowed to its workspace, revoked when the job ends)."""
    if who.pipeline_job:  # its key would not be narrowed as the job's own is
        raise Forbidden(
            f"{who.describe()} may not make S3 keys: use the job's own, in AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY"
        )
    if body.owner and body.owner != who.user:
        raise InvalidInput(
            f"owner {body.owner!r}: a key is its caller's ({who.user!r}); to make one for "
            "another user, run the command with their token (KAON_TOKEN)"
        )
    owner = f"job {who.job[:8]} ({who.user})" if who.job else who.user
    key = p.credentials.issue(owner, who.job, who.workspace, who.user)
    return _out(p, key, secret=True)


@router.get("", response_model=list[S3CredentialInfo])
def list_keys(
    p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> list[S3CredentialInfo]:
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
