"""Core objects made into the API's answers (kaon.wire): the one place that does it. The routes
gather what an answer needs; these functions only copy it into the wire type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kaon.core.backends import BackendHealth
from kaon.core.commit import Commit
from kaon.core.credentials import S3Credential
from kaon.core.endpoints import Endpoint, EndpointState
from kaon.core.feedback import Feedback
from kaon.core.jobs import Bundle, Job, Trial
from kaon.core.pipelines.records import (
    DatumRecord,
    JobState,
    Pipeline,
    PipelineJob,
    PipelineVersion,
)
from kaon.core.provenance import Graph
from kaon.core.releases import Release
from kaon.core.repo import Repo
from kaon.core.users import ApiToken, User
from kaon.services.files import Change as FileChange
from kaon.services.files import FileInfo as FileEntry
from kaon.services.files import Revision
from kaon.services.gc import GcReport as GcDone
from kaon.wire import (
    AuditRecord,
    BackendOut,
    BranchInfo,
    BundleInfo,
    Change,
    CommitInfo,
    DatumCountsInfo,
    DatumInfo,
    EndpointInfo,
    FeedbackInfo,
    FileInfo,
    FileRevision,
    GcReport,
    JobInfo,
    JobInputInfo,
    JobStatsInfo,
    LogDatumFile,
    MemberInfo,
    PipelineInfo,
    PipelineJobInfo,
    PipelineLogLine,
    PipelineLogPage,
    ProvenanceInfo,
    ReleaseInfo,
    ReplicaInfo,
    RepoInfo,
    S3CredentialInfo,
    StatusOut,
    TokenInfo,
    TrialInfo,
    UserInfo,
    VersionInfo,
    WorkspaceInfo,
)
from kaon.wire.base import JSON_TEXT


class _Named(Protocol):  # a workspace, as kaon.ports.jobs records it
    @property
    def name(self) -> str: ...
    @property
    def created(self) -> float: ...
    @property
    def author(self) -> str: ...
    @property
    def current(self) -> dict[str, Any]: ...


class _Branch(Protocol):
    @property
    def repo(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def head(self) -> str | None: ...


# -- data -----------------------------------------------------------------------------------


def repo_info(
    repo: Repo, size: int, branches: list[str], head: CommitInfo | None = None
) -> RepoInfo:
    return RepoInfo(
        name=repo.name,
        created=repo.created,
        description=repo.description,
        size=size,
        branches=branches,
        head=head,
    )


def branch_info(b: _Branch) -> BranchInfo:
    return BranchInfo(repo=b.repo, name=b.name, head=b.head)


def commit_info(c: Commit) -> CommitInfo:
    return CommitInfo(**c.__dict__)


def file_info(f: FileEntry) -> FileInfo:
    """`meta` only for files that have some (S3 object metadata): left out otherwise."""
    return FileInfo(**f.__dict__)


def change(c: FileChange) -> Change:
    return Change(**c.__dict__)


def revision(r: Revision) -> FileRevision:
    c = r.commit
    return FileRevision(c.id, r.kind, r.size, c.message, c.author, c.finished)


def gc_report(r: GcDone) -> GcReport:
    return GcReport(**r.__dict__)


def status_out(version: str, server: str, health: list[BackendHealth]) -> StatusOut:
    backends = [BackendOut(**h.__dict__) for h in health]
    ok = all(b.ok for b in backends)
    return StatusOut("ok" if ok else "degraded", version, server, backends)


# -- workspaces, jobs, endpoints ------------------------------------------------------------


def workspace_info(ws: _Named, role: str, repos: list[str], jobs: int) -> WorkspaceInfo:
    return WorkspaceInfo(
        role=role,
        name=ws.name,
        created=ws.created,
        author=ws.author,
        repos=repos,
        current=ws.current,
        jobs=jobs,
    )


def bundle_info(b: Bundle) -> BundleInfo:
    return BundleInfo(**b.to_dict())


def trial_info(t: Trial) -> TrialInfo:
    return TrialInfo(
        index=t.index,
        params=t.params,
        state=t.state,
        started=t.started,
        finished=t.finished,
        exit_code=t.exit_code,
        model_id=t.model_id,
        model_commit=t.model_commit,
        model_path=t.model_path,
        metrics=t.metrics,
        reason=t.reason,
    )


def process_time(trials: list[Trial] | None) -> float:
    """Seconds the trials ran, together."""
    return float(
        sum(
            (t.finished or t.started or 0) - t.started
            for t in trials or []
            if t.started is not None
        )
    )


def job_info(
    job: Job,
    trials: list[Trial] | None,
    *,
    keep: int | None = None,
    process: float | None = None,
    count: int | None = None,
    started: int | None = None,
) -> JobInfo:
    """`job` with its trials; with `keep`, only the `keep` that finished last; `process`,
    `count` and `started` (its process time, number of trials, of trials that started) when
    `trials` leaves some out."""
    r = job.resources
    every = trials or []
    if keep is not None:
        every = sorted(every, key=lambda t: (-(t.finished or 0), t.index))[:keep]
    process = process_time(trials) if process is None else process
    if started is None:
        started = sum(1 for t in trials or [] if t.started is not None)
    return JobInfo(
        id=job.id,
        workspace=job.workspace,
        state=job.state,
        created=job.created,
        started=job.started,
        finished=job.finished,
        duration=job.duration,
        author=job.author,
        source=bundle_info(job.source),
        data=bundle_info(job.data),
        hyper=job.hyper.to_dict() if job.hyper else None,
        hyperopt=job.hyperopt,
        parallelism=r.parallelism,
        timeout=r.timeout,
        memory=r.memory,
        cpu=r.cpu,
        sandbox=r.sandbox,
        reason=job.reason,
        env=job.env,
        variables=job.variables,
        process_time=process,
        trials=[trial_info(t) for t in every],
        failure=job.failure,
        trial_count=len(trials or []) if count is None else count,
        trials_started=started,
    )


def endpoint_info(
    e: Endpoint,
    restarts: int,
    base: str,
    *,
    addresses: Sequence[str] = (),
    last_error: str = "",
    server: str = "",
) -> EndpointInfo:
    """`base`: the server's host:port, which the prediction URL starts with; `addresses`:
    the ready replicas' (on `server`, '' for this one)."""
    ready = len(addresses)
    members = [ReplicaInfo(True, a, server) for a in addresses]
    wanted = 0 if e.state is EndpointState.KILLED else e.replicas
    members += [ReplicaInfo(False, "", server) for _ in range(max(0, wanted - ready))]
    return EndpointInfo(
        name=e.name,
        workspace=e.workspace,
        state=e.state,
        created=e.created,
        started=e.started,
        author=e.author,
        source=bundle_info(e.source),
        model_id=e.model_id,
        replicas=e.replicas,
        ready=ready,
        restarts=restarts,
        batch=str(e.batch) if e.batch else None,
        timeout=e.timeout,
        url=f"{base}/{e.name}/invocations",
        reason=e.reason,
        env=e.env,
        variables=e.variables,
        served_commit=e.served_commit,
        auth=e.auth,
        failure=e.failure,
        release=e.release_name,
        version=e.version_label,
        job=e.job,
        replica_list=members,
        last_error=last_error,
    )


