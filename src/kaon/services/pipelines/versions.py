"""Creating and updating pipelines: every spec of a request checked before anything changes
(names, input repos, cycles, repo clashes), then each one's environment locked, its version
salted and recorded, its output repo made. Preparing the environment (a build that may take
minutes) is left to the caller, in the background: the pipeline is STARTING until it is ready.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kaon.core import bundlelayout
from kaon.core.address import Ref
from kaon.core.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    PipelineNotFound,
)
from kaon.core.pipelines.graph import check_acyclic, leaves
from kaon.core.pipelines.inputs import as_pfs, pfs_inputs
from kaon.core.pipelines.parse import parse_spec, spec_doc
from kaon.core.pipelines.planning import salt
from kaon.core.pipelines.records import Pipeline, PipelineState, PipelineVersion
from kaon.core.pipelines.spec import CronInput, PipelineSpec
from kaon.ports.envbuilder import EnvBuilder, EnvLock
from kaon.ports.pipelines import PipelineStore
from kaon.services.files import FileService
from kaon.services.repos import RepoService

SOURCE_REPO = "kaon-pipelines"  # where clients upload transform.source (branch = pipeline)
REQUIREMENTS = "/requirements.txt"


@dataclass(frozen=True)
class SpecRequest:
    spec: dict[str, Any]  # one document as the user wrote it (after YAML/JSON parsing)
    source_repo: str | None = None  # where the client uploaded transform.source
    source_commit: str | None = None


def output_description(name: str) -> str:
    """The description that marks a repo as pipeline `name`'s own output repo."""
    return f"output of pipeline {name}"


@dataclass(frozen=True)
class Planned:
    """One spec checked, its environment locked: what `record` stores."""

    spec: PipelineSpec
    doc: dict[str, Any]
    version: PipelineVersion
    previous: Pipeline | None  # the pipeline it updates


