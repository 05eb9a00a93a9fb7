"""A job's input commits as the planner reads them: a lazy `globs.Listing` per pfs input,
over the commit's trees (each directory loaded only when a glob reaches it)."""

from __future__ import annotations

from kaon.core.address import parse_ref
from kaon.core.commit import Commit
from kaon.core.errors import InvalidInput
from kaon.core.pipelines.globs import Listing, compile_glob, files_listing, tree_listing
from kaon.core.pipelines.inputs import as_pfs, pfs_inputs
from kaon.core.pipelines.planning import ListingOf
from kaon.core.pipelines.records import InputCommit
from kaon.core.pipelines.spec import Input, PfsInput
from kaon.services.repos import RepoService
from kaon.services.trees import TreeStore


class InputListings:
    """Listings of one job's input commits, each built once."""

    def __init__(self, repos: RepoService, trees: TreeStore, inputs: tuple[InputCommit, ...]):
        self._repos = repos
        self._trees = trees
        self._inputs = {i.name: i for i in inputs}
        self._listings: dict[str, Listing | None] = {}
        self.commits: dict[str, Commit] = {}  # input name → its commit

    def listing_of(self, source: PfsInput) -> Listing | None:
        """The commit `source` reads (None: its branch has no commit yet)."""
        if source.name in self._listings:
            return self._listings[source.name]
        given = self._inputs.get(source.name)
        if given is None:
            raise InvalidInput(f"input {source.name!r} of the spec has no commit in this job")
        listing = None
        if given.commit is not None:
            commit = self._repos.resolve_required(given.repo, parse_ref(given.commit))
            self.commits[source.name] = commit
            listing = (
                tree_listing(commit.id, commit.tree, self._trees.load, commit.size)
                if commit.tree
                else files_listing(commit.id, {})
            )
        self._listings[source.name] = listing
        return listing

    @property
    def reader(self) -> ListingOf:
        return self.listing_of

    def nothing_matched(self, source: Input) -> str:
        """Why a job has no datum: each input that gave none, e.g. "glob /* matched nothing
        in images@1f2e3d4c5b6a"."""
        said: list[str] = []
        for leaf in pfs_inputs(source):
            pfs = leaf if isinstance(leaf, PfsInput) else as_pfs(leaf)
            given = self._inputs.get(pfs.name)
            if given is None or given.commit is None:
                said.append(f"{pfs.repo}@{pfs.branch} has no commit yet")
                continue
            listing = self.listing_of(pfs)
            if listing is None or not compile_glob(pfs.glob).match(listing):
                said.append(f"glob {pfs.glob} matched nothing in {pfs.repo}@{given.commit[:12]}")
        return "; ".join(said) or "the inputs combine into no datum"
