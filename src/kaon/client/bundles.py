"""Source and data bundles on the client: checked locally (so mistakes are reported before
anything is sent; kaon.client.deploy puts them to the workspace's bundle branch as ONE commit,
then the server names them `/mnist:e23a2`). Remote data manifests are fetched in parallel
into a folder first."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kaon.client.localfiles import LocalFile, plan
from kaon.core import bundlelayout, paths
from kaon.core.errors import InvalidBundle, InvalidInput

Progress = Callable[[int], None]
_BRANCH_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


_FETCHED = re.compile(r"^(?P<name>.+):[0-9a-f]{5,64}\Z")  # `train get`'s `mnist:6baa7`


def fetched_name(name: str) -> str | None:
    """`mnist` for a folder named `mnist:6baa7` (as `train get`/`serve get` name them)."""
    m = _FETCHED.match(name)
    return m.group("name") if m else None


def layout(folder: Path) -> tuple[str, str | None, str]:
    """(branch, top folder renamed on upload, bundle name) of a bundle folder: the name is
    its single top folder's, else its own. A folder named `<name>:<hash>` (what `train get`
    and `serve get` write) is uploaded as `<name>/`, so what `get` wrote deploys again as the
    same bundle, with the same id: `-s <job>/code` and `-s <job>/code/mnist:6baa7` alike.
    The renamed folder is "" when `folder` itself becomes the top folder `<name>/`; a
    `<name>:<hash>` folder of loose files (a bundle without a single top folder) keeps them
    at the root under the name `<name>`."""
    entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    top = entries[0].name if len(entries) == 1 and entries[0].is_dir() else None
    renamed: str | None = None
    name = top or folder.name
    if top is not None and (bare := fetched_name(top)):
        renamed, name = top, bare
    elif (bare := fetched_name(folder.name)) is not None:
        renamed, name = ("" if top is not None else None), bare
    branch = _BRANCH_CHARS.sub("-", name).strip("-_")[:60] or "bundle"
    return (branch if branch[0].isalnum() else "b" + branch), renamed, name


def bundle_branch(folder: Path) -> str:
    """The branch a bundle folder goes to (see `layout`)."""
    return layout(folder)[0]


def bundle_files(folder: Path, leave_out: frozenset[str] = frozenset()) -> list[LocalFile]:
    """What a bundle folder uploads, `<name>:<hash>` folders renamed `<name>` (see `layout`);
    `leave_out`: local paths not sent."""
    _, top, name = layout(folder)
    if top == "":  # the folder itself is `<name>:<hash>`: its files go under <name>/
        files = plan(folder, f"/{name}", True, check_links=False)  # _check_tree did
    else:
        files = plan(folder, "/", True, check_links=False)
        if top is not None:
            old, new = f"/{top}/", f"/{name}/"
            files = [
                f._replace(remote=new + f.remote[len(old) :]) if f.remote.startswith(old) else f
                for f in files
            ]
    return [f for f in files if f.local not in leave_out]


def restore_modes(folder: Path) -> None:
    """Make `train`, `serve` and every file starting with `#!` executable again: the store
    keeps contents, not file modes (the platform makes `train` executable when it runs it)."""
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        head = b""
        if path.name not in bundlelayout.EXECUTABLES:
            with path.open("rb") as fh:
                head = fh.read(len(bundlelayout.SHEBANG))
        if bundlelayout.is_executable(path.name, head):
            path.chmod(path.stat().st_mode | 0o111)


def _check_tree(folder: Path, what: str) -> None:
    if not folder.exists():
        raise InvalidBundle(f"{what} bundle {folder}: no such folder")
    if not folder.is_dir():
        raise InvalidBundle(f"{what} bundle {folder}: not a folder (give the folder, not a file)")
    root = folder.resolve()
    count = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                target = full.resolve()
                if target != root and root not in target.parents:
                    raise InvalidBundle(
                        f"{what} bundle: {full} is a symbolic link to {target}, outside the "
                        "bundle; copy the file in instead"
                    )
            elif name in filenames:
                if not os.access(full, os.R_OK):
                    raise InvalidBundle(f"{what} bundle: {full} is not readable")
                count += 1
    if count == 0:
        raise InvalidBundle(f"{what} bundle {folder} is empty: it needs at least one file")


def _listing(folder: Path) -> list[tuple[str, Path | None]]:
    """A local folder's entries for kaon.core.bundlelayout: files (links to files too) and
    sub-folders that are not links."""
    out: list[tuple[str, Path | None]] = []
    for sub in folder.iterdir():
        if sub.is_file():
            out.append((sub.name, None))
        elif sub.is_dir() and not sub.is_symlink():
            out.append((sub.name, sub))
    return out


def find_train(folder: Path) -> Path:
    """The shallowest file named `train` (the kaos layout puts it in <name>/model/), else the
    shallowest notebook `train.ipynb` (run by papermill)."""
    for name in (bundlelayout.TRAIN, bundlelayout.NOTEBOOK):
        found = bundlelayout.shallowest(folder, _listing, name)
        if len(found) > 1:
            raise InvalidBundle(f"source bundle {folder}: several `{name}` files at one depth")
        if found:
            return folder / found[0] / name
    raise InvalidBundle(
        f"source bundle {folder}: no `train` file; put an executable `train` (or a notebook "
        "`train.ipynb`) and a requirements.txt in it (kaos layout: <bundle>/<name>/model/train)"
    )


def check_source(folder: Path) -> Path:
    _check_tree(folder, "source")
    train = find_train(folder)
    if train.name == bundlelayout.NOTEBOOK:
        _check_notebook(train)
    elif not os.access(train, os.X_OK):
        raise InvalidBundle(f"{train} is not executable: run `chmod +x {train}`")
    else:
        with open(train, "rb") as fh:
            if not bundlelayout.has_shebang(fh.read(len(bundlelayout.SHEBANG))):
                raise InvalidBundle(
                    f"{train} has no '#!' first line: start it with e.g. `#!/usr/bin/env python3`"
                )
    where = train.parent.relative_to(folder).as_posix()
    candidates = bundlelayout.requirements_candidates("" if where == "." else where + "/")
    if not any((folder / candidate).is_file() for candidate in candidates):
        raise InvalidBundle(
            f"no requirements.txt beside {train}: add one (empty if the code needs only the "
            "standard library)"
        )
    return train


def _check_notebook(path: Path) -> None:
    """A notebook papermill can run: JSON with a list of cells."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidBundle(f"{path} is not a notebook (not JSON: {exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InvalidBundle(f"{path} is not a notebook: it has no list of cells")


def check_serve(folder: Path) -> Path:
    """A serve bundle: a model.py (load_ctx, predict; checked by the server) somewhere."""
    _check_tree(folder, "serve")
    found = bundlelayout.shallowest(folder, _listing, bundlelayout.SERVE_MODULE)
    if not found:
        raise InvalidBundle(
            f"serve bundle {folder}: no model.py; it needs a model.py defining "
            "load_ctx(model_dir) and predict(payload, ctx), and a requirements.txt"
        )
    return folder / found[0] / bundlelayout.SERVE_MODULE


def check_data(folder: Path) -> None:
    _check_tree(folder, "data")


# remote data manifests ---------------------------------------------------------------------


REMOTE_SCHEMES = ("http://", "https://")
LOCAL_SCHEMES = ("file://",)  # read this machine's files: only with --allow-local-urls


def parse_manifest(path: Path, allow_local: bool = False) -> list[tuple[str, str]]:
    """(url, relative path) per line of a JSON-lines manifest, every line checked. A manifest
    may come from anyone: a URL reading this machine's files (file://) is refused unless
    `allow_local` (the user's explicit --allow-local-urls)."""
    if not path.is_file():
        raise InvalidBundle(f"manifest {path}: no such file")
    out: list[tuple[str, str]] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidBundle(f"manifest {path}, line {n}: not a JSON object") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
            raise InvalidBundle(f'manifest {path}, line {n}: no "url" (expected {{"url", "path"}})')
        if not isinstance(doc.get("path"), str) or not doc["path"].strip("/"):
            raise InvalidBundle(
                f'manifest {path}, line {n}: no "path" (expected {{"url", "path"}})'
            )
        try:
            rel = paths.normalize(doc["path"]).lstrip("/")
        except InvalidInput as exc:
            raise InvalidBundle(f"manifest {path}, line {n}: {exc.message}") from None
        url = doc["url"]
        if url.lower().startswith(LOCAL_SCHEMES) and not allow_local:
            raise InvalidBundle(
                f"manifest {path}, line {n}: {url} is a file:// URL (a file of this machine): "
                "manifests fetch http(s):// only; pass --allow-local-urls if you mean it"
            )
        if not url.lower().startswith(REMOTE_SCHEMES + LOCAL_SCHEMES):
            raise InvalidBundle(
                f"manifest {path}, line {n}: url must be http:// or https:// (got {url[:60]!r})"
            )
        out.append((url, rel))
    if not out:
        raise InvalidBundle(f"manifest {path} is empty: one JSON line per file")
    return out


def fetch_manifest(
    entries: list[tuple[str, str]], dest: Path, progress: Progress | None = None, workers: int = 8
) -> None:
    """Download every entry into `dest/<path>` in parallel; the first failure is reported."""
    tick = progress or (lambda n: None)

    opener = urllib.request.build_opener(_HttpOnlyRedirects)

    def one(entry: tuple[str, str]) -> None:
        url, rel = entry
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with opener.open(url, timeout=60) as response, open(target, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise InvalidBundle(f"manifest: cannot fetch {url}: {reason}") from None
        tick(1)

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(one, e) for e in entries]:
            future.result()


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed to http(s):// only (urllib's own also allows ftp://)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.lower().startswith(REMOTE_SCHEMES):
            raise urllib.error.URLError(f"redirected to {newurl}, not an http(s):// URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)
