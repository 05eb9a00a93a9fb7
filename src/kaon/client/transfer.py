"""The SDK's low-level calls that move chunks (mixed into Client): which the server lacks,
packs over HTTP or through the drop folder, server-side chunking, leases and stagings.
`Client.put` (kaon.client.upload) drives them; a third-party uploader may too (docs/api.md)."""

from __future__ import annotations

from typing import Any


class TransferApi:
    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def open_staging(self, repo: str, branch: str) -> str:
        """Low level: a staging for puts of a coming commit to `repo`@`branch`; its id."""
        doc = self._json("POST", f"/v1/repos/{repo}/stagings", json_body={"branch": branch})
        return str(doc["id"])

    def stage(self, repo: str, staging: str, puts: list[dict[str, Any]]) -> int:
        """Low level: stage puts ({path, size, chunks}); the number of files staged so far."""
        doc = self._json("POST", f"/v1/repos/{repo}/stagings/{staging}", json_body={"puts": puts})
        return int(doc["files"])

    # An upload names a lease (32 hex digits it chose, e.g. uuid4().hex) with each request:
    # the server's gc spares what it asked about or sent until `release_lease` (after the
    # commit) or until the lease expires, some minutes after its last request or renewal.
    # An upload names a lease (32 hex digits it chose, e.g. uuid4().hex) with each request:
    # the server's gc spares what it asked about or sent until `release_lease` (after the
    # commit) or until the lease expires, some minutes after its last request or renewal.
    def missing_chunks(self, digests: list[str], lease: str | None = None) -> list[str]:
        body = {"digests": digests, "lease": lease}
        doc = self._json("POST", "/v1/chunks/missing", json_body=body)
        missing: list[str] = doc["missing"]
        return missing

    def upload_pack(self, body: bytes, lease: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = self._json("POST", "/v1/packs", content=body, params={"lease": lease})
        return doc

    def renew_lease(self, lease: str) -> None:
        """Keep an upload's lease alive (created if new)."""
        self._json("POST", f"/v1/leases/{lease}")

    def release_lease(self, lease: str) -> None:
        """End an upload's lease: its commit is made (or the upload given up)."""
        self._json("DELETE", f"/v1/leases/{lease}")

    def pack_drop(self) -> str:
        """The folder where a client on the server's machine may leave packs (its `.token`
        file holds the token such a client sends back)."""
        return str(self._json("GET", "/v1/packs/drop")["dir"])

    def local_content(self, repo: str, ref: str, path: str, token: str) -> dict[str, Any]:
        """Where the file's content lies in the server's own files (this client runs on its
        machine: `token` is the drop folder's): {commit, size, chunks: [[file, offset,
        stored length, raw length, codec], ...]}."""
        body = {"ref": ref, "path": path, "token": token}
        doc: dict[str, Any] = self._json("POST", f"/v1/repos/{repo}/content/local", json_body=body)
        return doc

    def store_dropped_pack(self, name: str, token: str, lease: str | None = None) -> dict[str, Any]:
        """Have the server verify and store the pack left as `name` in its drop folder."""
        body = {"name": name, "token": token, "lease": lease}
        doc: dict[str, Any] = self._json("POST", "/v1/packs/drop", json_body=body)
        return doc

    def chunk_local_file(
        self,
        key: tuple[str, int, int, int],
        start: int,
        limit: int,
        token: str,
        lease: str | None = None,
    ) -> dict[str, Any]:
        """Have the server (on this machine) chunk and store the file of `key` (path, size,
        mtime_ns, inode) from `start` for about `limit` bytes: {chunks, consumed, new_...}."""
        path, size, mtime_ns, inode = key
        body = {
            "path": path,
            "size": size,
            "mtime_ns": mtime_ns,
            "inode": inode,
            "start": start,
            "limit": limit,
            "token": token,
            "lease": lease,
        }
        doc: dict[str, Any] = self._json("POST", "/v1/chunks/local", json_body=body)
        return doc
