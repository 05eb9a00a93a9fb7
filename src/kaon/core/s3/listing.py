"""S3 listings over trees: keys in byte order, prefix, delimiter, start-after and max-keys.

Keys are repo paths without the leading '/'. S3 orders keys by their UTF-8 bytes (code point
order), so a directory `a` sorts as `a/`, after a file `a.txt` though trees sort entries by
name: each tree's entries are re-keyed (and re-sorted only when that changes the order) once
and cached. A page starts with a binary search for the marker in every directory on the way
down, so the 1,000th page of a 100,000-key prefix costs what the first does.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from kaon.core.tree import DirNode, FileNode, Node, Tree, TreeLoader

_CACHE = 256
_cache: OrderedDict[int, tuple[weakref.ref[Tree], list[str], list[Node]]] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Listing:
    objects: list[tuple[str, FileNode]]
    prefixes: list[str]
    truncated: bool

    @property
    def last(self) -> str:
        """The greatest key or common prefix returned (the next page starts after it)."""
        return max([k for k, _ in self.objects[-1:]] + self.prefixes[-1:], default="")


def keyed(tree: Tree) -> tuple[list[str], list[Node]]:
    """The entries of `tree` and their keys ('name', or 'name/' for a directory), in key order."""
    with _lock:
        hit = _cache.get(id(tree))
        if hit is not None and hit[0]() is tree:
            _cache.move_to_end(id(tree))
            return hit[1], hit[2]
    entries = list(tree.entries)
    keys = [e.name + "/" if isinstance(e, DirNode) else e.name for e in entries]
    if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):
        pairs = sorted(zip(keys, entries, strict=True), key=lambda p: p[0])
        keys, entries = [k for k, _ in pairs], [e for _, e in pairs]
    with _lock:
        _cache[id(tree)] = (weakref.ref(tree), keys, entries)
        while len(_cache) > _CACHE:
            _cache.popitem(last=False)
    return keys, entries


def list_keys(
    root: Tree,
    load: TreeLoader,
    prefix: str = "",
    delimiter: str = "",
    after: str = "",
    limit: int = 1000,
) -> Listing:
    """Up to `limit` keys and common prefixes after `after` (exclusive) starting with `prefix`."""
    if limit <= 0:
        return Listing([], [], False)
    # descend to the directory that holds the prefix: every key below starts with `base`
    base, tree = "", root
    while "/" in prefix[len(base) :]:
        name = prefix[len(base) :].split("/", 1)[0]
        node = tree.get(name)
        if not isinstance(node, DirNode):
            return Listing([], [], False)
        base, tree = base + name + "/", load(node.tree)
    objects: list[tuple[str, FileNode]] = []
    prefixes: list[str] = []
    for kind, key, node in _walk(tree, base, load, prefix, delimiter, after):
        if len(objects) + len(prefixes) == limit:
            return Listing(objects, prefixes, True)
        if kind == "prefix":
            prefixes.append(key)
        else:
            assert isinstance(node, FileNode)
            objects.append((key, node))
    return Listing(objects, prefixes, False)


def _walk(
    tree: Tree, base: str, load: TreeLoader, prefix: str, delimiter: str, after: str
) -> Iterator[tuple[str, str, Node | None]]:
    """("object", key, node) and ("prefix", common prefix, None) in key order."""
    last_prefix = ""
    stack: list[tuple[list[str], list[Node], str, int]] = []

    def frame(t: Tree, b: str) -> tuple[list[str], list[Node], str, int]:
        keys, entries = keyed(t)
        lo = 0
        if len(prefix) > len(b):
            lo = bisect_left(keys, prefix[len(b) :])
        if after[: len(b)] == b and len(after) > len(b):
            rel = after[len(b) :]
            i = bisect_right(keys, rel)
            if i > 0 and keys[i - 1].endswith("/") and rel.startswith(keys[i - 1]):
                i -= 1  # the marker is inside this directory: resume within it
            lo = max(lo, i)
        elif after > b and after[: len(b)] != b:
            lo = len(keys)  # the marker is past everything below `b`
        return keys, entries, b, lo

    stack.append(frame(tree, base))
    while stack:
        keys, entries, b, i = stack[-1]
        if i >= len(keys):
            stack.pop()
            continue
        stack[-1] = (keys, entries, b, i + 1)
        full = b + keys[i]
        if not full.startswith(prefix):
            if full > prefix:
                break  # only the top directory holds keys outside the prefix: past it now
            continue
        entry = entries[i]
        if delimiter:
            cut = full.find(delimiter, len(prefix))
            if cut >= 0:  # this key, or every key below this directory, rolls up
                common = full[: cut + len(delimiter)]
                if common != last_prefix and common > after and not after.startswith(common):
                    last_prefix = common
                    yield "prefix", common, None
                continue
        if isinstance(entry, DirNode):
            stack.append(frame(load(entry.tree), full))
        elif full > after:
            yield "object", full, entry
