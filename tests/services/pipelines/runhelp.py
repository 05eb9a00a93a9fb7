"""A job runner over a real platform's stores and a real local executor, for the runner's
tests: pipelines made from spec documents, jobs on the heads of their input branches."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kaon.core.pipelines.parse import parse_spec
from kaon.core.pipelines.planning import salt
from kaon.core.pipelines.records import (
    DatumRecord,
    InputCommit,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineState,
    PipelineVersion,
    new_global_id,
)
from kaon.core.pipelines.specdoc import spec_doc
from kaon.exec.local import LocalExecutor
from kaon.exec.uv import UvEnvBuilder
from kaon.services.content import StoreContent
from kaon.services.pipelines.jobrunner import PipelineJobRunner
from kaon.services.pipelines.logs import PipelineLogs
from kaon.services.trees import TreeStore
from kaon.wiring import Backends, Platform


class Rig:
    def __init__(self, platform: Platform, backends: Backends, root: Path, gpus: int = 0) -> None:
        self.platform = platform
        self.store = backends.pipelines
        self.executor = LocalExecutor(
            StoreContent(platform.repos, platform.files),
            root / "jobs",
            UvEnvBuilder(root / "envs"),
            hidden=(),
        )
        self.trees = TreeStore(backends.objects)
        self.logs = PipelineLogs(root / "logs")
        self.runner = PipelineJobRunner(
            self.store,
            self.executor,
            platform.repos,
            platform.commits,
            self.trees,
            platform.chunks,
            self.logs,
            slots=2,
            gpus=lambda: gpus,
        )

    def pipeline(self, doc: Mapping[str, Any], nonce: str = "") -> PipelineVersion:
        spec, _ = parse_spec(doc, "test")
        canon = spec_doc(spec)
        version = PipelineVersion(
            spec.name, 1, canon, None, None, "", "", "", salt(canon, "", "", nonce), 1.0
        )
        if self.store.get_pipeline(spec.name) is None:
            self.platform.repos.create_repo(spec.name)
            self.store.add_pipeline(
                Pipeline(spec.name, 1, PipelineState.RUNNING, 1.0, 1.0), version
            )
        return version

    def job(self, version: PipelineVersion, **changes: Any) -> PipelineJob:
        spec, _ = parse_spec(version.spec, "test")
        inputs = []
        for name, repo in sorted(_pfs(version.spec["input"])):
            branch = self.platform.repos.get_branch(repo, "master")
            inputs.append(InputCommit(name, repo, "master", branch.head))
        job = PipelineJob(
            new_global_id(),
            spec.name,
            version.version,
            JobState.CREATED,
            1.0,
            tuple(inputs),
            spec.name,
            spec.output_branch,
            **changes,
        )
        self.store.add_job(job)
        return job

    def run(self, version: PipelineVersion, **changes: Any) -> PipelineJob:
        return self.runner.run(self.job(version, **changes), version, threading.Event())

    def datums(self, job: PipelineJob) -> list[DatumRecord]:
        return self.store.list_datums(job.pipeline, job.id)

    def files(self, repo: str, commit: str) -> dict[str, bytes]:
        from kaon.core.address import parse_ref

        c = self.platform.repos.resolve_required(repo, parse_ref(commit))
        return {
            path: b"".join(self.platform.files.content(node))
            for path, node in self.platform.files.walk(c, "/")
        }


def _pfs(doc: Any) -> list[tuple[str, str]]:
    if isinstance(doc, dict):
        if "pfs" in doc:
            pfs = doc["pfs"]
            return [(pfs.get("name", pfs["repo"]), pfs["repo"])]
        return [p for value in doc.values() for p in _pfs(value)]
    if isinstance(doc, list):
        return [p for item in doc for p in _pfs(item)]
    return []
