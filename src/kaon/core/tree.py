"""Trees: immutable, content-addressed directory listings (git/restic habits).

A tree lists its entries sorted by name. A file entry carries its size and the list of chunks
(BLAKE3 digest, length) whose concatenation is the content; a directory entry carries the digest
of its subtree plus the total size and file count below it. Empty directories are not stored
(Pachyderm semantics). The canonical encoding starts with a format version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import blake3

from kaon.core import paths
from kaon.core.errors import InvalidInput, PathNotFound
from kaon.core.ids import Digest

TREE_FORMAT = 1


class ChunkRef(NamedTuple):  # a tuple: trees of 20,000 files hold 20,000 of them
    digest: Digest
    size: int


@dataclass(frozen=True)
class FileNode:
    name: str
    size: int
    chunks: tuple[ChunkRef, ...]

    @property
    def content_digest(self) -> Digest:
        """One digest for the whole content: the chunk's own for one chunk, else a hash list."""
        return content_digest(self.chunks)


@dataclass(frozen=True)
class DirNode:
    name: str
    size: int
    count: int
    tree: Digest


Node = FileNode | DirNode


def content_digest(chunks: Iterable[ChunkRef]) -> Digest:
    refs = list(chunks)
    if len(refs) == 1:
        return refs[0].digest
    hasher = blake3.blake3()
    for ref in refs:
        hasher.update(bytes.fromhex(ref.digest))
    return Digest(hasher.hexdigest())


@dataclass(frozen=True)
class Tree:
    entries: tuple[Node, ...]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def count(self) -> int:
        return sum(e.count if isinstance(e, DirNode) else 1 for e in self.entries)

    def get(self, name: str) -> Node | None:
        lo, hi = 0, len(self.entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.entries[mid].name < name:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.entries) and self.entries[lo].name == name:
            return self.entries[lo]
        return None

    def encode(self) -> bytes:
        # chunk refs are tuples: json writes them as the [digest, size] pairs they stand for
        rows = [
            ("f", e.name, e.size, e.chunks)
            if isinstance(e, FileNode)
            else ("d", e.name, e.size, e.count, e.tree)
            for e in self.entries
        ]
        return json.dumps({"v": TREE_FORMAT, "e": rows}, separators=(",", ":")).encode()

    @property
    def digest(self) -> Digest:
        return Digest(blake3.blake3(self.encode()).hexdigest())

    @staticmethod
    def decode(data: bytes) -> Tree:
        doc = json.loads(data)
        if doc.get("v") != TREE_FORMAT:
            raise InvalidInput(f"unsupported tree format {doc.get('v')!r}")
        out: list[Node] = []
        for row in doc["e"]:
            if row[0] == "f":
                out.append(FileNode(row[1], row[2], tuple(map(ChunkRef._make, row[3]))))
            else:
                out.append(DirNode(row[1], row[2], row[3], row[4]))
        return Tree(tuple(out))


EMPTY_TREE = Tree(())

TreeLoader = Callable[[Digest], Tree]
TreeSaver = Callable[[Tree], Digest]


@dataclass(frozen=True)
class FileContent:
    """What a put writes at a path: size and chunks."""

    size: int
    chunks: tuple[ChunkRef, ...]


def apply_changes(
    root: Digest | None,
    puts: Mapping[str, FileContent],
    deletes: Iterable[str],
    load: TreeLoader,
    save: TreeSaver,
) -> Tree:
    """Return the new root tree after deleting `deletes` then writing `puts` (normalised paths).

    Only the directories on the changed paths are rewritten; the rest is shared by digest.
    """
    changes: dict[tuple[str, ...], FileContent | None] = {}
    for path in deletes:
        parts = tuple(paths.split(path))
        if not parts:
            changes = {(): None}
            continue
        changes[parts] = None
    base = None if () in changes else (load(root) if root else None)
    changes.pop((), None)
    tree = _apply(base, [(k, v) for k, v in changes.items()], "/", load, save)
    put_list: list[tuple[tuple[str, ...], FileContent | None]] = [
        (tuple(paths.split(p)), c) for p, c in puts.items()
    ]
    for parts, _ in put_list:
        if not parts:
            raise InvalidInput("cannot write a file at the repo root '/': name a file path")
    return _apply(tree, put_list, "/", load, save) or EMPTY_TREE


def _apply(
    tree: Tree | None,
    changes: list[tuple[tuple[str, ...], FileContent | None]],
    where: str,
    load: TreeLoader,
    save: TreeSaver,
) -> Tree | None:
    if not changes:
        return tree
    entries: dict[str, Node] = {e.name: e for e in tree.entries} if tree else {}
    nested: dict[str, list[tuple[tuple[str, ...], FileContent | None]]] = {}
    for parts, content in changes:
        name = parts[0]
        if len(parts) > 1:
            nested.setdefault(name, []).append((parts[1:], content))
            continue
        existing = entries.get(name)
        if content is None:
            if existing is None:
                here = paths.join(where, name)
                raise PathNotFound(f"cannot delete {here}: no such file or directory")
            del entries[name]
        else:
            if isinstance(existing, DirNode):
                here = paths.join(where, name)
                raise InvalidInput(f"cannot write file {here}: it is a directory (delete it first)")
            entries[name] = FileNode(name, content.size, content.chunks)
    for name, sub in nested.items():
        here = paths.join(where, name)
        existing = entries.get(name)
        if isinstance(existing, FileNode):
            raise InvalidInput(f"cannot write below {here}: it is a file (delete it first)")
        subtree = load(existing.tree) if isinstance(existing, DirNode) else None
        if subtree is None and all(c is None for _, c in sub):
            raise PathNotFound(f"cannot delete below {here}: no such directory")
        new = _apply(subtree, sub, here, load, save)
        if new is None or not new.entries:
            entries.pop(name, None)
        else:
            entries[name] = DirNode(name, new.size, new.count, save(new))
    return Tree(tuple(entries[k] for k in sorted(entries)))


def walk_files(tree: Tree, prefix: str, load: TreeLoader) -> Iterable[tuple[str, FileNode]]:
    """Every file below `tree` as (path, node), depth first in name order."""
    for entry in tree.entries:
        path = paths.join(prefix, entry.name)
        if isinstance(entry, FileNode):
            yield path, entry
        else:
            yield from walk_files(load(entry.tree), path, load)


def find(root: Tree, path: str, load: TreeLoader) -> Node | Tree | None:
    """The node at `path` (the root tree itself for '/'), or None when absent."""
    node: Node | Tree = root
    for part in paths.split(path):
        if isinstance(node, Tree):
            tree = node
        elif isinstance(node, DirNode):
            tree = load(node.tree)
        else:
            return None
        child = tree.get(part)
        if child is None:
            return None
        node = child
    return node


def lookup(root: Tree, path: str, load: TreeLoader) -> Node | Tree:
    """The node at `path` (the root tree itself for '/'); PathNotFound when absent."""
    node = find(root, path, load)
    if node is None:
        raise PathNotFound(f"{path}: no such file or directory")
    return node
