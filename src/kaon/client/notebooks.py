"""The SDK's calls about notebooks (docs/notebooks.md), mixed into `Client`: a JupyterLab on a
notebook bundle (the built-in template when none is given), in the environment of its
requirements.txt plus JupyterLab, at `<host>/<name>/lab` with a token shown once.

    done = client.deploy_notebook("demo")                  # the built-in template
    done.token, done.notebook.url                           # open <url>?token=<token>
    client.wait_notebook("demo", done.notebook.name)        # until JupyterLab answers
    client.save_notebook("demo", done.notebook.name, "first analysis")
    client.notebook_provenance("demo", done.notebook.name)  # what it read, what it saved
    client.kill_notebook("demo", done.notebook.name)        # last state kept in <name>-last
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kaon.client.models import BundleInfo, ProvenanceInfo
from kaon.client.reporter import QUIET, Reporter
from kaon.client.rest import RestApi
from kaon.core.errors import InvalidInput, KaonError
from kaon.core.notebooks import NotebookState, notebook_name
from kaon.core.units import parse_memory
from kaon.wire.notebooks import NotebookDeployed, NotebookInfo, NotebookKilled, NotebookSaved

Bundle = str | os.PathLike[str] | BundleInfo
WAIT = 600.0  # seconds `wait_notebook` waits at most by default
FOLLOW_POLL = 1.0


def template() -> Path:
    """The built-in notebook bundle (kaon/templates/_notebook: the underscore says it is no
    workspace template)."""
    return Path(str(resources.files("kaon") / "templates" / "_notebook"))


def _q(name: str) -> str:
    return quote(name, safe="")


class NotebooksApi(RestApi):
    def deploy_notebook(
        self,
        workspace: str,
        source: Bundle | None = None,
        data: Bundle | None = None,
        *,
        name: str | None = None,
        cpu: float | None = None,
        memory: str | None = None,
        reporter: Reporter = QUIET,
    ) -> NotebookDeployed:
        """Start a notebook on `source` (a folder with a requirements.txt and notebooks; the
        built-in template when None), with the data bundle `data` (a folder, uploaded; else
        the workspace's latest) read-only inside. The answer's token is shown only here."""
        if name is not None:
            notebook_name(name)
        if memory is not None:
            parse_memory(memory)
        if cpu is not None and cpu <= 0:
            raise InvalidInput(f"--cpu must be more than 0, not {cpu}")
        folder = template() if source is None else source
        if not isinstance(folder, BundleInfo) and not Path(folder).is_dir():
            raise InvalidInput(f"notebook bundle {folder}: no such folder")
        if data is not None and not isinstance(data, BundleInfo):
            from kaon.client import bundles  # uploads need blake3: imported when used

            bundles.check_data(Path(data))
        self.get_workspace(workspace).require_write()
        body: dict[str, Any] = {"source": self._put_notebook(workspace, folder, reporter)}
        if isinstance(data, BundleInfo):
            body["data"] = {"kind": "data", "branch": data.branch, "ref": data.commit}
        elif data is not None:
            from kaon.client.deploy import put_bundle

            found = put_bundle(self, workspace, "data", Path(data), "data", reporter)
            body["data"] = {"kind": "data", "branch": found.branch, "ref": found.commit}
        for key, value in (("name", name), ("cpu", cpu), ("memory", memory)):
            if value is not None:
                body[key] = value
        doc = self._json("POST", f"/v1/workspaces/{workspace}/notebooks", json_body=body)
        return NotebookDeployed.from_doc(doc)

    def _put_notebook(self, workspace: str, source: Bundle, reporter: Reporter) -> dict[str, str]:
        if isinstance(source, BundleInfo):
            return {"kind": "serve", "branch": source.branch, "ref": source.commit}
        from kaon.client import bundles
        from kaon.client.putget import stat_cache
        from kaon.client.upload import Uploader

        folder = Path(source)
        reporter.note(f"Submitting notebook bundle: {folder}")
        cache = stat_cache()
        try:
            total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            with reporter.progress("Uploading notebook bundle", total) as advance:
                branch = bundles.bundle_branch(folder)
                files = bundles.bundle_files(folder)
                commit, _ = Uploader(self, cache, advance).put(
                    f"{workspace}-source",
                    branch,
                    files,
                    f"notebook bundle {folder.name}",
                    replace=True,
                )
        finally:
            cache.close()
        return {"kind": "serve", "branch": branch, "ref": commit.id}

    def list_notebooks(self, workspace: str) -> list[NotebookInfo]:
        docs = self._json("GET", f"/v1/workspaces/{workspace}/notebooks")
        return [NotebookInfo.from_doc(d) for d in docs]

    def get_notebook(self, workspace: str, name: str) -> NotebookInfo:
        doc = self._json("GET", f"/v1/workspaces/{workspace}/notebooks/{_q(name)}")
        return NotebookInfo.from_doc(doc)

    def save_notebook(
        self, workspace: str, name: str, message: str = "", *, outputs: bool = False
    ) -> NotebookSaved:
        """Commit its working folder to the branch `<name>` of the source repo (cells'
        outputs stripped unless `outputs`)."""
        body = {"message": message, "outputs": outputs}
        path = f"/v1/workspaces/{workspace}/notebooks/{_q(name)}/save"
        return NotebookSaved.from_doc(self._json("POST", path, json_body=body))

    def notebook_provenance(self, workspace: str, name: str) -> ProvenanceInfo:
        """What the notebook used (its bundles, environment, the data its S3 key read, as a
        job's reads) and the code commits its saves made (a job trained from one of them
        shows all this in its model's provenance)."""
        path = f"/v1/workspaces/{workspace}/notebooks/{_q(name)}/provenance"
        return ProvenanceInfo.from_doc(self._json("GET", path))

    def kill_notebook(self, workspace: str, name: str) -> NotebookKilled:
        """Stop it; its working folder is committed first (outputs kept) to `<name>-last`."""
        doc = self._json("DELETE", f"/v1/workspaces/{workspace}/notebooks/{_q(name)}")
        return NotebookKilled.from_doc(doc)

    def notebook_logs(self, workspace: str, name: str, offset: int = 0) -> tuple[str, int, bool]:
        path = f"/v1/workspaces/{workspace}/notebooks/{_q(name)}/logs"
        doc = self._json("GET", path, params={"offset": offset})
        return str(doc["text"]), int(doc["offset"]), bool(doc["finished"])

    def notebook_build_logs(
        self, workspace: str, build: str, offset: int = 0
    ) -> tuple[str, int, bool]:
        path = f"/v1/workspaces/{workspace}/notebook-builds/{_q(build)}/logs"
        doc = self._json("GET", path, params={"offset": offset})
        return str(doc["text"]), int(doc["offset"]), bool(doc["finished"])

    def follow_notebook(
        self, workspace: str, name: str, build: str | None = None, follow: bool = False
    ) -> Iterator[str]:
        """A notebook's log (or its build's, `build`), piece by piece; with `follow`, until
        it ends (Ctrl-C stops following)."""
        offset = 0
        while True:
            if build is not None:
                text, offset, finished = self.notebook_build_logs(workspace, build, offset)
            else:
                text, offset, finished = self.notebook_logs(workspace, name, offset)
            if text:
                yield text
                continue
            if not follow or finished:
                return
            time.sleep(FOLLOW_POLL)

    def wait_notebook(self, workspace: str, name: str, timeout: float = WAIT) -> NotebookInfo:
        """Until JupyterLab answers (or the notebook failed: returned as it is)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.get_notebook(workspace, name)
            if found.ready or found.state in (NotebookState.FAILED, NotebookState.KILLED):
                return found
            if time.monotonic() > deadline:
                raise KaonError(
                    f"notebook {name} did not answer within {timeout:g} s: see "
                    f"`kaon notebook logs -n {name}`"
                )
            time.sleep(0.25)
