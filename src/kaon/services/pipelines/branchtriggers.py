"""Pachyderm's pfs `trigger` (kaon.core.pipelines.spec.Trigger): whether enough arrived on a
triggered input's branch since the commit the pipeline's last job took on it.

`commits`: the branch head's history is walked back at most `commits` steps looking for that
commit; `size`: the head's size minus that commit's (a branch's commits hold every file, so
this is how much data arrived). Until the first trigger, everything on the branch counts.
"""

from __future__ import annotations

from kaon.core.address import Ref
from kaon.core.errors import NotFound
from kaon.core.pipelines.inputs import pfs_inputs
from kaon.core.pipelines.spec import PfsInput, PipelineSpec, Trigger
from kaon.ports.pipelines import PipelineStore
from kaon.services.repos import RepoService

RECENT_JOBS = 16  # jobs looked at for the commit a trigger last moved the input to


def triggers_of(spec: PipelineSpec) -> dict[str, Trigger]:
    """The triggered inputs of a spec, by input name."""
    if spec.input is None:
        return {}
    return {
        leaf.name: leaf.trigger
        for leaf in pfs_inputs(spec.input)
        if isinstance(leaf, PfsInput) and leaf.trigger is not None
    }


class BranchTriggers:
    def __init__(self, store: PipelineStore, repos: RepoService) -> None:
        self._store = store
        self._repos = repos

    def last(self, pipeline: str, name: str) -> str | None:
        """The commit input `name` of `pipeline`'s newest job took (None: never)."""
        for job in self._store.list_jobs(pipeline=pipeline, limit=RECENT_JOBS):
            for given in job.inputs:
                if given.name == name and given.commit is not None:
                    return given.commit
        return None

    def fired(
        self, pipeline: str, name: str, repo: str, branch: str, trigger: Trigger
    ) -> str | None:
        """The head the input moves to when its trigger fires now, else None."""
        try:
            head = self._repos.resolve(repo, Ref(branch))
        except NotFound:
            return None
        last = self.last(pipeline, name)
        if head is None or head.id == last:
            return None
        met: list[bool] = []
        if trigger.commits:
            walked = self._repos.history(repo, Ref(head.id), trigger.commits)
            ids = [str(c.id) for c in walked]
            new = ids.index(last) if last in ids else len(ids)  # len: at least that many
            met.append(new >= trigger.commits)
        if trigger.size:
            before = 0
            if last is not None:
                try:
                    found = self._repos.resolve(repo, Ref(last))
                    before = found.size if found is not None else 0
                except NotFound:  # that commit is gone (repo recreated): count from empty
                    before = 0
            met.append(head.size - before >= trigger.size)
        return head.id if (all(met) if trigger.all else any(met)) else None
