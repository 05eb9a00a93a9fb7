"""How S3 bucket names and keys address versions of repos (path-style only).

    <branch>.<repo>            a branch (Pachyderm's naming): read and write
    <commit>.<branch>.<repo>   that exact commit (a 32-hex id or a unique prefix): read-only
    <commit>.<repo>            the same, without naming the branch
    <repo>                     lakeFS style: keys are <branch-or-commit>/<path>

Repo and branch names have no dots, so splitting on '.' is unambiguous. A key maps to a repo
path by prefixing '/'; keys that a repo path cannot represent as given ('a//b', './a', a
trailing '/') are refused rather than silently renamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core import paths
from kaon.core.errors import InvalidInput
from kaon.core.ids import (
    COMMIT_ID_LEN,
    MIN_PREFIX,
    BranchName,
    RepoName,
    branch_name,
    is_hex,
    repo_name,
)


@dataclass(frozen=True)
class Bucket:
    name: str
    repo: RepoName
    branch: BranchName | None = None
    commit: str | None = None  # a commit id or prefix: read-only

    @property
    def by_key(self) -> bool:
        """lakeFS style: the first key component names the branch or commit."""
        return self.branch is None and self.commit is None


@dataclass(frozen=True)
class Location:
    """Where a key points: a repo version and a path in it."""

    repo: RepoName
    ref: str  # a branch name or a commit id/prefix
    path: str  # normalised repo path ('/' for the root)
    writable: bool  # a branch (not a pinned commit)
    key_prefix: str = ""  # what precedes the path in keys ('master/' in lakeFS style)


def _is_commit(text: str) -> bool:
    return is_hex(text) and MIN_PREFIX <= len(text) <= COMMIT_ID_LEN


def parse_bucket(name: str) -> Bucket:
    parts = name.split(".")
    try:
        if len(parts) == 1:
            return Bucket(name, repo_name(parts[0]))
        if len(parts) == 2:
            ref, repo = parts
            if is_hex(ref) and len(ref) == COMMIT_ID_LEN:
                return Bucket(name, repo_name(repo), commit=ref)
            return Bucket(name, repo_name(repo), branch=branch_name(ref))
        if len(parts) == 3 and _is_commit(parts[0]):
            return Bucket(name, repo_name(parts[2]), branch_name(parts[1]), parts[0])
    except InvalidInput as exc:
        raise InvalidInput(
            f"invalid bucket name {name!r}: {exc.message}", s3_code="InvalidBucketName"
        ) from None
    raise InvalidInput(
        f"invalid bucket name {name!r}: use <branch>.<repo>, <commit>.<branch>.<repo> or <repo>",
        s3_code="InvalidBucketName",
    )


def key_path(key: str) -> str:
    """The repo path of an object key; InvalidInput for keys a path cannot hold as given."""
    path = paths.normalize("/" + key)
    if path != "/" + key:
        raise InvalidInput(
            f"unsupported key {key!r}: kaon stores files at normalised paths (no empty, '.' or "
            "'..' components, no trailing '/')",
            s3_code="InvalidArgument",
        )
    return path


def split_ref(key: str) -> tuple[str, str]:
    """lakeFS style: ('master', 'data/x.csv') from 'master/data/x.csv' ('' rest if none)."""
    ref, _, rest = key.partition("/")
    return ref, rest


def locate(bucket: Bucket, key: str) -> Location:
    """The location of `key` in `bucket` (key '' is the root of the version)."""
    prefix = ""
    if bucket.by_key:
        ref, key = split_ref(key)
        if not ref:
            raise InvalidInput(
                f"keys of bucket {bucket.name!r} start with a branch or commit: "
                f"'master/path', or use the bucket 'master.{bucket.repo}'",
                s3_code="InvalidArgument",
            )
        writable = _maybe_branch(ref)  # else a commit id: read-only
        prefix = ref + "/"
    elif bucket.commit is not None:
        ref, writable = bucket.commit, False
    else:
        assert bucket.branch is not None
        ref, writable = bucket.branch, True
    path = key_path(key) if key else paths.ROOT
    return Location(bucket.repo, ref, path, writable, prefix)


def _maybe_branch(text: str) -> bool:
    try:
        branch_name(text)
    except InvalidInput:
        return False
    return True
