"""The local executor's fetched inputs: one read-only copy of a kept tree for all its tasks.

A tree kept (`Executor.keep`: a job's code and data while its trials run) is fetched once, by
the first task that reads it, into `<root>/<pid>-<token>/<tree hash>` and made read-only;
every later task reads that copy (a private input is copied from it), and it is removed when
the last context keeping it closes. A tree not kept is fetched into the task's own folder.
Folders of a server that is no longer running (a crash) are removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import blake3

from kaon.ports.content import Content, TreeRef


class InputCache:
    def __init__(self, content: Content, root: Path) -> None:
        self._content = content
        sweep_dead(root)
        self._dir = root / f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._held: dict[TreeRef, int] = {}  # tree → how many open `keep` contexts name it
        self._ready: dict[TreeRef, Path] = {}  # kept trees fetched so far
        self._fetching: dict[TreeRef, threading.Lock] = {}  # one fetch of a tree at a time

    @contextlib.contextmanager
    def keep(self, trees: Sequence[TreeRef]) -> Iterator[None]:
        unique = list(dict.fromkeys(trees))
        with self._lock:
            for tree in unique:
                self._held[tree] = self._held.get(tree, 0) + 1
        try:
            yield
        finally:
            dropped = []
            with self._lock:
                for tree in unique:
                    self._held[tree] -= 1
                    if self._held[tree] == 0:
                        del self._held[tree]
                        self._fetching.pop(tree, None)
                        if tree in self._ready:
                            dropped.append(self._ready.pop(tree))
            for folder in dropped:
                remove_tree(folder)

    def shared(self, tree: TreeRef, fallback: Path) -> Path:
        """A read-only copy of `tree`: the kept one (fetched by the first caller), else a new
        one in `fallback`."""
        with self._lock:
            if tree not in self._held:
                fetching = None
            else:
                fetching = self._fetching.setdefault(tree, threading.Lock())
        if fetching is None:
            self._fetch(tree, fallback)
            return fallback
        with fetching:
            with self._lock:
                ready = self._ready.get(tree)
            if ready is not None:
                return ready
            dest = self._dir / blake3.blake3(repr(tree).encode()).hexdigest()[:32]
            remove_tree(dest)
            self._fetch(tree, dest)
            with self._lock:
                self._ready[tree] = dest
            return dest

    def private(
        self,
        tree: TreeRef,
        dest: Path,
        overlay: Mapping[str, bytes] | None = None,
        executable: Sequence[str] = (),
    ) -> Path:
        """A writable copy of `tree` in `dest` (from the kept copy when there is one), with
        `overlay` written over it and `executable` made executable."""
        with self._lock:
            kept = tree in self._held
        if kept:
            shutil.copytree(self.shared(tree, dest), dest, copy_function=shutil.copyfile)
            for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
                folder.chmod(0o755)
        else:
            self._content.checkout(tree, dest)
        for rel, data in (overlay or {}).items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.write_bytes(data)
        for rel in executable:
            path = dest / rel
            path.chmod(path.stat().st_mode | 0o700)
        return dest

    def _fetch(self, tree: TreeRef, dest: Path) -> None:
        part = dest.with_name(dest.name + ".part")
        remove_tree(part)
        self._content.checkout(tree, part)
        read_only(part)
        part.rename(dest)


def read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = 0o500 if path.is_dir() else 0o400  # the platform's user only (runs as it)
        path.chmod(mode)


def remove_tree(*folders: Path) -> None:
    """Remove `folders` even when made read-only."""
    for folder in folders:
        if not folder.exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o700)
        shutil.rmtree(folder, ignore_errors=True)


def sweep_dead(root: Path) -> None:
    """Remove the folders of servers no longer running (named `<pid>-<token>`)."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            remove_tree(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
