"""Notebooks across several servers sharing one database (kaon.core.cluster).

The server that starts a notebook (deploy, or its own restart's recovery) runs its JupyterLab
and holds its working folder, log and token file on its disk: it records itself in the
notebook's row (`Notebook.server`, `server_url`) and claims it (ClaimKind.NOTEBOOK, key = the
name) for as long as it runs it. Any other server sends what needs the live notebook there:
the API's get/list readiness, logs, save, kill (kaon.api.routes.notebooks) and the gateway's
`/<name>/...`, HTTP and websockets (kaon.api.notebookhop).

A notebook whose server died (its claim expired) or stopped is not taken over — its working
folder is on that server's disk — the others say so (`Elsewhere.gone`: 503, not ready); that
server recovers it when it starts again on its home, or a kill through any server ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaon.core.cluster import ClaimKind
from kaon.core.notebooks import Notebook
from kaon.services.cluster import ClusterService


@dataclass(frozen=True)
class Elsewhere:
    """Where a live notebook another server runs is."""

    name: str
    url: str  # the base URL of its server (its API and gateway)
    gone: str = ""  # "" while that server holds it; else why no server can reach it


class NotebookPlaces:
    def __init__(self, cluster: ClusterService) -> None:
        self._cluster = cluster

    @property
    def me(self) -> str:
        return self._cluster.id

    @property
    def url(self) -> str:
        return self._cluster.url

    def claim(self, name: str) -> bool:
        """Take notebook `name` for this server (False: another live server runs it)."""
        return self._cluster.claim(ClaimKind.NOTEBOOK, name)

    def release(self, name: str) -> None:
        self._cluster.release(ClaimKind.NOTEBOOK, name)

    def mine(self, notebook: Notebook) -> bool:
        """Whether this server runs it (a row from before server ids: the server that has it)."""
        return not notebook.server or notebook.server == self.me

    def kept_by(self, notebook: Notebook) -> str | None:
        """The URL of the other live server that ran `notebook`, live or not (its log and
        build log are on its disk); None: this one, or that server is not alive."""
        if self.mine(notebook):
            return None
        return next((s.url for s in self._cluster.servers() if s.id == notebook.server), None)

    def elsewhere(self, notebook: Notebook) -> Elsewhere | None:
        """Where `notebook` runs when it is live on another server (or was, gone since)."""
        if not notebook.live or self.mine(notebook):
            return None
        owner = self._cluster.owner(ClaimKind.NOTEBOOK, notebook.name)
        if owner is not None and owner.id == notebook.server:
            return Elsewhere(notebook.name, owner.url)
        where = notebook.server_url or f"id {notebook.server[:12]}"
        return Elsewhere(
            notebook.name,
            notebook.server_url,
            f"notebook {notebook.name} runs on server {where}, which is gone: its working "
            f"folder is on that server's disk (start that server again, or `kaon notebook "
            f"kill -n {notebook.name}` and deploy it again)",
        )
