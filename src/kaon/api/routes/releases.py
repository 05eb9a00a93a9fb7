"""Named, versioned endpoints (kaon.core.releases): update (rolling, canary, shadow), promote,
rollback, versions, and the feedback an endpoint received. `{endpoint}` is a release name
(petset), a version's name (petset-c517ec) or a wave-1 endpoint's name."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from kaon.api.answers import feedback_info, release_info, version_infos
from kaon.api.deps import platform, principal
from kaon.api.routes.endpoints import _base, endpoint_out
from kaon.core.errors import InvalidInput
from kaon.core.jobs import ModelId, model_id
from kaon.core.releases import canary_weight, version_label
from kaon.core.users import Principal
from kaon.wire import EndpointInfo, FeedbackInfo, ReleaseInfo, VersionInfo
from kaon.wire.requests import ReleaseIn
from kaon.wiring import Platform

router = APIRouter(tags=["serve"])


@router.post("/v1/endpoints/{endpoint}/versions", response_model=EndpointInfo, status_code=201)
def update_endpoint(
    endpoint: str,
    body: ReleaseIn,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> EndpointInfo:
    """A new version of `endpoint` (`kaon serve update`): rolling, canary or shadow."""
    if body.model_id is None and body.source is None:
        raise InvalidInput(
            f"nothing to update on endpoint {endpoint}: give the new version's model_id "
            "and/or serve bundle (source)"
        )
    if body.canary is not None and body.shadow:
        raise InvalidInput("give canary or shadow, not both: a shadow answers no request")
    canary = canary_weight(body.canary) if body.canary is not None else None
    label = version_label(body.version) if body.version is not None else None
    release = p.serving.release(endpoint)
    source = None
    if body.source is not None:
        source = p.workspaces.bundle(
            release.workspace,
            "serve",
            body.source.branch,
            body.source.ref or body.source.branch,
            who.user,
        )
    version = p.serving.update(
        release.name,
        who.user,
        ModelId(model_id(body.model_id)) if body.model_id else None,
        source,
        canary,
        body.shadow,
        label,
        who.job,
    )
    return endpoint_out(p, version, _base(request))


@router.get("/v1/endpoints/{endpoint}/versions", response_model=list[VersionInfo])
def list_versions(endpoint: str, p: Platform = Depends(platform)) -> list[VersionInfo]:
    release = p.serving.release(endpoint)
    return version_infos(release, p.serving.versions(release.name))


@router.get("/v1/endpoints/{endpoint}/release", response_model=ReleaseInfo)
def get_release(endpoint: str, request: Request, p: Platform = Depends(platform)) -> ReleaseInfo:
    release = p.serving.release(endpoint)
    return release_info(release, p.serving.versions(release.name), _base(request))


@router.post("/v1/endpoints/{endpoint}/promote", response_model=ReleaseInfo)
def promote(
    endpoint: str,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> ReleaseInfo:
    """The canary (or shadow) takes all the traffic (`kaon serve promote`)."""
    release = p.serving.promote(endpoint, who.job)
    versions = p.serving.versions(release.name)
    if who.job:  # a pipeline's release stage promoted it: job → the version now serving
        serving = {v for v, weight in release.traffic.weights.items() if weight == 100}
        for version in versions:
            if version.version in serving:
                p.provenance.job_deployed(who.job, version.name)
    return release_info(release, versions, _base(request))


@router.post("/v1/endpoints/{endpoint}/rollback", response_model=ReleaseInfo)
def rollback(
    endpoint: str,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> ReleaseInfo:
    """Traffic back to what it was before the last change (`kaon serve rollback`)."""
    release = p.serving.rollback(endpoint, who.job)
    return release_info(release, p.serving.versions(release.name), _base(request))


@router.get("/v1/endpoints/{endpoint}/feedback", response_model=list[FeedbackInfo])
def list_feedback(
    endpoint: str,
    limit: int = Query(100, ge=1, le=10_000),
    p: Platform = Depends(platform),
) -> list[FeedbackInfo]:
    """What came back for `endpoint`'s answers, newest first (`kaon serve feedback`)."""
    return [feedback_info(f) for f in p.serving.feedbacks(endpoint, limit)]
