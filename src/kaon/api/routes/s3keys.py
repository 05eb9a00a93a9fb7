"""S3 access keys for the S3 gateway: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kaon.api.deps import platform
from kaon.api.schemas import S3CredentialIn, S3CredentialOut
from kaon.app import Platform
from kaon.core.credentials import S3Credential

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


@router.post("", response_model=S3CredentialOut, status_code=201)
def create(body: S3CredentialIn, p: Platform = Depends(platform)) -> S3CredentialOut:
    return _out(p, p.credentials.issue(body.owner), secret=True)


@router.get("", response_model=list[S3CredentialOut])
def list_keys(p: Platform = Depends(platform)) -> list[S3CredentialOut]:
    return [_out(p, c) for c in p.credentials.list()]


@router.delete("/{access_key}", status_code=204)
def revoke(access_key: str, p: Platform = Depends(platform)) -> None:
    p.credentials.revoke(access_key)
