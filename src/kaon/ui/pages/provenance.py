"""Provenance: the graph drawn with Graphviz's SVG, pan and zoom, click a node to open it (H6).

    /ui/provenance/model/<workspace>/<model id>    what a model came from (and what its jobs wrote)
    /ui/provenance/endpoint/<name>                 an endpoint's: training and serving
    /ui/provenance/commit/<repo>@<commit>          subvenance: what was made from a commit

The API answers the graph (SDK: provenance, endpoint_provenance, subvenance); the page draws it
with `dot -Tsvg` (kaon.core.provenancedraw.to_dot, each node given the URL of its page), in
chain order left to right: data → code → env → job → model → endpoint → feedback. A graph of
more than MAX_NODES nodes is cut to the MAX_NODES nearest the root (the page says so). Without
Graphviz the page shows the API's text tree and says why.
"""

from __future__ import annotations

from collections import deque

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kaon.client.models import ProvenanceInfo
from kaon.core.errors import KaonError, NotFound
from kaon.core.provenance import Graph, Node, NodeKind
from kaon.core.provenancedraw import to_dot
from kaon.ui import graphviz, session
from kaon.ui.graphviz import link
from kaon.ui.render import page

router = APIRouter()
MAX_NODES = 250  # drawn; a bigger graph is cut to the nodes nearest its root
_PIPELINE_JOB = "@"  # a pipeline job's node: job:<pipeline>@<global id>


@router.get("/provenance/model/{workspace}/{model_id}", response_class=HTMLResponse)
def model(request: Request, workspace: str, model_id: str) -> HTMLResponse:
    prov = session.client(request).provenance(workspace, model_id)
    about = [("model", model_id, link("w", workspace, "models", model_id))]
    whole = f"kaon train provenance -m {model_id} --format json"
    return _graph_page(request, prov, f"Provenance of model {model_id}", about, whole)


@router.get("/provenance/endpoint/{name}", response_class=HTMLResponse)
def endpoint(request: Request, name: str) -> HTMLResponse:
    prov = session.client(request).endpoint_provenance(name)
    about = [("endpoint", name, link("endpoints", name))]
    whole = f"kaon serve provenance -e {name} --format json"
    return _graph_page(request, prov, f"Provenance of endpoint {name}", about, whole)


@router.get("/provenance/commit/{address}", response_class=HTMLResponse)
def commit(request: Request, address: str) -> HTMLResponse:
    """What was made from `<repo>@<commit>` (a branch or a commit id prefix)."""
    client = session.client(request)
    repo, at, ref = address.rpartition("@")
    if not at or not repo or not ref:
        raise NotFound(f"no commit '{address}': a link here names <repo>@<commit>")
    found = client.inspect_commit(repo, ref)
    title = f"Made from {repo}@{found.id[:12]}"
    about = [("commit", f"{repo}@{found.id[:12]}", link("repos", repo, "tree", found.id) + "/")]
    try:
        prov = client.subvenance(found.id)
    except NotFound:
        return page(
            request,
            "provenance/graph.html",
            title=title,
            about=about,
            drawing=None,
            problem="",
            empty="Nothing was made from this commit yet: no job or endpoint used it.",
            nodes=[],
            cut=0,
            total=0,
            text="",
            whole="",
        )
    return _graph_page(request, prov, title, about, f"kaon data subvenance {address} --json")


def _graph_page(
    request: Request,
    prov: ProvenanceInfo,
    title: str,
    about: list[tuple[str, str, str]],
    whole: str,
) -> HTMLResponse:
    graph, total = bounded(prov.graph, prov.root, MAX_NODES)
    urls = {n.id: url for n in graph.nodes if (url := node_url(graph, n))}
    tips = {n.id: _tooltip(n) for n in graph.nodes}
    drawing, problem = None, ""
    try:
        drawing = graphviz.svg(graphviz.with_urls(to_dot(graph, title), urls, tips))
    except KaonError as exc:
        problem = exc.message
    nodes = [
        (n.kind.value.replace("_", " "), n.label or n.id, urls.get(n.id, ""), _facts(n))
        for n in sorted(graph.nodes, key=_chain_order)
    ]
    return page(
        request,
        "provenance/graph.html",
        title=title,
        about=about,
        drawing=drawing,
        problem=problem,
        empty="",
        nodes=nodes,
        cut=total - len(graph),
        total=total,
        text=prov.text,
        whole=whole,
    )


def bounded(graph: Graph, root: str, limit: int) -> tuple[Graph, int]:
    """`graph` cut to the `limit` nodes nearest `root` (edges either way), and its size."""
    total = len(graph)
    if total <= limit or root not in graph:
        return graph, total
    keep: dict[str, None] = {root: None}
    queue = deque([root])
    while queue and len(keep) < limit:
        current = queue.popleft()
        for edge in graph.inputs(current) + graph.outputs(current):
            other = edge.src if edge.dst == current else edge.dst
            if other not in keep and len(keep) < limit:
                keep[other] = None
                queue.append(other)
    nodes = [graph.node(n) for n in keep]
    edges = [e for e in graph.edges if e.src in keep and e.dst in keep]
    return Graph(nodes, edges), total


def node_url(graph: Graph, node: Node) -> str:
    """The page a node opens: a commit's files, a job, a model, an endpoint, …"""
    attrs, key = node.attrs, node.id.partition(":")[2]
    kind = node.kind
    if kind in (NodeKind.DATA, NodeKind.CODE, NodeKind.SERVE_CODE):
        repo, commit = attrs.get("repo", ""), attrs.get("commit", "")
        return link("repos", repo, "tree", commit) + "/" if repo and commit else ""
    if kind is NodeKind.JOB:
        if attrs.get("job"):
            return link("jobs", attrs["job"])
        pipeline, at, job = key.partition(_PIPELINE_JOB)
        return link("pipelines", pipeline) + f"?job={job}" if at else ""
    if kind is NodeKind.MODEL:
        workspace, _, model_id = key.partition("/")
        return link("w", workspace, "models", model_id) if model_id else ""
    if kind is NodeKind.ENDPOINT:
        return link("endpoints", key)
    if kind is NodeKind.FEEDBACK:
        for edge in graph.inputs(node.id):
            if edge.src.startswith(f"{NodeKind.ENDPOINT.value}:"):
                return link("endpoints", edge.src.partition(":")[2]) + "#feedback"
    return ""


def _chain_order(node: Node) -> tuple[int, str]:
    return list(NodeKind).index(node.kind), node.label or node.id


_FACTS = (
    "repo branch commit path author created python packages params metrics state version replicas"
)


def _facts(node: Node) -> str:
    parts = []
    for key in _FACTS.split():
        value = node.attrs.get(key, "")
        if value:
            parts.append(f"{key} {value[:12] if key == 'commit' else value[:120]}")
    return " · ".join(parts)


def _tooltip(node: Node) -> str:
    facts = _facts(node)
    return f"{node.kind.value}: {node.label or node.id}" + (f"\n{facts}" if facts else "")
