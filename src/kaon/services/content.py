"""StoreContent: the Content and Manifests ports over this platform's repos (see
kaon.ports.content)."""

from __future__ import annotations

from pathlib import Path

from kaon.core.address import Ref
from kaon.core.errors import ChunkNotFound
from kaon.core.ids import Digest
from kaon.ports.content import Manifest, ManifestFile, StoredRange, TreeRef
from kaon.ports.metadata import ChunkIndex, ChunkLocation
from kaon.services.files import FileService
from kaon.services.localfs import checkout
from kaon.services.objectkeys import pack_key
from kaon.services.repos import RepoService

_LOCATE_BATCH = 512


class StoreContent:
    def __init__(
        self, repos: RepoService, files: FileService, chunks: ChunkIndex | None = None
    ) -> None:
        self._repos = repos
        self._files = files
        self._chunks = chunks  # where chunks lie (needed by `manifest` only)

    def checkout(self, tree: TreeRef, dest: Path) -> int:
        commit = self._repos.resolve_required(tree.repo, Ref(tree.commit))
        return checkout(self._files, commit, tree.path, dest)

    def manifest(self, tree: TreeRef) -> Manifest:
        if self._chunks is None:
            raise RuntimeError("StoreContent was built without the chunk index: no manifests")
        commit = self._repos.resolve_required(tree.repo, Ref(tree.commit))
        walked = list(self._files.walk(commit, tree.path))
        wanted = list(dict.fromkeys(c.digest for _, node in walked for c in node.chunks))
        where: dict[Digest, ChunkLocation] = {}
        for at in range(0, len(wanted), _LOCATE_BATCH):
            where |= self._chunks.locate(wanted[at : at + _LOCATE_BATCH])
        files = []
        for rel, node in walked:
            ranges = []
            for ref in node.chunks:
                loc = where.get(ref.digest)
                if loc is None:
                    raise ChunkNotFound(
                        f"chunk {ref.digest[:12]} of {rel} is missing from the store"
                    )
                key = pack_key(loc.pack)
                ranges.append(StoredRange(key, loc.offset, loc.stored_len, loc.raw_len, loc.codec))
            files.append(ManifestFile(rel, node.size, tuple(ranges)))
        return Manifest(tree, tuple(files))
