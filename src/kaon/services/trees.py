"""TreeStore: trees and commit objects in the ObjectStore, zstd-compressed, with an LRU cache."""

from __future__ import annotations

import threading
from collections import OrderedDict

import blake3

from kaon.core import zstd
from kaon.core.commit import Commit
from kaon.core.errors import CorruptObject, NotFound
from kaon.core.ids import Digest
from kaon.core.tree import Tree
from kaon.ports.objectstore import ObjectStore
from kaon.services.objectkeys import commit_key, tree_key

_CACHE = 4096


class TreeStore:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects
        self._cache: OrderedDict[Digest, Tree] = OrderedDict()
        self._saved: set[Digest] = set()
        self._lock = threading.Lock()

    def load(self, d: Digest) -> Tree:
        with self._lock:
            tree = self._cache.get(d)
            if tree is not None:
                self._cache.move_to_end(d)
                return tree
        try:
            raw = self._objects.get(tree_key(d))
        except NotFound as exc:
            raise CorruptObject(f"tree {d[:12]} is missing from the object store") from exc
        tree = Tree.decode(zstd.decompressor().decompress(raw))
        self._remember(d, tree)
        return tree

    def save(self, tree: Tree) -> Digest:
        encoded = tree.encode()
        d = Digest(blake3.blake3(encoded).hexdigest())
        with self._lock:
            known = d in self._saved
        if not known:
            self._objects.put(tree_key(d), zstd.compressor(3).compress(encoded))
            with self._lock:
                self._saved.add(d)
        self._remember(d, tree)
        return d

    def save_commit(self, commit: Commit) -> None:
        self._objects.put(commit_key(commit.id), commit.encode())

    def sync(self) -> None:
        """Make every object written so far durable (before a commit becomes visible)."""
        self._objects.sync()

    def forget_saved(self) -> None:
        """Called after gc: objects may have been deleted, so re-write on next save."""
        with self._lock:
            self._saved.clear()
            self._cache.clear()

    def _remember(self, d: Digest, tree: Tree) -> None:
        with self._lock:
            self._cache[d] = tree
            self._cache.move_to_end(d)
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
