"""A notebook's working folder as a commit: `kaon notebook save` (to its bundle's branch of the
workspace's source repo) and the kill's last state (to `recovery_branch(name)`).

Notebooks (`.ipynb`) lose their outputs and execution counts unless `outputs` (a plain JSON
edit, kaon.core.notebooks.strip_outputs); Jupyter's own folders (checkpoints, caches) are left
out. `fingerprint` is what "unsaved changes" compares: the folder's files as `save` would
commit them, outputs stripped (running a cell again is no change).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

from kaon.core.commit import Commit
from kaon.core.notebooks import SKIPPED, strip_outputs
from kaon.services.commits import CommitService, Put
from kaon.services.ingest import FileIngest

MAX_FILES = 10_000


def files_of(folder: Path) -> Iterator[tuple[str, Path]]:
    """(bundle path "/a/b.py", local path) of every regular file under `folder`, sorted;
    Jupyter's folders and symlinks left out."""
    found: list[tuple[str, Path]] = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in names:
            path = Path(top) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append(("/" + path.relative_to(folder).as_posix(), path))
    if len(found) > MAX_FILES:
        raise ValueError(f"{folder} holds more than {MAX_FILES} files")
    yield from sorted(found)


def content(path: Path, outputs: bool) -> bytes:
    data = path.read_bytes()
    if outputs or path.suffix != ".ipynb":
        return data
    return strip_outputs(data.decode("utf-8", "replace")).encode()


def fingerprint(folder: Path) -> str:
    """A digest of the folder's files as saved without outputs ("" when it does not exist)."""
    if not folder.is_dir():
        return ""
    h = hashlib.sha256()
    for rel, path in files_of(folder):
        try:
            body = content(path, outputs=False)
        except OSError:
            continue  # removed while we looked
        h.update(f"{rel}\0{len(body)}\0".encode())
        h.update(hashlib.sha256(body).digest())
    return h.hexdigest()


def commit_folder(
    commits: CommitService,
    ingest: FileIngest,
    folder: Path,
    repo: str,
    branch: str,
    message: str,
    author: str,
    outputs: bool,
) -> Commit:
    """Replace branch `branch` of `repo` with the files of `folder` as one commit."""
    puts: list[Put] = []
    for rel, path in files_of(folder):
        body = content(path, outputs)
        chunks = ingest.ingest(io.BytesIO(body)).chunks if body else []
        puts.append(Put(rel, len(body), tuple(chunks)))
    return commits.commit(repo, branch, puts, ["/"], message=message, author=author)
