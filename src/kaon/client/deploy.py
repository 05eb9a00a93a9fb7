"""`Client.train` and `Client.serve`: every local input checked first (nothing is sent if one
is wrong), then the workspace (exists, the caller may write), then the bundles given as local
folders uploaded (ONE commit each, named by the server `/mnist:e23a2`), then the job or
endpoint submitted. A bundle may also be one that exists (a `BundleInfo`, e.g. `job.source`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kaon.client import bundles
from kaon.client.models import BundleInfo, EndpointInfo, JobInfo
from kaon.client.putget import stat_cache
from kaon.client.reporter import Reporter
from kaon.client.rest import RestApi
from kaon.client.upload import Uploader
from kaon.core.endpoints import parse_batch
from kaon.core.errors import InvalidInput
from kaon.core.hyper import parse_space
from kaon.core.releases import release_name, version_label
from kaon.core.units import parse_duration, parse_memory

Bundle = str | os.PathLike[str] | BundleInfo
Space = Mapping[str, Any] | os.PathLike[str]


def local_folder(bundle: Bundle | None) -> Path | None:
    return None if bundle is None or isinstance(bundle, BundleInfo) else Path(bundle)


def _ref(kind: str, bundle: BundleInfo) -> dict[str, str]:
    return {"kind": kind, "branch": bundle.branch, "ref": bundle.commit}


def _space(hyperparams: Space) -> dict[str, Any]:
    if isinstance(hyperparams, Mapping):
        return parse_space(json.dumps(dict(hyperparams)), "hyperparams")
    path = Path(hyperparams)
    if not path.is_file():
        raise InvalidInput(f"hyperparameters {path}: no such file")
    return parse_space(path.read_text(), str(path))


def put_bundle(
    api: RestApi,
    workspace: str,
    kind: str,
    folder: Path,
    label: str,
    reporter: Reporter,
    leave_out: frozenset[str] = frozenset(),
) -> BundleInfo:
    """Upload `folder` to the workspace's `kind` repo (the bundle branch then holds exactly
    it) and return the bundle the server made of it. `leave_out`: local paths not sent."""
    reporter.note(f"Submitting {label} bundle: {folder}")
    _, renamed, name = bundles.layout(folder)
    if renamed:
        reporter.note(
            f"Uploading {folder / renamed} as {name}/ (the :<hash> that `get` adds is dropped)"
        )
    cache = stat_cache()
    try:
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        with reporter.progress(f"Uploading {label} bundle", total) as advance:
            if kind == "source":
                bundles.check_source(folder)
            elif kind == "serve":
                bundles.check_serve(folder)
            else:
                bundles.check_data(folder)
            branch = bundles.bundle_branch(folder)
            files = bundles.bundle_files(folder, leave_out)
            repo = f"{workspace}-{'source' if kind == 'serve' else kind}"
            commit, _ = Uploader(api, cache, advance).put(
                repo, branch, files, f"{kind} bundle {folder.name}", replace=True
            )
            found = api.set_bundle(workspace, kind, branch, commit.id)
    finally:
        cache.close()
    reporter.done(f"Setting {label} bundle: {found.path}")
    return found


def train(
    api: RestApi,
    workspace: str,
    *,
    source: Bundle | None,
    data: Bundle | None,
    manifest: os.PathLike[str] | str | None,
    allow_local_urls: bool,
    hyper: dict[str, Any],
    resources: dict[str, Any],
    env: Mapping[str, str] | None,
    hyperparams: Space | None,
    reporter: Reporter,
) -> JobInfo:
    if data is not None and manifest is not None:
        raise InvalidInput("give data or a manifest, not both")
    space = _space(hyperparams) if hyperparams is not None else None
    code, folder = local_folder(source), local_folder(data)
    if code is not None:
        bundles.check_source(code)
    if folder is not None:
        bundles.check_data(folder)
    if allow_local_urls and manifest is None:
        raise InvalidInput("allow_local_urls applies to a data manifest: give one")
    listed = Path(manifest) if manifest is not None else None
    entries = bundles.parse_manifest(listed, allow_local_urls) if listed is not None else []
    if resources.get("memory") is not None:
        parse_memory(resources["memory"])
    if resources.get("timeout") is not None:
        parse_duration(resources["timeout"])
    body: dict[str, Any] = dict(resources)
    found = api.get_workspace(workspace)  # an unknown workspace fails before any upload
    found.require_write()  # and so does a viewer's deploy
    if source is None and not found.current.get("source"):
        raise InvalidInput(
            f"workspace '{workspace}' has no source bundle yet: give one with -s "
            "(e.g. `kaon train deploy -s templates/mnist/model-train`)"
        )
    if env is not None:
        body["env"] = dict(env)
    if isinstance(source, BundleInfo):
        body["source"] = _ref("source", source)
    elif code is not None:
        body["source"] = _ref(
            "source", put_bundle(api, workspace, "source", code, "source", reporter)
        )
    if isinstance(data, BundleInfo):
        body["data"] = _ref("data", data)
    elif folder is not None:
        body["data"] = _ref("data", put_bundle(api, workspace, "data", folder, "data", reporter))
    if entries:
        with tempfile.TemporaryDirectory(prefix="kaon-manifest-") as tmp:
            fetched = Path(tmp) / "manifest"
            with reporter.progress(f"Fetching {len(entries)} files", len(entries)) as advance:
                bundles.fetch_manifest(entries, fetched / "manifest", advance)
            b = put_bundle(api, workspace, "data", fetched, "data manifest", reporter)
        body["data"] = _ref("data", b)
    if space is not None:
        body["hyper"] = {"space": space, **hyper}
    return api._train(workspace, body)


def serve(
    api: RestApi,
    workspace: str,
    *,
    source: Bundle,
    model_id: str | None,
    settings: dict[str, Any],
    reporter: Reporter,
    name: str | None = None,
    version: str | None = None,
) -> EndpointInfo:
    if name is not None:
        release_name(name)  # checked before anything is sent
    if version is not None:
        version_label(version)
    folder = local_folder(source)
    if folder is not None:
        bundles.check_serve(folder)  # checked first
    if settings.get("batch") is not None:
        parse_batch(settings["batch"])
    if settings.get("timeout") is not None:
        parse_duration(settings["timeout"])
    api.get_workspace(workspace).require_write()  # a viewer's deploy fails before any upload
    bundle = serve_bundle(api, workspace, source, model_id, reporter)
    body = {"source": _ref("serve", bundle), "model_id": model_id, **settings}
    if name is not None:
        body["name"] = name
    if version is not None:
        body["version"] = version
    return api._serve(workspace, body)


def serve_bundle(
    api: RestApi, workspace: str, source: Bundle, model_id: str | None, reporter: Reporter
) -> BundleInfo:
    """The serve bundle `source` of `workspace`: an existing one as it is, a local folder
    uploaded (without the files of `model_id` that `serve get` placed beside its model.py)."""
    folder = local_folder(source)
    module = bundles.check_serve(folder) if folder is not None else None  # checked first
    leave_out: list[Path] = []
    if model_id:
        found = api.get_model(workspace, model_id)  # a model not of this workspace fails here
        reporter.done(f"Adding trained model_id: {model_id}")
        trial = found.trials[0] if found.trials else None
        if module is not None and trial and trial.model_commit and trial.model_path:
            leave_out = model_copies(
                api,
                f"{found.workspace}-models",
                trial.model_commit,
                f"{trial.model_path}/model",
                module.parent,
            )
    if folder is None:
        assert isinstance(source, BundleInfo)
        return source
    if leave_out:  # `serve get` wrote them: the bundle keeps its id without them
        names = ", ".join(str(p.relative_to(folder)) for p in leave_out)
        reporter.note(f"Leaving out {names}: the model's own files, placed beside model.py anyway")
    skip = frozenset(str(p.absolute()) for p in leave_out)
    return put_bundle(api, workspace, "serve", folder, "source", reporter, skip)


def model_copies(api: RestApi, repo: str, commit: str, path: str, folder: Path) -> list[Path]:
    """Files under `folder` identical to the model's files under `path` (the ones serving
    places beside model.py): `serve get` wrote them there, `serve deploy` leaves them out so
    the bundle keeps its id."""
    import filecmp

    from kaon.client import download

    found: list[Path] = []
    base = path.rstrip("/")
    stack = [base]
    with tempfile.TemporaryDirectory(prefix="kaon-model-") as tmp:
        while stack:
            for f in api.list_files(repo, commit, stack.pop()):
                if f.type == "dir":
                    stack.append(f.path)
                    continue
                local = folder / f.path[len(base) :].lstrip("/")
                if not local.is_file() or local.is_symlink() or local.stat().st_size != f.size:
                    continue
                copy = Path(tmp) / "model-file"
                download.get_file(api, repo, commit, f.path, copy)
                if filecmp.cmp(copy, local, shallow=False):
                    found.append(local)
    return found
