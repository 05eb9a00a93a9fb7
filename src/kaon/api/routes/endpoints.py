"""Endpoints: deploy, list, get, kill, logs (predictions go through the gateway)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from kaon.api.answers import endpoint_info
from kaon.api.deps import platform, principal
from kaon.api.owners import forward
from kaon.core.endpoints import Endpoint, EndpointState, parse_batch
from kaon.core.envvars import check_variables
from kaon.core.errors import InvalidInput
from kaon.core.jobs import ModelId, model_id
from kaon.core.units import parse_duration
from kaon.core.users import Principal
from kaon.services.joblog import read_from, read_tail
from kaon.wire import EndpointInfo, LogOut
from kaon.wire.requests import ServeIn
from kaon.wiring import Platform

router = APIRouter(tags=["serve"])


def endpoint_out(p: Platform, e: Endpoint, base: str) -> EndpointInfo:
    status = p.serving.status(e.name)
    if status is None:
        return endpoint_info(e, 0, base)
    return endpoint_info(
        e,
        status.restarts,
        base,
        addresses=status.addresses,
        last_error=status.last_error,
        server=p.serving.runs_on(e.name) or "",
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/").removeprefix("http://")


@router.post("/v1/workspaces/{name}/serve", response_model=EndpointInfo, status_code=201)
def deploy(
    name: str,
    body: ServeIn,
    request: Request,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> EndpointInfo:
    """Deploy an endpoint in workspace `name`; the caller is its author. With `body.name`: a
    version (`body.version`) of that named endpoint; the same inputs again return that version."""
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
        name=body.name,
        version=body.version,
        job=who.job,  # deployed with a job's token: job → endpoint in provenance
    )
    return endpoint_out(p, endpoint, _base(request))


@router.get("/v1/workspaces/{name}/endpoints", response_model=list[EndpointInfo])
def list_endpoints(
    name: str, request: Request, p: Platform = Depends(platform)
) -> list[EndpointInfo]:
    return [endpoint_out(p, e, _base(request)) for e in p.serving.endpoints(name)]


@router.get("/v1/endpoints/{endpoint}", response_model=EndpointInfo)
def get_endpoint(endpoint: str, request: Request, p: Platform = Depends(platform)) -> EndpointInfo:
    return endpoint_out(p, p.serving.get(endpoint), _base(request))


@router.delete("/v1/endpoints/{endpoint}", response_model=EndpointInfo)
def kill_endpoint(endpoint: str, request: Request, p: Platform = Depends(platform)) -> EndpointInfo:
    return endpoint_out(p, p.serving.kill(endpoint), _base(request))


@router.get("/v1/endpoints/{endpoint}/logs", response_model=LogOut)
def endpoint_logs(
    endpoint: str,
    request: Request,
    kind: Literal["serve", "build"] = Query("serve"),
    offset: int = Query(0, ge=0),
    tail: int | None = Query(
        None, ge=0, description="only the last `tail` lines (then follow from `offset`)"
    ),
    p: Platform = Depends(platform),
) -> LogOut | Response:
    """A version's log from byte `offset`, or its last `tail` lines (read back from the end),
    kept by the server running its replicas (forwarded there when it is another one)."""
    if tail is not None and offset:
        raise InvalidInput(
            "give either `offset` (read from there) or `tail` (the last lines), not both"
        )
    found = p.serving.get(endpoint)
    forwarded = forward(request, p, p.serving.runs_on(found.name))
    if forwarded is not None:
        return forwarded
    path = p.serving.log_path(found, kind)
    start = offset
    if tail is None:
        data, end = read_from(path, offset)
    else:
        data, start, end = read_tail(path, tail)
    done = found.state is EndpointState.KILLED or found.build_failed  # no log grows any more
    finished = done and not data
    text = data.decode("utf-8", "replace")
    return LogOut(text=text, offset=end, finished=finished, start=start)
