"""Provenance: the recorded graph of a model or endpoint, subvenance of a commit, and
reproduction of a job from its recorded inputs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from kaon.api.access import visible_graph, visible_workspaces
from kaon.api.answers import job_info, provenance_info
from kaon.api.deps import platform, principal
from kaon.core.errors import NotFound
from kaon.core.jobs import model_id
from kaon.core.provenance import NodeKind, model_node_id, node_id
from kaon.core.users import Principal
from kaon.wire import JobInfo, ProvenanceInfo
from kaon.wire.requests import ReproduceIn
from kaon.wiring import Platform

router = APIRouter(tags=["provenance"])


@router.get("/v1/workspaces/{name}/models/{model}/provenance", response_model=ProvenanceInfo)
def model_provenance(
    name: str, model: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> ProvenanceInfo:
    """The model as workspace `name` produced it (model ids are content addresses: the
    same id trained in another workspace has that workspace's own provenance). Nodes of
    workspaces the caller may not read are left out."""
    mid = model_id(model)
    try:
        graph = p.provenance.of_model(name, mid)
    except NotFound:
        p.training.model(name, mid, visible_workspaces(p, who))  # a 404 naming where it was
        raise
    return provenance_info(visible_graph(p, who, graph), model_node_id(name, mid), f"model {mid}")


@router.get("/v1/endpoints/{endpoint}/provenance", response_model=ProvenanceInfo)
def endpoint_provenance(
    endpoint: str, p: Platform = Depends(platform), who: Principal = Depends(principal)
) -> ProvenanceInfo:
    name = p.serving.get(endpoint).name  # a release's name: the version it serves
    graph = visible_graph(p, who, p.provenance.of_endpoint(name))
    return provenance_info(graph, node_id(NodeKind.ENDPOINT, name), f"endpoint {name}")


@router.get("/v1/subvenance", response_model=ProvenanceInfo)
def subvenance(
    commit: str = Query(..., description="a data or code commit id (or unique prefix)"),
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> ProvenanceInfo:
    """Every job, model and endpoint downstream of the commit that the caller may read (a
    commit of a workspace the caller has no role in answers 404)."""
    found = p.provenance.subvenance(commit)
    graph = visible_graph(p, who, found)
    starts = (NodeKind.DATA, NodeKind.CODE)
    if not any(
        n.kind in starts and n.attrs.get("commit", "").startswith(commit) for n in graph.nodes
    ):
        raise NotFound(
            f"no job used a data or code commit starting with '{commit}' "
            "(see `kaon list commit <repo>@<branch>`)"
        )
    roots = [n.id for n in graph.nodes if not graph.inputs(n.id)]
    root = roots[0] if roots else graph.nodes[0].id
    text = "\n".join(f"{n.kind.value:<12} {n.label}" for n in graph.nodes)
    return provenance_info(graph, root, f"downstream of {commit}", text)


@router.post("/v1/jobs/{job}/reproduce", response_model=JobInfo, status_code=201)
def reproduce(
    job: str,
    body: ReproduceIn | None = None,
    p: Platform = Depends(platform),
    who: Principal = Depends(principal),
) -> JobInfo:
    """Run the job again from its recorded inputs, as the caller (the re-run's author)."""
    again, trials = p.training.reproduce(job, who.user)
    return job_info(again, trials)


@router.get("/v1/jobs/{job}/outputs")
def outputs(
    job: str,
    trial: list[int] | None = Query(None, description="only these trials' (by index)"),
    p: Platform = Depends(platform),
) -> dict[str, object]:
    """Per trial: the model id and every output file with its content hash."""
    return p.training.outputs(job, trial)
