"""Pachyderm's /pfs for the local executor (Task.pfs), and the views of `Input.select`.

A task with `pfs` has a folder `<task folder>/pfs` (its PFS_DIR) holding one folder per input,
named after it, and `out`, the output folder. Two modes (`LocalExecutor.pfs_mode`):

* "bubblewrap": each input is bound read-only at /pfs/<name> (its shared fetched copy itself,
  or its view) and `out` writable at /pfs/out, so literal /pfs paths work unchanged;
* "rewrite" (no bubblewrap, or KAON_PFS_MODE=rewrite): each input's folder is a real folder
  of hard links into the shared copy, and a literal "/pfs" in argv, stdin lines and variables
  is rewritten to PFS_DIR.

A view (`Input.select`, `Input.empty_files`) is built from the job's one fetched copy: hard
links of the selected files (a selected folder: of every file below it), or zero-byte files
with their names; nothing is copied. Before the output is delivered, `normalise_links`
rewrites every symlink in it that points into an input to "/pfs/<name>/<path>".
"""

# ruff: noqa: PTH103, PTH108, PTH112, PTH114, PTH115, PTH117, PTH118, PTH211
# (plain strings and os calls: a view is built for every datum, the hot path)
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kaon.core.errors import InvalidInput, NotFound
from kaon.exec.sandbox import Mount

PFS = "/pfs"
BUBBLEWRAP = "bubblewrap"
REWRITE = "rewrite"
MODES = ("auto", BUBBLEWRAP, REWRITE)
MODE_VARIABLE = "KAON_PFS_MODE"  # auto (default) | bubblewrap | rewrite
_LITERAL = re.compile(r"(?<![\w.~/$-])/pfs(?![\w.-])")  # /pfs as a path of its own


def configured_mode(value: str | None = None) -> str:
    """The mode asked for (`value`, else $KAON_PFS_MODE, else "auto"), checked."""
    mode = (value if value is not None else os.environ.get(MODE_VARIABLE, "")) or "auto"
    if mode not in MODES:
        raise InvalidInput(f"{MODE_VARIABLE}={mode!r} is not a /pfs mode: use one of {MODES}")
    return mode


@dataclass
class PfsLayout:
    """One task's /pfs: host folders and how the task sees them."""

    root: Path  # <task folder>/pfs: PFS_DIR in rewrite mode
    mounted: bool  # bubblewrap binds them at /pfs (else: literal /pfs is rewritten)
    inputs: dict[str, Path] = field(default_factory=dict)  # name → host folder seen at /pfs/name
    writable: set[str] = field(default_factory=set)  # private inputs (a writable copy)
    sources: dict[str, Path] = field(default_factory=dict)  # name → the fetched copy behind it
    pipe: Path | None = None  # a spout's named pipe, seen at /pfs/out (Task.pfs_out_pipe)

    @property
    def out(self) -> Path:
        return self.root / "out"

    def place_pipe(self) -> None:
        """Rewrite mode: PFS_DIR/out is a symlink to the pipe (bubblewrap binds it)."""
        if self.pipe is not None and not self.mounted:
            self.root.mkdir(parents=True, exist_ok=True)
            self.out.symlink_to(self.pipe)

    @property
    def pfs_dir(self) -> str:
        return PFS if self.mounted else str(self.root)

    def mounts(self) -> tuple[Mount, ...]:
        if not self.mounted:
            return ()
        found = [
            Mount(f"{PFS}/{name}", path, name in self.writable)
            for name, path in self.inputs.items()
        ]
        return (*found, Mount(f"{PFS}/out", self.pipe or self.out, writable=True))

    def rewrite(self, text: str) -> str:
        """`text` with a literal /pfs turned into PFS_DIR (rewrite mode only)."""
        if self.mounted or PFS not in text:
            return text
        root = str(self.root)
        return _LITERAL.sub(lambda _: root, text)

    def link_prefixes(self) -> list[tuple[str, str]]:
        """(host or /pfs prefix, input name): where a link target lies in an input."""
        found: list[tuple[str, str]] = []
        for name, path in self.inputs.items():
            found += [(str(self.root / name), name), (str(path), name), (f"{PFS}/{name}", name)]
            if name in self.sources:
                found.append((str(self.sources[name]), name))
        return sorted(set(found), key=lambda p: -len(p[0]))  # the longest prefix wins


def build_view(
    source: Path, dest: Path, select: Sequence[str] = (), empty_files: bool = False
) -> Path:
    """In `dest`: the `select`ed paths of `source` (all of it when empty or "/"), each at its
    own path, as hard links (zero-byte files with `empty_files`); `dest` may exist (empty).
    Returns `dest`."""
    rels = sorted({p.strip("/") for p in select}) or [""]
    if "" in rels:
        rels = [""]
    dest.mkdir(parents=True, exist_ok=True)
    for rel in rels:
        if ".." in rel.split("/"):
            raise InvalidInput(f"a view's path cannot leave its tree: /{rel}")
        src = source / rel if rel else source
        if not os.path.lexists(src):
            raise NotFound(f"the input has no path /{rel} for this task's view")
        target = dest / rel if rel else dest
        if rel:
            target.parent.mkdir(parents=True, exist_ok=True)
        _place(str(src), str(target), empty_files)
    return dest


def _place(src: str, target: str, empty: bool) -> None:
    if os.path.islink(src):
        _symlink(os.readlink(src), target)
    elif not os.path.isdir(src):
        _file(src, target, empty)
    else:
        os.makedirs(target, exist_ok=True)
        for top, folders, files in os.walk(src):
            below = target + top[len(src) :]
            for name in folders:
                path = os.path.join(top, name)
                if os.path.islink(path):
                    _symlink(os.readlink(path), os.path.join(below, name))
                else:
                    os.makedirs(os.path.join(below, name), exist_ok=True)
            for name in files:
                _file(os.path.join(top, name), os.path.join(below, name), empty)


def _file(src: str, target: str, empty: bool) -> None:
    if os.path.islink(src):
        _symlink(os.readlink(src), target)
        return
    try:
        if empty:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400))
        else:
            os.link(src, target)
    except FileExistsError:  # selected twice ("/a" and "/a/b")
        pass
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
            raise
        shutil.copyfile(src, target)  # another filesystem: a copy after all


def _symlink(target: str, path: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.symlink(target, path)


def normalise_links(layout: PfsLayout) -> int:
    """Rewrite each symlink below `layout.out` whose target lies in an input to
    "/pfs/<name>/<path>"; others (dangling ones too) are left as they are. Returns how many
    were rewritten."""
    prefixes = layout.link_prefixes()
    out = str(layout.out)
    changed = 0
    for top, folders, files in os.walk(out):
        for name in (*folders, *files):
            path = os.path.join(top, name)
            if not os.path.islink(path):
                continue
            target = os.readlink(path)
            seen = target if os.path.isabs(target) else os.path.normpath(os.path.join(top, target))
            if seen == f"{PFS}/out" or seen.startswith(f"{PFS}/out/"):
                continue
            wanted = _in_input(seen, prefixes)
            if wanted is not None and wanted != target:
                os.unlink(path)
                os.symlink(wanted, path)
                changed += 1
    return changed


def _in_input(target: str, prefixes: Sequence[tuple[str, str]]) -> str | None:
    for prefix, name in prefixes:
        if target == prefix or target.startswith(prefix + "/"):
            return f"{PFS}/{name}{target[len(prefix) :]}"
    return None
