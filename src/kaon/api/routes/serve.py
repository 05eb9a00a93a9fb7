"""Endpoints: deploy, list, get, kill, logs (predictions go through the gateway)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from kaon.api.deps import platform, principal
from kaon.api.routes.workspaces import bundle_out
from kaon.api.schemas import EndpointOut, LogOut, ServeIn
from kaon.app import Platform
from kaon.core.endpoints import Endpoint, EndpointState, parse_batch
from kaon.core.envvars import check_variables
from kaon.core.jobs import ModelId, model_id
from kaon.core.units import parse_duration
from kaon.core.users import Principal
from kaon.services.joblog import read_from

router = APIRouter(tags=["serve"])


def endpoint_out(p: Platform, e: Endpoint, base: str) -> EndpointOut:
    status = p.serving.status(e.name)
    return EndpointOut(
        name=e.name,
        workspace=e.workspace,
        state=e.state.value,
        created=e.created,
        started=e.started,
        author=e.author,
        source=bundle_out(e.source),
        model_id=e.model_id,
        replicas=e.replicas,
        ready=status.ready if status else 0,
        restarts=status.restarts if status else 0,
        batch=str(e.batch) if e.batch else None,
        timeout=e.timeout,
        url=f"{base}/{e.name}/invocations",
        reason=e.reason,
        env=e.env,
        variables=e.variables,
        served_commit=e.served_commit,
        auth=e.auth,
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/").removeprefix("http://")


@router.post("/v1/workspaces/{name}/serve", response_model=EndpointOut, status_code=201)
def deploy(
    name: str,
    body: ServeIn,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> EndpointOut:
    """Deploy an endpoint in workspace `name`; the caller is its author."""
    source = p.workspaces.bundle(
        name,
        "serve",
        body.source.branch,
        body.source.ref or body.source.branch,
        who.user,
    )
    endpoint = p.serving.deploy(
        name,
        who.user,
        source,
        ModelId(model_id(body.model_id)) if body.model_id else None,
        body.replicas,
        parse_batch(body.batch) if body.batch else None,
        parse_duration(body.timeout) if body.timeout else 30.0,
        check_variables(body.env),
        body.auth,
    )
    return endpoint_out(p, endpoint, _base(request))


@router.get("/v1/workspaces/{name}/endpoints", response_model=list[EndpointOut])
def list_endpoints(
    name: str, request: Request, p: Platform = Depends(platform)
) -> list[EndpointOut]:
    return [endpoint_out(p, e, _base(request)) for e in p.serving.endpoints(name)]


@router.get("/v1/endpoints/{endpoint}", response_model=EndpointOut)
def get_endpoint(endpoint: str, request: Request, p: Platform = Depends(platform)) -> EndpointOut:
    return endpoint_out(p, p.serving.get(endpoint), _base(request))


@router.delete("/v1/endpoints/{endpoint}", response_model=EndpointOut)
def kill_endpoint(endpoint: str, request: Request, p: Platform = Depends(platform)) -> EndpointOut:
    return endpoint_out(p, p.serving.kill(endpoint), _base(request))


@router.get("/v1/endpoints/{endpoint}/logs", response_model=LogOut)
def endpoint_logs(
    endpoint: str,
    kind: Literal["serve", "build"] = Query("serve"),
    offset: int = Query(0, ge=0),
    p: Platform = Depends(platform),
) -> LogOut:
    found = p.serving.get(endpoint)
    data, end = read_from(p.serving.log_path(found, kind), offset)
    done = found.state is EndpointState.KILLED or found.build_failed  # no log grows any more
    finished = done and not data
    return LogOut(text=data.decode("utf-8", "replace"), offset=end, finished=finished)