def version_infos(release: Release, versions: list[Endpoint]) -> list[VersionInfo]:
    """`kaon serve versions`: each version with its share of the traffic now."""
    traffic = release.traffic
    return [
        VersionInfo(
            endpoint=release.name,
            version=v.version_label,
            name=v.name,
            model_id=v.model_id,
            traffic=traffic.weights.get(v.version_label, 0),
            shadow=traffic.shadow == v.version_label,
            state=v.state,
            created=v.created,
            served_commit=v.served_commit,
            reason=v.reason,
            job=v.job,
        )
        for v in versions
    ]


def release_info(release: Release, versions: list[Endpoint], base: str) -> ReleaseInfo:
    return ReleaseInfo(
        name=release.name,
        workspace=release.workspace,
        created=release.created,
        author=release.author,
        url=f"{base}/{release.name}/invocations",
        traffic=dict(release.traffic.weights),
        shadow=release.traffic.shadow,
        previous=dict(release.previous.weights) if release.previous else None,
        versions=version_infos(release, versions),
        updated=release.updated,
        pending=release.pending.move.value if release.pending else None,
        starting=list(release.pending.versions) if release.pending else [],
        candidate=release.candidate,
    )


def feedback_info(f: Feedback) -> FeedbackInfo:
    return FeedbackInfo(
        request_id=f.request_id,
        endpoint=f.endpoint,
        version=f.version,
        model_id=f.model_id,
        received=f.received,
        request=f.request,
        response=f.response,
        reward=f.reward,
        truth=f.truth,
        protocol=f.protocol,
        commit=f.commit,
    )


def provenance_info(graph: Graph, root: str, title: str, text: str | None = None) -> ProvenanceInfo:
    """`text`: the ancestry as an indented tree from `root` unless given."""
    return ProvenanceInfo(
        root=root,
        graph=graph,
        dot=graph.to_dot(title),
        text=graph.text_tree(root) if text is None else text,
    )


# -- access ---------------------------------------------------------------------------------


def token_info(t: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=t.id,
        user=t.user,
        name=t.name,
        created=t.created,
        expires=t.expires,
        workspace=t.workspace,
        job=t.job,
    )


def user_info(u: User, roles: dict[str, str]) -> UserInfo:
    """`roles`: workspace -> role, of the workspaces the caller may see."""
    return UserInfo(name=u.name, admin=u.admin, created=u.created, workspaces=roles)


def member_info(workspace: str, user: str, role: str) -> MemberInfo:
    return MemberInfo(workspace=workspace, user=user, role=role)