class Versions:
    def __init__(
        self,
        store: PipelineStore,
        repos: RepoService,
        files: FileService,
        envs: EnvBuilder,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._repos = repos
        self._files = files
        self._envs = envs
        self._clock = clock
        self._specs: dict[tuple[str, int, float], PipelineSpec] = {}

    # checking ----------------------------------------------------------------------------
    def plan(
        self,
        requests: Sequence[SpecRequest],
        author: str,
        *,
        update: bool,
        reprocess: bool,
        readable: Callable[[str], None] | None = None,
    ) -> list[Planned]:
        """Check every request (raising on the first problem, nothing changed) and lock each
        one's environment; what `record` then stores, all at once. `readable(repo)` raises
        when the author may not read input repo `repo` (a workspace's: kaon.api)."""
        if not requests:
            raise InvalidInput("no pipeline spec given: a spec file holds one or more documents")
        parsed = [
            parse_spec(r.spec, f"spec {i}" if len(requests) > 1 else "spec")
            for i, r in enumerate(requests, 1)
        ]
        specs = [spec for spec, _ in parsed]
        self._check_names(specs, update)
        self._check_inputs(specs, readable)
        self._check_graph(specs)
        return [
            self._planned(spec, said, request, author, update=update, reprocess=reprocess)
            for (spec, said), request in zip(parsed, requests, strict=True)
        ]

    def _check_names(self, specs: Sequence[PipelineSpec], update: bool) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                raise InvalidInput(
                    f"two specs are named '{spec.name}': a pipeline name is given once per "
                    "request (rename one, or put them in separate files)"
                )
            seen.add(spec.name)
            exists = self._store.get_pipeline(spec.name) is not None
            if exists and not update:
                raise AlreadyExists(
                    f"pipeline '{spec.name}' already exists: use `kaon update pipeline` to "
                    "change it"
                )
            if not exists and update:
                raise PipelineNotFound(
                    f"pipeline '{spec.name}' not found: create it with `kaon create pipeline` "
                    "(see `kaon list pipeline`)"
                )
            if not exists:
                self._check_repo_free(spec.name)

    def _check_repo_free(self, name: str) -> None:
        try:
            repo = self._repos.get_repo(name)
        except NotFound:
            return
        if repo.description != output_description(name):  # not kept from a former pipeline
            raise AlreadyExists(
                f"repo '{name}' exists: pick another pipeline name or delete the repo "
                f"(`kaon repo delete {name}`)"
            )

    def _check_inputs(
        self, specs: Sequence[PipelineSpec], readable: Callable[[str], None] | None = None
    ) -> None:
        made = {s.name for s in specs}
        for spec in specs:
            for leaf in pfs_inputs(spec.input) if spec.input is not None else []:
                if isinstance(leaf, CronInput) or leaf.repo in made:
                    continue
                try:
                    self._repos.get_repo(leaf.repo)
                except NotFound:
                    raise InvalidInput(
                        f"pipeline '{spec.name}': input repo '{leaf.repo}' does not exist: "
                        f"create it (`kaon repo create {leaf.repo}`) or the pipeline that "
                        "outputs it first (or in the same spec file)"
                    ) from None
                if readable is not None:
                    readable(leaf.repo)

    def _check_graph(self, specs: Sequence[PipelineSpec]) -> None:
        """The pipelines as they would be must be acyclic (InvalidInput naming the cycle)."""
        new = {s.name: s for s in specs}
        every = {p.name: self.spec_of(p.name) for p in self._store.list_pipelines()} | new
        check_acyclic(every.values())

    def spec_of(self, name: str, version: int | None = None) -> PipelineSpec:
        """The spec of a version of the pipeline (the current one by default), parsed once."""
        pipeline = self._store.get_pipeline(name)
        if pipeline is None:
            raise PipelineNotFound(f"pipeline '{name}' not found (see `kaon list pipeline`)")
        key = (name, version or pipeline.version, pipeline.created)
        spec = self._specs.get(key)
        if spec is None:
            found = self._store.get_version(name, key[1])
            if found is None:
                raise PipelineNotFound(f"pipeline '{name}' has no version {version}")
            spec = self._specs[key] = parse_spec(found.spec, f"pipeline {name}")[0]
        return spec

    # environment and version -------------------------------------------------------------
    def _planned(
        self,
        spec: PipelineSpec,
        said: list[str],
        request: SpecRequest,
        author: str,
        *,
        update: bool,
        reprocess: bool,
    ) -> Planned:
        previous = self._store.get_pipeline(spec.name) if update else None
        old = self._store.get_version(spec.name, previous.version) if previous else None
        doc = spec_doc(spec)
        repo, commit, tree = self._source(spec, request)
        lock = self._lock(repo, commit, bundlelayout.runs_papermill(spec.transform.cmd))
        number = previous.version + 1 if previous else 1
        salted = salt(doc, tree, lock.id if lock else "")
        if old is not None and not reprocess:
            salted = old.salt  # --no-reprocess: datums of the older version are kept
        version = PipelineVersion(
            pipeline=spec.name,
            version=number,
            spec=doc,
            source_repo=repo,
            source_commit=commit,
            lock_id=lock.id if lock else "",
            lock=lock.text if lock else "",
            python=lock.python if lock else "",
            salt=salted,
            created=self._clock(),
            author=author,
            reprocess=reprocess or old is None,
            warnings=tuple(said),
        )
        return Planned(spec, doc, version, previous)

    def _source(
        self, spec: PipelineSpec, request: SpecRequest
    ) -> tuple[str | None, str | None, str]:
        """(repo, commit, tree digest) of the source bundle, or (None, None, "")."""
        if request.source_commit is None:
            if spec.transform.source:
                raise InvalidInput(
                    f"pipeline '{spec.name}': transform.source is set but no source bundle "
                    "was sent: `kaon create pipeline -f <file>` uploads the folder"
                )
            return None, None, ""
        repo = request.source_repo or SOURCE_REPO
        found = self._repos.resolve_required(repo, Ref(request.source_commit))
        return repo, found.id, found.tree or ""

    def _lock(self, repo: str | None, commit: str | None, notebook: bool) -> EnvLock | None:
        """The locked requirements.txt of the source bundle (with papermill and ipykernel
        when `notebook`: the transform runs papermill); None: the platform's Python."""
        if repo is None or commit is None:
            return None
        try:
            _, node = self._files.file(repo, Ref(commit), REQUIREMENTS)
            text = b"".join(self._files.content(node)).decode(errors="replace")
        except NotFound:
            if not notebook:
                return None
            text = ""
        if notebook:
            text = bundlelayout.with_notebook_tools(text)
        return self._envs.lock(text, lambda line: None, threading.Event())

    # recording ---------------------------------------------------------------------------
    def record(self, planned: Sequence[Planned]) -> list[Pipeline]:
        """Store the planned versions, make their repos; the pipelines as stored."""
        out = []
        for p in planned:
            self._repos_for(p.spec)
            out.append(self._store_one(p))
        return out

    def _repos_for(self, spec: PipelineSpec) -> None:
        if not self._exists(spec.name):
            self._repos.create_repo(spec.name, output_description(spec.name))
        self._branch(spec.name, spec.output_branch)
        for leaf in pfs_inputs(spec.input) if spec.input is not None else []:
            if isinstance(leaf, CronInput):
                ticks = as_pfs(leaf)
                if not self._exists(ticks.repo):
                    self._repos.create_repo(ticks.repo, f"ticks of pipeline {spec.name}")
                self._branch(ticks.repo, ticks.branch)

    def _exists(self, repo: str) -> bool:
        try:
            self._repos.get_repo(repo)
        except NotFound:
            return False
        return True

    def _branch(self, repo: str, branch: str) -> None:
        if not any(b.name == branch for b in self._repos.list_branches(repo)):
            self._repos.create_branch(repo, branch, None)

    def _store_one(self, p: Planned) -> Pipeline:
        now = self._clock()
        inputs = tuple(dict.fromkeys(leaf.repo for leaf in leaves(p.spec)))
        state = PipelineState.STARTING if p.version.lock_id else PipelineState.RUNNING
        if p.previous is None:
            pipeline = Pipeline(
                name=p.spec.name,
                version=1,
                state=state,
                created=now,
                updated=now,
                description=p.spec.description,
                inputs=inputs,
                output_branch=p.spec.output_branch,
            )
            self._store.add_pipeline(pipeline, p.version)
            return pipeline
        if p.previous.state is PipelineState.PAUSED:
            state = PipelineState.PAUSED  # an update does not restart a stopped pipeline
        pipeline = replace(
            p.previous,
            version=p.version.version,
            state=state,
            reason="",
            updated=now,
            description=p.spec.description,
            inputs=inputs,
            output_branch=p.spec.output_branch,
        )
        self._store.update_pipeline(pipeline, p.version)
        return pipeline
