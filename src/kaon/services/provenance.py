"""Recording provenance as work happens, and answering questions about it.

Training records data, code, params, environment and job (one job node per trial) when the
job starts running, and the model when a trial succeeds; serving records the serve code, its
environment and the endpoint (and, when a job's token deployed it, job → endpoint: a
pipeline's release stage); feedback records itself; a notebook records its code, data and
environment when it starts, each data commit its S3 key reads (as a job's reads), and each
commit its save makes (notebook → produced → code: a job trained from that code shows what
the notebook read). Edges point from input to user.
"""

from __future__ import annotations

import json
import time
from typing import Any

import blake3

from kaon.core.commit import Commit
from kaon.core.endpoints import Endpoint
from kaon.core.errors import InvalidInput, NotFound
from kaon.core.ids import is_hex
from kaon.core.jobs import Bundle, Job, Trial, canonical_json, trial_name
from kaon.core.notebooks import Notebook
from kaon.core.provenance import Edge, EdgeKind, Graph, Node, NodeKind, model_node_id, node_id
from kaon.core.users import PIPELINE_JOB
from kaon.ports.provenance import ProvenanceStore

COMMIT_ID_LENGTH = 32  # hex digits of a whole commit id (kaon.core.commit.seal)
_MAX_TRIALS = 10_000  # a training job's trial nodes an endpoint it deployed is linked to


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts or time.time()))


def _bundle_node(bundle: Bundle, kind: NodeKind) -> Node:
    return Node(
        node_id(kind, bundle.commit),
        kind,
        bundle.path,
        {
            "author": bundle.author,
            "repo": bundle.repo,
            "branch": bundle.branch,
            "commit": bundle.commit,
            "hash": bundle.digest,
            "path": bundle.path,
            "size": str(bundle.size),
        },
    )


def _env_node(env: dict[str, Any], code: Bundle) -> Node:
    """One node per (lock, code commit): environments are shared by lock id on disk, but a
    node shared by every bundle with the same lock would pull unrelated code into ancestries."""
    lock = str(env.get("lock", ""))
    pins = [ln for ln in lock.splitlines() if "==" in ln and not ln.lstrip().startswith("#")]
    plat = env.get("platform", {})
    return Node(
        node_id(NodeKind.ENVIRONMENT, f"{env['lock_id']}@{code.commit}"),
        NodeKind.ENVIRONMENT,
        str(env["lock_id"])[:12],
        {
            "python": str(env.get("python", "")),
            "packages": str(len(pins)),
            "hash": str(env["lock_id"]),
            "os": str(plat.get("os", "")),
            "cpu": str(plat.get("cpu", "")),
        },
    )


def _s3_data_node(commit: Commit, path: str) -> Node:
    return Node(
        node_id(NodeKind.DATA, commit.id),
        NodeKind.DATA,
        f"{commit.repo}@{commit.branch}:{path}",
        {
            "author": commit.author,
            "repo": commit.repo,
            "branch": commit.branch,
            "commit": commit.id,
            "path": path,
            "created": _when(commit.finished),
            "via": "s3",
        },
    )


def trial_node_id(job: Job, trial: Trial) -> str:
    return node_id(NodeKind.JOB, f"{job.id}/{trial.index}")


def notebook_node_id(notebook: Notebook) -> str:
    """One node per deploy (its build): a name deployed again is another notebook."""
    return node_id(NodeKind.NOTEBOOK, f"{notebook.name}@{notebook.build}")


def _notebook_node(notebook: Notebook) -> Node:
    return Node(
        notebook_node_id(notebook),
        NodeKind.NOTEBOOK,
        notebook.name,
        {
            "author": notebook.author,
            "created": _when(notebook.created),
            "workspace": notebook.workspace,
            "build": notebook.build,
        },
    )


