"""A successful pipeline job in the provenance graph, with the node ids training uses:

    data:<input commit> ─┐
    code:<source commit> ┼─ used ─▶ job:<pipeline>@<global id> ─ produced ─▶ data:<output commit>
    environment:<lock>@… ┘ (built-from the code)

The output commit of one stage is the input commit of the next, so `kaon data subvenance
<raw commit>` reaches every stage's output, and a model trained from a pipeline's output (or
in one) traces back to the raw data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.errors import NotFound
from kaon.core.pipelines.records import PipelineJob, PipelineVersion
from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, node_id
from kaon.ports.provenance import ProvenanceStore
from kaon.services.pipelines.s3access import Access
from kaon.services.repos import RepoService


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts or time.time()))


def job_node_id(job: PipelineJob) -> str:
    return node_id(NodeKind.JOB, job.key)


class PipelineProvenance:
    def __init__(self, store: ProvenanceStore, repos: RepoService) -> None:
        self._store = store
        self._repos = repos

    def job_succeeded(
        self, job: PipelineJob, version: PipelineVersion, reads: Sequence[Access] = ()
    ) -> None:
        """`reads`: what the job's code read through the S3 gateway besides its inputs."""
        run = Node(
            job_node_id(job),
            NodeKind.JOB,
            f"{job.pipeline}@{job.id[:8]}",
            {
                "pipeline": job.pipeline,
                "job": job.id,
                "version": str(job.version),
                "author": version.author,
                "created": _when(job.created),
                "reprocess": "yes" if version.reprocess else "no (kept older datums)",
                "salt": version.salt,
            },
        )
        nodes = [run]
        edges = []
        for given in job.inputs:
            if given.commit is None:
                continue
            data = self._data_node(given.repo, given.commit)
            nodes.append(data)
            edges.append(Edge(data.id, run.id, EdgeKind.USED))
        given_ids = {e.src for e in edges}
        for read in reads:
            data = self._data_node(read.repo, read.commit)
            if data.id not in given_ids:
                given_ids.add(data.id)
                nodes.append(data)
                edges.append(Edge(data.id, run.id, EdgeKind.USED))
        code_key = version.source_commit or ""
        if version.source_repo and version.source_commit:
            code = Node(
                node_id(NodeKind.CODE, version.source_commit),
                NodeKind.CODE,
                f"{version.source_repo}@{job.pipeline}",
                {
                    "repo": version.source_repo,
                    "branch": job.pipeline,
                    "commit": version.source_commit,
                },
            )
            nodes.append(code)
            edges.append(Edge(code.id, run.id, EdgeKind.USED))
        env = Node(
            node_id(NodeKind.ENVIRONMENT, f"{version.lock_id or 'platform'}@{code_key}"),
            NodeKind.ENVIRONMENT,
            version.lock_id[:12] or "platform python",
            {
                "python": version.python,
                "hash": version.lock_id,
                "packages": str(
                    sum(1 for ln in version.lock.splitlines() if "==" in ln and ln[:1] != "#")
                ),
            },
        )
        nodes.append(env)
        edges.append(Edge(env.id, run.id, EdgeKind.USED))
        if version.source_commit:
            edges.append(
                Edge(node_id(NodeKind.CODE, version.source_commit), env.id, EdgeKind.BUILT_FROM)
            )
        if job.output_commit:
            out = self._data_node(job.output_repo, job.output_commit)
            nodes.append(out)
            edges.append(Edge(run.id, out.id, EdgeKind.PRODUCED))
        self._store.record(nodes, edges)

    def _data_node(self, repo: str, commit_id: str) -> Node:
        commit: Commit | None
        try:
            commit = self._repos.resolve(repo, Ref(commit_id))
        except NotFound:
            commit = None
        attrs = {"repo": repo, "commit": commit_id, "path": "/"}
        if commit is not None:
            attrs |= {
                "branch": commit.branch,
                "author": commit.author,
                "created": _when(commit.finished),
            }
        label = f"{repo}@{commit.branch if commit else commit_id[:8]}"
        return Node(node_id(NodeKind.DATA, commit_id), NodeKind.DATA, label, attrs)
