"""RestApi: one method per API call, kaon errors re-raised from the server's error codes.

`kaon.client.Client` adds what composes several calls (put, get, train, serve, wait, logs);
modules that compose calls themselves (upload, download) take a RestApi."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Self

from kaon.client import local
from kaon.client.connect import resolve_target
from kaon.client.models import (
    AuditRecord,
    BranchInfo,
    BundleInfo,
    Change,
    CommitInfo,
    EndpointInfo,
    FileInfo,
    GcReport,
    JobInfo,
    LogOut,
    ProvenanceInfo,
    RepoInfo,
    S3CredentialInfo,
    StatusOut,
    TrialsPage,
    WorkspaceInfo,
    from_json,
)
from kaon.client.reads import ReadsApi
from kaon.client.transfer import TransferApi
from kaon.client.transport import Transport
from kaon.client.users import UsersApi
from kaon.core.errors import BackendUnavailable, Busy

BUSY_WAIT = 300.0  # seconds a request answered "busy, retry after" is retried for at most


class RestApi(UsersApi, TransferApi, ReadsApi):
    """The HTTP API, one method per call; acts as the user whose token it sends (`from_env`:
    KAON_TOKEN, else `kaon init --token`, else the local platform's token)."""

    def __init__(self, endpoint: str, token: str | None = None) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._token = token
        self._transport = Transport(self._endpoint, token) if self._endpoint else None
        self._lock = threading.Lock()
        self._autostart = False  # from_env without a running local platform: started when
        # the first request is sent, so local inputs are checked first (`put`, `train`)

    @property
    def endpoint(self) -> str:
        """The server's URL (the local platform is started now if it has to be)."""
        with self._lock:
            if self._autostart:
                self._endpoint, _ = local.start()
                self._token = self._token or resolve_target().token
                self._autostart = False
            return self._endpoint

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            endpoint = self.endpoint
            with self._lock:
                if self._transport is None:
                    self._transport = Transport(endpoint, self._token)
        return self._transport

    @classmethod
    def from_env(cls, *, autostart: bool = True) -> Self:
        """The server of `kaon init` (or KAON_ENDPOINT), else the local platform (started
        by the first request if it is not running); the token: KAON_TOKEN, else the one of `kaon init`, else the local
        platform's ($KAON_HOME/token)."""
        target = resolve_target()
        if target.endpoint is not None:
            return cls(target.endpoint, target.token)
        if not autostart:
            raise BackendUnavailable(
                "the local kaon platform is not running: start it with `kaon up`"
            )
        client = cls("", target.token)
        client._autostart = True
        return client

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; a 503 Busy answer is waited out (its Retry-After) and sent again."""
        give_up = time.monotonic() + BUSY_WAIT
        while True:
            try:
                return self.transport.call(method, path, **kwargs)
            except Busy as exc:
                wait = exc.details.get("retry_after")
                wait = float(wait) if isinstance(wait, int | float) else 1.0
                if time.monotonic() + wait > give_up:
                    raise
                time.sleep(wait)

    # platform ----------------------------------------------------------------------------
    def health(self) -> dict[str, str]:
        doc: dict[str, str] = self._json("GET", "/v1/health")
        return doc

    def status(self) -> StatusOut:
        """The server that answers and each engine behind it (database, object store,
        executor, replicas): whether it answers now, its version, its URL without secrets."""
        return from_json(StatusOut, self._json("GET", "/v1/status"))

    def gc(self) -> GcReport:
        return from_json(GcReport, self._json("POST", "/v1/gc"))

    # repos and branches ------------------------------------------------------------------
    def create_repo(self, name: str, description: str = "") -> RepoInfo:
        doc = self._json("POST", "/v1/repos", json_body={"name": name, "description": description})
        return from_json(RepoInfo, doc)

    def list_repos(self) -> list[RepoInfo]:
        return [from_json(RepoInfo, d) for d in self._json("GET", "/v1/repos")]

    def get_repo(self, name: str) -> RepoInfo:
        return from_json(RepoInfo, self._json("GET", f"/v1/repos/{name}"))

    def delete_repo(self, name: str) -> None:
        self._json("DELETE", f"/v1/repos/{name}")

    def list_branches(self, repo: str) -> list[BranchInfo]:
        return [from_json(BranchInfo, d) for d in self._json("GET", f"/v1/repos/{repo}/branches")]

    def create_branch(self, repo: str, branch: str, head: str | None = None) -> BranchInfo:
        doc = self._json("PUT", f"/v1/repos/{repo}/branches/{branch}", json_body={"head": head})
        return from_json(BranchInfo, doc)

    def delete_branch(self, repo: str, branch: str) -> None:
        self._json("DELETE", f"/v1/repos/{repo}/branches/{branch}")

    # commits -----------------------------------------------------------------------------
    def list_commits(
        self, repo: str, ref: str = "master", limit: int | None = None
    ) -> list[CommitInfo]:
        params: dict[str, Any] = {"ref": ref}
        if limit is not None:
            params["limit"] = limit
        docs = self._json("GET", f"/v1/repos/{repo}/commits", params=params)
        return [from_json(CommitInfo, d) for d in docs]

    def inspect_commit(self, repo: str, ref: str) -> CommitInfo:
        return from_json(CommitInfo, self._json("GET", f"/v1/repos/{repo}/commits/{ref}"))

    def commit(
        self,
        repo: str,
        branch: str,
        puts: list[dict[str, Any]],
        deletes: list[str] | None = None,
        *,
        message: str = "",
        started: float | None = None,
        base: str | None = None,
        staged: str | None = None,
    ) -> CommitInfo:
        """Low level: record puts ({path, size, chunks}) and deletes as one commit; with
        `base`, only what changed since that commit (BaseMoved if the branch moved); with
        `staged`, the puts of that staging too (NotFound once it is gone)."""
        body = {
            "branch": branch,
            "message": message,
            "puts": puts,
            "deletes": deletes or [],
            "started": started,
            "base": base,
            "staged": staged,
        }
        return from_json(
            CommitInfo, self._json("POST", f"/v1/repos/{repo}/commits", json_body=body)
        )

    # files -------------------------------------------------------------------------------
    def list_files(
        self,
        repo: str,
        ref: str = "master",
        path: str = "/",
        history: int = 0,
        limit: int | None = None,
        after: str = "",
    ) -> list[FileInfo]:
        """A folder's entries sorted by name; a page with `limit` (at most that many) and
        `after` (the path the previous page ended with)."""
        params: dict[str, Any] = {"ref": ref, "path": path, "history": history}
        if limit is not None:
            params["limit"] = limit
        if after:
            params["after"] = after
        return [
            from_json(FileInfo, d)
            for d in self._json("GET", f"/v1/repos/{repo}/files", params=params)
        ]

    def stat(self, repo: str, ref: str, path: str) -> FileInfo:
        params = {"ref": ref, "path": path}
        return from_json(FileInfo, self._json("GET", f"/v1/repos/{repo}/stat", params=params))

    def diff(
        self,
        repo: str,
        new: str,
        old: str | None = None,
        path: str = "/",
        limit: int | None = None,
    ) -> list[Change]:
        """Files changed from `old` (default: new's parent) to `new`, in path order; with
        `limit`, only the first ones (a page showing a huge diff)."""
        params: dict[str, Any] = {"new": new, "path": path} | ({"old": old} if old else {})
        if limit is not None:
            params["limit"] = limit
        return [
            from_json(Change, d) for d in self._json("GET", f"/v1/repos/{repo}/diff", params=params)
        ]

    def delete_file(self, repo: str, branch: str, path: str, message: str = "") -> CommitInfo:
        return self.commit(repo, branch, [], [path], message=message)

    # workspaces and training ---------------------------------------------------------------
    def create_workspace(self, name: str) -> WorkspaceInfo:
        """Create a workspace; the caller becomes its owner."""
        doc = self._json("POST", "/v1/workspaces", json_body={"name": name})
        return from_json(WorkspaceInfo, doc)

    def list_workspaces(self) -> list[WorkspaceInfo]:
        return [from_json(WorkspaceInfo, d) for d in self._json("GET", "/v1/workspaces")]

    def get_workspace(self, name: str) -> WorkspaceInfo:
        return from_json(WorkspaceInfo, self._json("GET", f"/v1/workspaces/{name}"))

    def kill_workspace(self, name: str) -> None:
        self._json("DELETE", f"/v1/workspaces/{name}")

    def set_bundle(self, workspace: str, kind: str, branch: str, ref: str = "") -> BundleInfo:
        """Check the folder put to a bundle branch and get its name (`/mnist:e23a2`)."""
        body = {"kind": kind, "branch": branch, "ref": ref}
        doc = self._json("POST", f"/v1/workspaces/{workspace}/bundles", json_body=body)
        return from_json(BundleInfo, doc)

    def _train(self, workspace: str, body: dict[str, Any]) -> JobInfo:
        """Submit a training job (TrainIn of the API); `Client.train` builds the body."""
        doc = self._json("POST", f"/v1/workspaces/{workspace}/train", json_body=body)
        return JobInfo.from_doc(doc)

    def list_jobs(
        self, workspace: str, limit: int | None = None, trials: int | None = None
    ) -> list[JobInfo]:
        """The jobs of `workspace`; `limit`: the newest that many, newest first; `trials`: at
        most that many trials each, those that finished last (`trial_count` has them all)."""
        params = {k: v for k, v in (("limit", limit), ("trials", trials)) if v is not None}
        docs = self._json("GET", f"/v1/workspaces/{workspace}/jobs", params=params)
        return [JobInfo.from_doc(d) for d in docs]

    def get_job(self, job: str) -> JobInfo:
        return JobInfo.from_doc(self._json("GET", f"/v1/jobs/{job}"))

    def kill_job(self, job: str) -> JobInfo:
        return JobInfo.from_doc(self._json("DELETE", f"/v1/jobs/{job}"))

    def job_logs(
        self, job: str, kind: str = "train", offset: int = 0, tail: int | None = None
    ) -> tuple[str, int, bool]:
        """(text, next offset, finished): poll with the offset to follow a running job;
        `tail`: the last that many lines only (then follow from the offset returned)."""
        piece = self.job_log(job, kind, offset=offset, tail=tail)
        return piece.text, piece.offset, piece.finished

    def job_log(
        self, job: str, kind: str = "train", *, offset: int = 0, tail: int | None = None
    ) -> LogOut:
        """`job_logs` with where the text starts (`start` > 0: a tail left earlier lines)."""
        return self._log(f"/v1/jobs/{job}/logs", kind, offset, tail)

    def _log(self, path: str, kind: str, offset: int, tail: int | None) -> LogOut:
        """A piece of a job's or an endpoint's log: from `offset`, or its last `tail` lines."""
        params: dict[str, Any] = {"kind": kind, "offset": offset}
        if tail is not None:
            params["tail"] = tail
        return from_json(LogOut, self._json("GET", path, params=params))

    def get_model(self, workspace: str, model_id: str) -> JobInfo:
        """The job of `workspace` that produced `model_id`, with that model's trial only."""
        return JobInfo.from_doc(self._json("GET", f"/v1/workspaces/{workspace}/models/{model_id}"))

    def job_summary(self, job: str) -> JobInfo:
        """A job without its trials (`trials` is empty: `job_trials` pages them)."""
        return JobInfo.from_doc(self._json("GET", f"/v1/jobs/{job}", params={"trials": "false"}))

    def job_trials(
        self,
        job: str,
        *,
        sort: str = "index",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        metric: str | None = None,
        points: bool = False,
    ) -> TrialsPage:
        """`limit` trials of a job from `offset`, sorted by `sort` (index, state, started,
        duration, param:<name>, metric:<name>), the best by the search's objective (or
        `metric`) and, with `points`, every trial's [index, metric, model id, *params]."""
        params: dict[str, Any] = {"sort": sort, "order": "desc" if descending else "asc"}
        params |= {"offset": offset, "limit": limit, "points": str(points).lower()}
        if metric:
            params["metric"] = metric
        return TrialsPage.from_doc(self._json("GET", f"/v1/jobs/{job}/trials", params=params))

    # endpoints ---------------------------------------------------------------------------
    def _serve(self, workspace: str, body: dict[str, Any]) -> EndpointInfo:
        """Deploy an endpoint (ServeIn of the API); `Client.serve` builds the body."""
        doc = self._json("POST", f"/v1/workspaces/{workspace}/serve", json_body=body)
        return EndpointInfo.from_doc(doc)

    def list_endpoints(self, workspace: str) -> list[EndpointInfo]:
        docs = self._json("GET", f"/v1/workspaces/{workspace}/endpoints")
        return [EndpointInfo.from_doc(d) for d in docs]

    def get_endpoint(self, name: str) -> EndpointInfo:
        return EndpointInfo.from_doc(self._json("GET", f"/v1/endpoints/{name}"))

    def kill_endpoint(self, name: str) -> EndpointInfo:
        return EndpointInfo.from_doc(self._json("DELETE", f"/v1/endpoints/{name}"))

    def endpoint_logs(
        self, name: str, kind: str = "serve", offset: int = 0, tail: int | None = None
    ) -> tuple[str, int, bool]:
        """(text, next offset, finished), as `job_logs`: its replicas' (or build) log."""
        piece = self.endpoint_log(name, kind, offset=offset, tail=tail)
        return piece.text, piece.offset, piece.finished

    def endpoint_log(
        self, name: str, kind: str = "serve", *, offset: int = 0, tail: int | None = None
    ) -> LogOut:
        """`endpoint_logs` with where the text starts (`start` > 0: a tail left lines out)."""
        return self._log(f"/v1/endpoints/{name}/logs", kind, offset, tail)

    def predict(
        self, name: str, body: bytes, content_type: str = "application/octet-stream"
    ) -> tuple[int, dict[str, str], bytes]:
        """POST to /<endpoint>/invocations: (status, headers, body)."""
        return self.transport.raw("POST", f"/{name}/invocations", body, content_type)

    # provenance and reproduction ---------------------------------------------------------
    def provenance(self, workspace: str, model_id: str) -> ProvenanceInfo:
        """The recorded provenance of a model of `workspace`: data, code, params,
        environment, job."""
        doc = self._json("GET", f"/v1/workspaces/{workspace}/models/{model_id}/provenance")
        return ProvenanceInfo.from_doc(doc)

    def endpoint_provenance(self, name: str) -> ProvenanceInfo:
        """An endpoint's provenance: the model's, plus the serve code and environment."""
        return ProvenanceInfo.from_doc(self._json("GET", f"/v1/endpoints/{name}/provenance"))

    def subvenance(self, commit: str) -> ProvenanceInfo:
        """Every job, model and endpoint downstream of a data (or code) commit."""
        doc = self._json("GET", "/v1/subvenance", params={"commit": commit})
        return ProvenanceInfo.from_doc(doc)

    def reproduce(self, job: str) -> JobInfo:
        """Run a job again from its recorded inputs (code, data, params, environment lock),
        as the caller."""
        doc = self._json("POST", f"/v1/jobs/{job}/reproduce", json_body={})
        return JobInfo.from_doc(doc)

    def job_outputs(self, job: str, trials: Sequence[int] | None = None) -> dict[str, Any]:
        """Per trial: its model id and output files (path -> content hash); `trials`: only
        those (by index, at least one)."""
        params = {"trial": list(trials)} if trials else None
        doc: dict[str, Any] = self._json("GET", f"/v1/jobs/{job}/outputs", params=params)
        return doc

    # S3 gateway --------------------------------------------------------------------------
    def create_s3_credentials(self) -> S3CredentialInfo:
        """A new access key pair of the caller's for the S3 gateway (the secret is only
        returned here)."""
        doc = self._json("POST", "/v1/s3/credentials", json_body={})
        return from_json(S3CredentialInfo, doc)

    def list_s3_credentials(self) -> list[S3CredentialInfo]:
        return [from_json(S3CredentialInfo, d) for d in self._json("GET", "/v1/s3/credentials")]

    def revoke_s3_credentials(self, access_key: str) -> None:
        self._json("DELETE", f"/v1/s3/credentials/{access_key}")

    # audit -------------------------------------------------------------------------------
    def audit(
        self,
        *,
        user: str | None = None,
        workspace: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Writes and permission changes, newest first (an admin sees all; another user those
        of the workspaces they own and their own). `action` matches a part of the action;
        `since`/`until` are Unix seconds."""
        params: dict[str, Any] = {"limit": limit}
        for name, value in (
            ("user", user),
            ("workspace", workspace),
            ("action", action),
            ("since", since),
            ("until", until),
        ):
            if value is not None:
                params[name] = value
        return [AuditRecord.from_doc(d) for d in self._json("GET", "/v1/audit", params=params)]