class ProvenanceService:
    def __init__(self, store: ProvenanceStore) -> None:
        self._store = store

    # recording ---------------------------------------------------------------------------
    def job_started(self, job: Job, trials: list[Trial]) -> None:
        data = _bundle_node(job.data, NodeKind.DATA)
        code = _bundle_node(job.source, NodeKind.CODE)
        env = _env_node(job.env, job.source)
        nodes = [data, code, env]
        edges = [Edge(code.id, env.id, EdgeKind.BUILT_FROM)]
        for trial in trials:
            run = Node(
                trial_node_id(job, trial),
                NodeKind.JOB,
                f"{job.id[:8]} trial {trial.index}" if job.hyper else job.id[:8],
                {"author": job.author, "created": _when(job.created), "job": job.id}
                | ({"env": canonical_json(job.variables)} if job.variables else {}),
            )
            nodes.append(run)
            edges += [Edge(x.id, run.id, EdgeKind.USED) for x in (data, code, env)]
            if trial.params:
                key = blake3.blake3(canonical_json(trial.params).encode()).hexdigest()[:16]
                params = Node(
                    node_id(NodeKind.PARAMS, key),
                    NodeKind.PARAMS,
                    trial_name(trial.params)[:-5],
                    {"params": canonical_json(trial.params), "hash": key},
                )
                nodes.append(params)
                edges.append(Edge(params.id, run.id, EdgeKind.USED))
        self._store.record(nodes, edges)

    def model_produced(self, job: Job, trial: Trial) -> None:
        assert trial.model_id is not None
        model = Node(
            model_node_id(job.workspace, trial.model_id),
            NodeKind.MODEL,
            trial.model_id,
            {
                "author": job.author,
                "created": _when(trial.finished),
                "commit": str(trial.model_commit),
                "path": str(trial.model_path),
                "metrics": json.dumps(trial.metrics, sort_keys=True)[:200],
            },
        )
        self._store.record([model], [Edge(trial_node_id(job, trial), model.id, EdgeKind.PRODUCED)])

    def data_read(self, job: Job, trials: list[Trial], commit: Commit, path: str) -> None:
        """A job read `path` of `commit` through the S3 gateway: data used by its trials."""
        data = _s3_data_node(commit, path)
        edges = [Edge(data.id, trial_node_id(job, t), EdgeKind.USED) for t in trials]
        self._store.record([data], edges)

    def data_written(self, job: Job, trials: list[Trial], commit: Commit, path: str) -> None:
        """A job's write through the S3 gateway made `commit`: data produced by its trials."""
        data = _s3_data_node(commit, path)
        edges = [Edge(trial_node_id(job, t), data.id, EdgeKind.PRODUCED) for t in trials]
        self._store.record([data], edges)

    def notebook_started(self, notebook: Notebook) -> None:
        """Its code and data bundles and (once locked) its environment: used by it."""
        run = _notebook_node(notebook)
        code = _bundle_node(notebook.source, NodeKind.CODE)
        nodes, edges = [run, code], [Edge(code.id, run.id, EdgeKind.USED)]
        if notebook.data is not None:
            nodes.append(_bundle_node(notebook.data, NodeKind.DATA))
            edges.append(Edge(nodes[-1].id, run.id, EdgeKind.USED))
        if notebook.env.get("lock_id"):
            env = _env_node(notebook.env, notebook.source)
            nodes.append(env)
            edges += [
                Edge(code.id, env.id, EdgeKind.BUILT_FROM),
                Edge(env.id, run.id, EdgeKind.USED),
            ]
        self._store.record(nodes, edges)

    def notebook_read(self, notebook: Notebook, commit: Commit, path: str) -> None:
        """The notebook's S3 key read `path` of `commit`: data it used, as a job's read."""
        data = _s3_data_node(commit, path)
        run = _notebook_node(notebook)
        self._store.record([run, data], [Edge(data.id, run.id, EdgeKind.USED)])

    def notebook_saved(self, notebook: Notebook, commit: Commit) -> None:
        """A save (or a kill's last state) made `commit` of its folder: code it produced."""
        run = _notebook_node(notebook)
        code = Node(
            node_id(NodeKind.CODE, commit.id),
            NodeKind.CODE,
            f"/{commit.branch}:{str(commit.tree or '')[:5]}",
            {
                "author": commit.author,
                "repo": commit.repo,
                "branch": commit.branch,
                "commit": commit.id,
                "hash": str(commit.tree or ""),
                "created": _when(commit.finished),
            },
        )
        self._store.record([run, code], [Edge(run.id, code.id, EdgeKind.PRODUCED)])

    def endpoint_started(self, endpoint: Endpoint) -> None:
        code = _bundle_node(endpoint.source, NodeKind.SERVE_CODE)
        env = _env_node(endpoint.env, endpoint.source)
        served = Node(
            node_id(NodeKind.ENDPOINT, endpoint.name),
            NodeKind.ENDPOINT,
            endpoint.name,
            {
                "author": endpoint.author,
                "created": _when(endpoint.created),
                "commit": str(endpoint.served_commit),
                "replicas": str(endpoint.replicas),
            },
        )
        edges = [
            Edge(code.id, env.id, EdgeKind.BUILT_FROM),
            Edge(code.id, served.id, EdgeKind.DEPLOYED_FROM),
            Edge(env.id, served.id, EdgeKind.USED),
        ]
        if endpoint.model_id:
            model = model_node_id(endpoint.workspace, endpoint.model_id)
            edges.append(Edge(model, served.id, EdgeKind.SERVED_BY))
        if endpoint.job:
            edges += self._deployed(endpoint.job, endpoint.name)
        self._store.record([code, env, served], edges)

    def job_deployed(self, job: str, endpoint: str) -> None:
        """`job` (a job's token asked) deployed, updated or promoted version `endpoint`."""
        self._store.record([], self._deployed(job, endpoint))

    def _deployed(self, job: str, endpoint: str) -> list[Edge]:
        """job → endpoint: from a pipeline job's node (`job:<pipeline>@<id>`, recorded when the
        job succeeds: until then the edge leads nowhere further), or from each trial of a
        training job."""
        if PIPELINE_JOB in job:
            jobs = [node_id(NodeKind.JOB, job)]
        else:
            jobs = self._store.find(NodeKind.JOB.value, f"{job}/", limit=_MAX_TRIALS)
        target = node_id(NodeKind.ENDPOINT, endpoint)
        return [Edge(j, target, EdgeKind.DEPLOYED) for j in jobs]

    def feedback_received(
        self, endpoint: str, workspace: str, record: dict[str, Any], commit: str
    ) -> None:
        fb = Node(
            node_id(NodeKind.FEEDBACK, str(record["request_id"])),
            NodeKind.FEEDBACK,
            str(record["request_id"])[:12],
            {"created": _when(record.get("received")), "commit": commit}
            | {k: str(record[k]) for k in ("version", "protocol") if record.get(k)},
        )
        edges = [Edge(node_id(NodeKind.ENDPOINT, endpoint), fb.id, EdgeKind.ABOUT)]
        if record.get("model_id"):
            model = model_node_id(workspace, str(record["model_id"]))
            edges.append(Edge(model, fb.id, EdgeKind.ABOUT))
        self._store.record([fb], edges)

    # questions ---------------------------------------------------------------------------
    def of_model(self, workspace: str, model_id: str) -> Graph:
        """The ancestry of the model as `workspace` produced it, plus the data its jobs wrote
        elsewhere (through S3)."""
        graph = self._store.ancestry(model_node_id(workspace, model_id), wrote=True)
        if not len(graph):
            raise NotFound(
                f"no provenance recorded for model '{model_id}' in workspace '{workspace}': "
                "see `kaon train info`"
            )
        return graph

    def of_notebook(self, notebook: Notebook) -> Graph:
        """What the notebook used (its bundles, environment, the data it read through S3) and
        the code commits it saved."""
        root = notebook_node_id(notebook)
        graph = self._store.ancestry(root)
        if not len(graph):
            raise NotFound(
                f"no provenance recorded for notebook '{notebook.name}' yet: it is recorded "
                "when it starts (see `kaon notebook list`)"
            )
        return graph.merge(self._store.outputs([root], EdgeKind.PRODUCED.value))

    def of_endpoint(self, name: str) -> Graph:
        graph = self._store.ancestry(node_id(NodeKind.ENDPOINT, name))
        if not len(graph):
            raise NotFound(f"no provenance recorded for endpoint '{name}': see `kaon serve list`")
        return graph

    def subvenance(self, commit_prefix: str) -> Graph:
        """Everything downstream of a data (or code) commit given by id or unique prefix."""
        if len(commit_prefix) < 4:
            raise InvalidInput("give at least 4 characters of the commit id")
        if len(commit_prefix) == COMMIT_ID_LENGTH and is_hex(commit_prefix):
            for kind in (NodeKind.DATA, NodeKind.CODE):  # a whole id: walk at once, no find
                graph = self._store.subvenance(node_id(kind, commit_prefix))
                if len(graph):
                    return graph
        found = self._store.find("data", commit_prefix) or self._store.find("code", commit_prefix)
        if not found:
            raise NotFound(
                f"no job used a data or code commit starting with '{commit_prefix}' "
                "(see `kaon list commit <repo>@<branch>`)"
            )
        if len(found) > 1:
            raise InvalidInput(f"commit prefix '{commit_prefix}' is ambiguous: give more")
        return self._store.subvenance(found[0])
