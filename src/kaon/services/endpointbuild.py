"""An endpoint's build step: what it serves (its bundle's files with the model's beside the
serve module, composed from stored trees, nothing written to disk) and the environment of the
bundle's requirements. A failure here is a build failure (EndpointFailure.BUILD)."""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass
from typing import Any

from kaon.core import bundlelayout, paths
from kaon.core.address import Ref
from kaon.core.commit import Commit
from kaon.core.endpoints import Endpoint
from kaon.core.errors import InvalidBundle, NotFound
from kaon.core.jobs import Bundle, ModelId
from kaon.core.signatures import SIGNATURE_FILE, checked
from kaon.core.tree import FileNode
from kaon.ports.envbuilder import EnvBuilder, Environment, EnvLock, LogSink
from kaon.services.commits import Put
from kaon.services.files import FileService
from kaon.services.repos import RepoService
from kaon.services.training import TrainingService
from kaon.services.workspaces import repo_of

MODULE = bundlelayout.SERVE_MODULE


@dataclass(frozen=True)
class ServeEntry:
    folder: str
    module: str
    batchable: bool


@dataclass(frozen=True)
class Built:
    """What an endpoint serves, ready to be recorded and run."""

    files: list[Put]  # the served files (their chunks are the stored ones, not copies)
    lock: EnvLock
    env: Environment
    batchable: bool
    signature: dict[str, Any] | None = None  # what its signature.json declares (OIP metadata)


def inspect_module(source: str, where: str) -> bool:
    """Check the serve module defines load_ctx and predict; True if it opts in to batches."""
    try:
        tree = ast.parse(source, where)
    except SyntaxError as exc:
        raise InvalidBundle(
            f"{where}, line {exc.lineno}: {exc.msg} (fix the serve module)"
        ) from None
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    missing = [f for f in ("load_ctx", "predict") if f not in names]
    if missing:
        raise InvalidBundle(
            f"{where} does not define {' and '.join(missing)}: a serve module needs "
            "load_ctx(model_dir) and predict(payload, ctx)"
        )
    batch = "predict_batch" in names
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BATCH" for t in node.targets
        ):
            batch = batch or (isinstance(node.value, ast.Constant) and node.value.value is True)
    return batch


class EndpointBuilder:
    def __init__(
        self, repos: RepoService, files: FileService, envs: EnvBuilder, training: TrainingService
    ) -> None:
        self._repos = repos
        self._files = files
        self._envs = envs
        self._training = training

    def check_model(self, workspace: str, model_id: ModelId) -> None:
        """Fails up front when `model_id` is not a model of `workspace`."""
        self._training.model(workspace, model_id)

    def default_version(self, workspace: str, model_id: ModelId | None, source: Bundle) -> str:
        """A version's label when `--version` is not given: the first 6 hex of the model's
        data commit (what it was trained on), else of the serve bundle's commit."""
        commit = source.commit
        if model_id is not None:
            trial = self._training.model(workspace, model_id)
            commit = self._training.get(trial.job).data.commit
        return commit[:6].lower()

    def restore(self, endpoint: Endpoint, log: LogSink, cancel: threading.Event) -> Environment:
        """The environment of a version that was served before (its stored lock): a revived
        or recovered version runs its served commit in it, nothing built again."""
        env = endpoint.env
        lock = EnvLock(str(env["lock_id"]), str(env["lock"]), str(env["python"]))
        return self._envs.ensure(lock, log, cancel)

    def entry(self, source: Bundle) -> ServeEntry:
        """Find the serve module (the shallowest model.py) and check its two functions."""
        commit = self._repos.resolve_required(source.repo, Ref(source.commit))
        found = (
            []
            if commit.tree is None
            else bundlelayout.shallowest(commit.tree, self._files.listing, MODULE)
        )
        if found:  # several at that depth: the first in name order, as before
            folder = found[0]
            node = self._files.node(commit, f"/{folder}{MODULE}")
            assert isinstance(node, FileNode)
            where = f"{source.path}/{folder}{MODULE}"
            return ServeEntry(folder.rstrip("/"), "model", inspect_module(self._text(node), where))
        raise InvalidBundle(
            f"serve bundle {source.path}: no {MODULE} found; it needs a model.py defining "
            "load_ctx(model_dir) and predict(payload, ctx) and a requirements.txt beside it"
        )

    def build(
        self, endpoint: Endpoint, batchable: bool | None, log: LogSink, cancel: threading.Event
    ) -> Built:
        """The served files and their environment (`batchable` None: read from the module)."""
        source = self._repos.resolve_required(endpoint.source.repo, Ref(endpoint.source.commit))
        files = self._walk(source, "/", "")
        if batchable is None:
            module = files.get(self._in_folder(endpoint, MODULE))
            if module is None:
                raise InvalidBundle(f"serve bundle {endpoint.source.path}: no {MODULE} any more")
            batchable = inspect_module(self._text(module), MODULE)
        if endpoint.model_id:
            model = self._model(endpoint)
            files |= model  # over the bundle's files of the same name
            size = sum(node.size for node in model.values())
            log(f"model {endpoint.model_id}: {size} bytes placed beside {MODULE}")
        requirements = files.get(self._in_folder(endpoint, "requirements.txt"))
        requirements = requirements or files.get("/requirements.txt")
        text = self._text(requirements) if requirements else ""
        log(f"serve bundle {endpoint.source.path}: {endpoint.folder}/{MODULE}")
        signature = self._signature(endpoint, files.get(self._in_folder(endpoint, SIGNATURE_FILE)))
        lock = self._envs.lock(text, log, cancel)
        env = self._envs.ensure(lock, log, cancel)
        log(f"environment {lock.id[:12]} ready ({lock.python})")
        puts = [Put(path, node.size, node.chunks) for path, node in files.items()]
        return Built(puts, lock, env, batchable, signature)

    def _signature(self, endpoint: Endpoint, node: FileNode | None) -> dict[str, Any] | None:
        """The OIP signature the bundle's signature.json (beside model.py) declares, checked."""
        if node is None:
            return None
        where = f"serve bundle {endpoint.source.path}: {SIGNATURE_FILE}"
        try:
            doc = json.loads(self._text(node))
        except ValueError as exc:
            raise InvalidBundle(f"{where} is not JSON ({exc})") from None
        return checked(doc, where)

    def _model(self, endpoint: Endpoint) -> dict[str, FileNode]:
        """The model's files, placed in the serve module's folder."""
        assert endpoint.model_id is not None
        trial = self._training.model(endpoint.workspace, ModelId(endpoint.model_id))
        if trial.model_commit is None or trial.model_path is None:
            raise NotFound(f"model {endpoint.model_id} has no stored files")
        repo = repo_of(endpoint.workspace, "models")
        commit = self._repos.resolve_required(repo, Ref(trial.model_commit))
        return self._walk(commit, f"{trial.model_path}/model", endpoint.folder)

    def _walk(self, commit: Commit, path: str, under: str) -> dict[str, FileNode]:
        """The files of `commit` at or below `path` by their path at `under`/<path below>
        (the files a checkout of `path` into `under` writes; their metadata is not served)."""
        return {
            paths.normalize(f"{under}/{rel}"): node for rel, node in self._files.walk(commit, path)
        }

    def _text(self, node: FileNode) -> str:
        return b"".join(self._files.content(node)).decode("utf-8", "replace")

    @staticmethod
    def _in_folder(endpoint: Endpoint, name: str) -> str:
        return paths.normalize(f"{endpoint.folder}/{name}")
