"""What sets pipeline jobs off: commits (cascades with global ids), `run`, spouts.

A commit G on repo R, branch B sets off a *cascade*: a job `<P>@<G>` in every running pipeline
downstream of R@B, created at once (so `kaon list job G` shows them all), in topological order,
then queued (kaon.services.pipelines.scheduler runs them). A job's input that is the output of
a pipeline in the same cascade is left open (that pipeline's job-G output commit, filled in
when that job ends); any other input is its branch head now (R: the commit G itself), so a
cross of A and B(A) never mixes an old A with a new B.

A commit on a pipeline's own output branch was made by its job: the cascade that ran the job
already has the downstream jobs, so it starts nothing (a spout's commits do start cascades).

An input with a pfs `trigger` (kaon.services.pipelines.branchtriggers) starts a job only when
its trigger fires (enough commits or bytes since the commit the last job took); a pipeline
reading a cascade member through a triggered input joins no cascade: the member's output
commit is checked against the trigger when it lands. Until it fires, a job that something
else starts sees the input at the commit the last job took. `run pipeline` ignores triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kaon.core.commit import Commit
from kaon.core.errors import AlreadyExists, NotFound
from kaon.core.pipelines.graph import Graph, leaves
from kaon.core.pipelines.records import (
    InputCommit,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineState,
    new_global_id,
)
from kaon.core.pipelines.spec import PfsInput, PipelineSpec, Reprocess
from kaon.ports.pipelines import PipelineStore
from kaon.services.pipelines.branchtriggers import BranchTriggers, triggers_of
from kaon.services.repos import RepoService

Fired = dict[tuple[str, str], str]  # (pipeline, input name) -> the head its trigger moved to

Leaf = PfsInput  # one input: /pfs/<name> is a commit of repo@branch (cron: its ticks repo)


@dataclass(frozen=True)
class Node:
    """A pipeline as the triggers see it: its record, spec and inputs (the graph itself,
    order and cycles, is kaon.core.pipelines.graph's)."""

    pipeline: Pipeline
    spec: PipelineSpec
    leaves: tuple[Leaf, ...]

    @property
    def name(self) -> str:
        return self.pipeline.name

    def reads(self, repo: str, branch: str) -> bool:
        return any(leaf.repo == repo and leaf.branch == branch for leaf in self.leaves)


class Triggers:
    def __init__(
        self,
        store: PipelineStore,
        repos: RepoService,
        spec_of: Callable[[str, int], PipelineSpec],
        enqueue: Callable[[PipelineJob], None],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._repos = repos
        self._spec_of = spec_of
        self._enqueue = enqueue
        self._clock = clock
        self._lock = threading.Lock()
        self._gates = BranchTriggers(store, repos)

    def nodes(self) -> dict[str, Node]:
        out = {}
        for p in self._store.list_pipelines():
            spec = self._spec_of(p.name, p.version)
            out[p.name] = Node(p, spec, tuple(leaves(spec)))
        return out

    # triggers ----------------------------------------------------------------------------
    def committed(self, commit: Commit) -> None:
        """The commit observer: a cascade with the commit's id as global id."""
        nodes = self.nodes()
        own = nodes.get(commit.repo)
        if own is not None and own.spec.spout is None and commit.branch == own.spec.output_branch:
            # a job's output commit: its cascade has the downstream jobs already, except
            # those reading it through a trigger
            roots = [n.name for n in nodes.values() if self._gated(n, commit.repo, commit.branch)]
        else:
            roots = [n.name for n in nodes.values() if n.reads(commit.repo, commit.branch)]
        if roots:
            self.cascade(commit.id, roots, nodes, origin=commit)

    def cascade(
        self,
        global_id: str,
        roots: Sequence[str],
        nodes: dict[str, Node] | None = None,
        *,
        origin: Commit | None = None,
        reprocess: bool = False,
        force: bool = False,
    ) -> list[PipelineJob]:
        """Create and queue the jobs of one cascade: `roots` and every running pipeline
        downstream of them (`force`: the roots run even when paused)."""
        nodes = nodes if nodes is not None else self.nodes()

        def runs(n: Node) -> bool:
            return n.pipeline.state in (PipelineState.RUNNING, PipelineState.STARTING)

        created = []
        with self._lock:  # one cascade at a time: every queue holds them in the same order
            fired: Fired = {}  # triggers evaluated under the lock: one fires once
            members = [
                r
                for r in roots
                if r in nodes
                and (force or (runs(nodes[r]) and self._starts(nodes[r], origin, fired)))
            ]
            grew = True
            while grew:
                grew = False
                for n in nodes.values():
                    if n.name in members or not runs(n) or n.spec.spout is not None:
                        continue
                    if any(self._plain(n, m, nodes[m].spec.output_branch) for m in members):
                        members.append(n.name)
                        grew = True
            for name in Graph(nodes[m].spec for m in members).topological():
                job = self._new_job(
                    nodes[name], global_id, set(members), nodes, origin, reprocess, fired, force
                )
                try:
                    self._store.add_job(job)
                except AlreadyExists:
                    continue  # this commit already set it off
                created.append(job)
                self._enqueue(job)
        return created

    def _new_job(
        self,
        node: Node,
        global_id: str,
        members: set[str],
        nodes: dict[str, Node],
        origin: Commit | None,
        reprocess: bool,
        fired: Fired,
        force: bool,
    ) -> PipelineJob:
        inputs = []
        gated = triggers_of(node.spec)
        for leaf in node.leaves:
            if leaf.name in gated and not force:  # at the trigger's head, or where it was
                moved = fired.get((node.name, leaf.name))
                if moved is None:
                    moved = self._gates.last(node.name, leaf.name) or self.head(leaf)
                inputs.append(InputCommit(leaf.name, leaf.repo, leaf.branch, moved))
                continue
            upstream = nodes.get(leaf.repo)
            if (
                upstream is not None
                and leaf.repo in members
                and upstream.name != node.name
                and leaf.branch == upstream.spec.output_branch
            ):
                inputs.append(InputCommit(leaf.name, leaf.repo, leaf.branch, None))
                continue  # resolved when the upstream job is done
            if origin is not None and (origin.repo, origin.branch) == (leaf.repo, leaf.branch):
                inputs.append(InputCommit(leaf.name, leaf.repo, leaf.branch, origin.id))
            else:
                inputs.append(InputCommit(leaf.name, leaf.repo, leaf.branch, self.head(leaf)))
        last = self._store.list_jobs(pipeline=node.name, limit=1)
        return PipelineJob(
            id=global_id,
            pipeline=node.name,
            version=node.pipeline.version,
            state=JobState.CREATED,
            created=self._clock(),
            inputs=tuple(inputs),
            output_repo=node.name,
            output_branch=node.spec.output_branch,
            reprocess=reprocess or node.spec.reprocess is Reprocess.EVERY_JOB,
            service=node.spec.service is not None,
            parent=last[0].id if last else None,
        )

    # pfs triggers ------------------------------------------------------------------------
    def _gated(self, node: Node, repo: str, branch: str) -> bool:
        """Whether `node` reads repo@branch through a triggered input."""
        gated = triggers_of(node.spec)
        return any(
            leaf.name in gated and (leaf.repo, leaf.branch) == (repo, branch)
            for leaf in node.leaves
        )

    def _plain(self, node: Node, repo: str, branch: str) -> bool:
        """Whether `node` reads repo@branch through an input with no trigger."""
        gated = triggers_of(node.spec)
        return any(
            leaf.name not in gated and (leaf.repo, leaf.branch) == (repo, branch)
            for leaf in node.leaves
        )

    def _starts(self, node: Node, origin: Commit | None, fired: Fired) -> bool:
        """Whether a job of `node` starts: `origin` (or, with none, any input's head) reaches
        it through an input with no trigger, or a triggered input's trigger fires (recorded
        in `fired`)."""
        gated = triggers_of(node.spec)
        if not gated:
            return True
        if origin is not None and self._plain(node, origin.repo, origin.branch):
            return True
        if origin is None and any(
            leaf.name not in gated and self.head(leaf) for leaf in node.leaves
        ):
            return True
        for leaf in node.leaves:
            trigger = gated.get(leaf.name)
            if trigger is None:
                continue
            if origin is not None and (leaf.repo, leaf.branch) != (origin.repo, origin.branch):
                continue
            moved = self._gates.fired(node.name, leaf.name, leaf.repo, leaf.branch, trigger)
            if moved is not None:
                fired[(node.name, leaf.name)] = moved
        return any(name == node.name for name, _ in fired)

    def head(self, leaf: Leaf) -> str | None:
        try:
            return self._repos.get_branch(leaf.repo, leaf.branch).head
        except NotFound:
            return None

    def heads(self, node: Node) -> dict[str, str | None]:
        """The current head of each input (by input name)."""
        return {leaf.name: self.head(leaf) for leaf in node.leaves}

    # queues and workers ------------------------------------------------------------------
    def start_spout(self, name: str) -> PipelineJob:
        """A new job for spout `name`, run once its environment is ready (a spout's job
        runs as long as the spout: its id is no commit's, each commit it makes is its own)."""
        pipeline = self._store.get_pipeline(name)
        if pipeline is None:
            raise NotFound(f"pipeline '{name}' not found")
        spec = self._spec_of(name, pipeline.version)
        job = PipelineJob(
            id=new_global_id(),
            pipeline=name,
            version=pipeline.version,
            state=JobState.CREATED,
            created=self._clock(),
            inputs=(),
            output_repo=name,
            output_branch=spec.output_branch,
            service=True,
        )
        self._store.add_job(job)
        self._enqueue(job)
        return job
