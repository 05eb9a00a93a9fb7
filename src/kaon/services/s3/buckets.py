"""S3 buckets over repos: which exist (`<branch>.<repo>`, `<commit>.<repo>`, lakeFS-style
`<repo>`), creating them, and listing their objects (kaon.core.s3.listing over the trees).

The base of ObjectService (kaon.services.s3.objects), which adds reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kaon.core.address import Ref
from kaon.core.credentials import S3Credential
from kaon.core.errors import BranchNotFound, Forbidden, NotFound, ReadOnly
from kaon.core.ids import BranchName
from kaon.core.s3.buckets import Bucket, parse_bucket, split_ref
from kaon.core.s3.listing import Listing, list_keys
from kaon.core.tree import DirNode, FileNode, Tree
from kaon.ports.workspaces import WorkspaceStore
from kaon.services.files import FileService
from kaon.services.repos import RepoService

Who = S3Credential | None  # the key a request is signed with (None: anonymous)


@dataclass(frozen=True)
class Page:
    objects: list[tuple[str, FileNode, float]]  # key, node, last modified
    prefixes: list[str]
    truncated: bool
    last: str


class BucketService:
    def __init__(self, repos: RepoService, files: FileService, workspaces: WorkspaceStore) -> None:
        self._repos = repos
        self._files = files
        self._workspaces = workspaces

    # buckets -----------------------------------------------------------------------------
    def buckets(self, readable: Callable[[str | None], bool]) -> list[tuple[str, float]]:
        """Every `<branch>.<repo>` and every bare `<repo>` (lakeFS style) of a workspace
        `readable(workspace)` (None: a shared repo) allows, with creation times. Workspaces'
        internal repos (`<ws>-source`, …) are left out of the listing, as `kaon list repo`
        does without --all; they stay addressable by name."""
        internal = self._internal()
        out: list[tuple[str, float]] = []
        for repo in self._repos.list_repos():
            if repo.name in internal or not readable(internal.get(repo.name)):
                continue
            out.append((repo.name, repo.created))
            out += [(f"{b}.{repo.name}", repo.created) for b in self._meta_branches(repo.name)]
        return sorted(out)

    @staticmethod
    def _check_reserved(bucket: Bucket, who: Who) -> None:
        from kaon.services.workspaces import reserved_for

        owner = reserved_for(bucket.repo)
        narrowed = who.workspace if who is not None else None
        if narrowed is not None and owner not in (None, narrowed):
            raise Forbidden(
                f"Access Denied: bucket {bucket.name!r} is named as an internal repo of "
                f"workspace {owner!r} (existing or to come): a job's key (of workspace "
                f"{narrowed!r}) cannot create it; name the repo otherwise (not "
                "<workspace>-data, -models, ...)"
            )

    def _internal(self) -> dict[str, str]:
        """Workspaces' internal repos, each with its workspace."""
        from kaon.services.workspaces import KINDS, repo_of

        return {
            repo_of(w.name, k): w.name for w in self._workspaces.list_workspaces() for k in KINDS
        }

    def check_bucket(self, bucket: Bucket) -> None:
        """NotFound (repo, branch or commit) unless the bucket exists."""
        if bucket.by_key:
            self._repos.get_repo(bucket.repo)
        elif bucket.commit is not None:
            self._repos.resolve_required(bucket.repo, Ref(bucket.commit))
        else:
            assert bucket.branch is not None
            self._repos.get_branch(bucket.repo, bucket.branch)

    def bucket_exists(self, name: str) -> bool:
        """Whether bucket `name` (its repo, branch or commit) still exists."""
        try:
            self.check_bucket(parse_bucket(name))
        except NotFound:
            return False
        return True

    def create_bucket(self, bucket: Bucket, who: Who = None) -> bool:
        """Create the repo and branch a bucket names (lakeFS style: the repo and `master`);
        False when they all existed already. A key scoped to a workspace (a job's) creates no
        repo named as another workspace's internal one, existing or to come."""
        if bucket.commit is not None:
            raise ReadOnly(
                f"bucket {bucket.name!r} names a commit: buckets of commits are read-only"
            )
        created = False
        try:
            self._repos.get_repo(bucket.repo)
        except NotFound:
            self._check_reserved(bucket, who)
            self._repos.create_repo(bucket.repo, "created through the S3 gateway")
            created = True
        branch = bucket.branch or BranchName("master")
        try:
            self._repos.get_branch(bucket.repo, branch)
        except BranchNotFound:
            self._repos.create_branch(bucket.repo, branch, None)
            created = True
        return created

    def _meta_branches(self, repo: str) -> list[BranchName]:
        return [b.name for b in self._repos.list_branches(repo)]

    # listing ---------------------------------------------------------------------------
    def list_objects(
        self, bucket: Bucket, prefix: str, delimiter: str, after: str, limit: int
    ) -> Page:
        if bucket.by_key and "/" not in prefix:  # the top level: branches as directories
            heads = [
                (b, self._repos.resolve(bucket.repo, Ref(b)))
                for b in self._meta_branches(bucket.repo)
            ]
            live = [(b, c) for b, c in heads if c is not None and c.tree]
            root = Tree(tuple(DirNode(b, c.size, c.count, c.tree) for b, c in live if c.tree))
            times = {b + "/": c.finished for b, c in live}
            listing = list_keys(root, self._files.load_tree, prefix, delimiter, after, limit)
            return self._page(listing, "", lambda key: times.get(key.split("/")[0] + "/", 0.0))
        if bucket.by_key:
            ref = split_ref(prefix)[0]
            pre = ref + "/"
        else:
            ref, pre = bucket.commit or str(bucket.branch), ""
        commit = self._repos.resolve(bucket.repo, Ref(ref))
        rel_prefix = prefix[len(pre) :]
        if after and after[: len(pre)] != pre:
            if after > pre:  # past everything of this version
                return Page([], [], False, "")
            after = pre
        root = self._files.root(commit)
        listing = list_keys(
            root, self._files.load_tree, rel_prefix, delimiter, after[len(pre) :], limit
        )
        finished = commit.finished if commit else 0.0
        return self._page(listing, pre, lambda key: finished)

    @staticmethod
    def _page(listing: Listing, pre: str, when: Callable[[str], float]) -> Page:
        objects = [(pre + k, node, when(pre + k)) for k, node in listing.objects]
        prefixes = [pre + p for p in listing.prefixes]
        last = pre + listing.last if listing.last else ""
        return Page(objects, prefixes, listing.truncated, last)