def s3_credential_info(c: S3Credential, endpoint: str | None, secret: bool) -> S3CredentialInfo:
    """The key's record; its secret only in the answer that creates it (`secret`)."""
    return S3CredentialInfo(
        access_key=c.access_key,
        secret=c.secret if secret else None,
        owner=c.owner,
        created=c.created,
        job=c.job,
        scope=c.scope,
        user=c.user,
        endpoint=endpoint,
    )


def audit_record(entry: object) -> AuditRecord:
    """An entry of the audit log (kaon.ports.users.AuditEntry: the same fields, `detail` as
    JSON text)."""
    fields = entry.__dict__
    return AuditRecord(**{**fields, "detail": JSON_TEXT.decode(fields["detail"])})


# -- pipelines ------------------------------------------------------------------------------

# the signs of cross, union, join and group, as pachctl prints them (escaped for ruff)
_COMBINE = {"cross": " \u2a2f ", "union": " \u222a ", "join": " \u22c8 ", "group": " \u2294 "}


def input_text(doc: Any) -> str:
    """A canonical input document as Pachyderm's `list pipeline` shows it: `repo:/glob`
    (`name=repo:/glob` when renamed), cron `name:@every 1h`, a cross `(a:/ ⨯ b:/)`
    (see _COMBINE)."""  # noqa: RUF002
    if not isinstance(doc, dict) or not doc:
        return "none"
    kind, value = next(iter(doc.items()))
    if kind == "pfs":
        name = "" if value.get("name") in (None, value["repo"]) else f"{value['name']}="
        branch = "" if value.get("branch", "master") == "master" else f"@{value['branch']}"
        return f"{name}{value['repo']}{branch}:{value.get('glob', '/')}"
    if kind == "cron":
        return f"{value['name']}:{value['spec']}"
    if kind in _COMBINE and isinstance(value, list):
        return "(" + _COMBINE[kind].join(input_text(v) for v in value) + ")"
    return str(kind)


def pipeline_info(
    p: Pipeline, v: PipelineVersion, last_job: JobState | None, service_url: str | None
) -> PipelineInfo:
    text = input_text(v.spec.get("input")) if "spout" not in v.spec else "spout"
    return PipelineInfo(
        name=p.name,
        version=p.version,
        state=p.state,
        created=p.created,
        updated=p.updated,
        description=p.description,
        reason=p.reason,
        input=text,
        inputs=list(p.inputs),
        output_branch=p.output_branch,
        spec=v.spec,
        source_repo=v.source_repo,
        source_commit=v.source_commit,
        lock_id=v.lock_id,
        python=v.python,
        salt=v.salt,
        reprocess=v.reprocess,
        author=v.author,
        warnings=list(v.warnings),
        last_job=last_job,
        service_url=service_url,
    )


def pipeline_job_info(j: PipelineJob) -> PipelineJobInfo:
    c, st = j.counts, j.stats
    return PipelineJobInfo(
        id=j.id,
        pipeline=j.pipeline,
        version=j.version,
        state=j.state,
        created=j.created,
        started=j.started,
        finished=j.finished,
        duration=j.duration,
        reason=j.reason,
        inputs=[JobInputInfo(i.name, i.repo, i.branch, i.commit) for i in j.inputs],
        output_repo=j.output_repo,
        output_branch=j.output_branch,
        output_commit=j.output_commit,
        counts=DatumCountsInfo(c.total, c.processed, c.skipped, c.failed, c.recovered),
        progress=c.progress,
        restarts=j.restarts,
        stats=JobStatsInfo(
            st.download_bytes,
            st.upload_bytes,
            st.download_seconds,
            st.process_seconds,
            st.upload_seconds,
        ),
        pfs_mode=j.pfs_mode,
        reprocess=j.reprocess,
        service=j.service,
        parent=j.parent,
    )


def datum_info(d: DatumRecord) -> DatumInfo:
    return DatumInfo(**{**d.__dict__, "files": [dict(f) for f in d.files]})


def _epoch(ts: Any) -> float:
    if isinstance(ts, int | float):
        return float(ts)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def log_page(lines: list[dict[str, Any]], offset: int, done: bool) -> PipelineLogPage:
    """A page of a pipeline's JSON-lines log (kaon.services.pipelines.logs)."""
    return PipelineLogPage(
        lines=[
            PipelineLogLine(
                ts=_epoch(line.get("ts", 0)),
                pipeline=str(line.get("pipeline", "")),
                job=str(line.get("job", "")),
                datum=str(line.get("datum") or ""),
                data=[
                    LogDatumFile(str(f.get("path", "")), str(f.get("hash", "")))
                    for f in line.get("data") or []
                ],
                message=str(line.get("message", "")),
                user=bool(line.get("user", False)),
            )
            for line in lines
        ],
        offset=offset,
        done=done,
    )
