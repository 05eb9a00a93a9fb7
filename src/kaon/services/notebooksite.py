"""What a notebook gets on this server: its environment (its bundle's requirements plus
JupyterLab, by the uv cache of training and serving), its folders under `<root>/<name>/` (work/:
the bundle checked out, JupyterLab's root; data/<repo>/: the data bundle, read-only), and its
access (an API token and an S3 key pair of its own, as a job's: revoked when it stops)."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any

from kaon.core import bundlelayout
from kaon.core.address import Ref
from kaon.core.ids import CommitId, RepoName
from kaon.core.jobs import Bundle
from kaon.core.notebooks import JUPYTERLAB, Notebook
from kaon.core.tree import FileNode
from kaon.ports.content import Content, TreeRef
from kaon.ports.envbuilder import EnvBuilder, Environment, EnvLock, LogSink
from kaon.ports.notebooks import NotebookSpec
from kaon.services.files import FileService
from kaon.services.jobtokens import JobTokens
from kaon.services.notebooksave import fingerprint
from kaon.services.repos import RepoService
from kaon.services.s3.credentials import CredentialService


class NotebookSite:
    def __init__(
        self,
        repos: RepoService,
        files: FileService,
        envs: EnvBuilder,
        content: Content,
        tokens: JobTokens,
        keys: CredentialService | None,
        root: Path,
        hidden: tuple[Path, ...] = (),
    ) -> None:
        self._repos = repos
        self._files = files
        self._envs = envs
        self._content = content
        self._tokens = tokens
        self._keys = keys
        self.root = root
        self._hidden = hidden

    def home(self, name: str) -> Path:
        return self.root / name

    def environment(
        self, notebook: Notebook, log: LogSink, cancel: threading.Event
    ) -> tuple[Environment, dict[str, Any] | None]:
        """Its environment, and the lock to store when it was locked now (None: recovery,
        the environment it ran in)."""
        if notebook.env:
            e = notebook.env
            lock = EnvLock(str(e["lock_id"]), str(e["lock"]), str(e["python"]))
            return self._envs.ensure(lock, log, cancel), None
        text = self._requirements(notebook.source)
        log(f"notebook bundle {notebook.source.path}: requirements.txt + {JUPYTERLAB}")
        started = time.monotonic()
        lock = self._envs.lock(f"{text.rstrip()}\n{JUPYTERLAB}\n", log, cancel)
        env = self._envs.ensure(lock, log, cancel)
        log(f"environment {lock.id[:12]} ready in {time.monotonic() - started:.1f} s")
        return env, {"lock_id": lock.id, "lock": lock.text, "python": lock.python}

    def spec(self, notebook: Notebook, env: Environment, token: str) -> NotebookSpec:
        """Its folders made (a recovered notebook's kept as they were) and its access granted."""
        home = self.home(notebook.name)
        work = home / "work"
        if not work.is_dir():
            self._checkout(notebook.source, work)
            (home / "saved").write_text(fingerprint(work))
        data = None
        if notebook.data is not None:
            data = home / "data" / notebook.data.repo
            if not data.is_dir():
                self._checkout(notebook.data, data)
                _read_only(data)
        return NotebookSpec(
            notebook.name,
            env,
            work,
            home / "run",
            token,
            data,
            notebook.data.repo if notebook.data else "",
            self._access(notebook),
            self._hidden,
            notebook.memory,
            notebook.cpu,
        )

    def revoke(self, name: str) -> None:
        self._tokens.revoke_job(access_key(name))
        if self._keys is not None:
            self._keys.revoke_job(access_key(name))

    def remove(self, name: str) -> None:
        """Remove its folders, the read-only data included."""
        folder = self.home(name)
        if not folder.exists():
            return
        for top, dirs, _ in os.walk(folder):
            for entry in dirs:
                path = Path(top) / entry
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
        shutil.rmtree(folder, ignore_errors=True)

    def _access(self, notebook: Notebook) -> dict[str, str]:
        key = access_key(notebook.name)
        found: dict[str, str] = {"KAON_WORKSPACE": notebook.workspace}
        api = self._tokens.for_job(key, notebook.author, notebook.workspace)
        if api is not None:
            found |= api.variables()
        if self._keys is not None:
            s3 = self._keys.for_job(key, notebook.author, notebook.workspace)
            if s3 is not None:
                found |= s3.variables()
        return found

    def _requirements(self, source: Bundle) -> str:
        commit = self._repos.resolve_required(source.repo, Ref(source.commit))
        if commit.tree is None:
            return ""
        found = bundlelayout.shallowest(commit.tree, self._files.listing, "requirements.txt")
        if not found:
            return ""
        node = self._files.node(commit, f"/{found[0]}requirements.txt")
        if not isinstance(node, FileNode):
            return ""
        return b"".join(self._files.content(node)).decode("utf-8", "replace")

    def _checkout(self, bundle: Bundle, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.part")
        shutil.rmtree(tmp, ignore_errors=True)
        self._content.checkout(TreeRef(RepoName(bundle.repo), CommitId(bundle.commit)), tmp)
        tmp.rename(dest)


ACCESS_PREFIX = "notebook-"


def access_key(name: str) -> str:
    """The id its API token and S3 keys are issued for (as a job's are for the job's id)."""
    return f"{ACCESS_PREFIX}{name}"


def _read_only(folder: Path) -> None:
    """No write bits under `folder` (the data bundle is read-only in the cells)."""
    for top, dirs, names in os.walk(folder):
        for entry in [*dirs, *names]:
            path = Path(top) / entry
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
    folder.chmod(folder.stat().st_mode & ~0o222)
