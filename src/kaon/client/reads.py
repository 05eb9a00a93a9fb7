"""The SDK's reads for a file viewer (mixed into Client; the web UI's repo pages use them):
a byte range of a file, its bytes streamed on a connection of their own, and the commits
that changed a file, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kaon.client.models import from_json
from kaon.client.transport import Transport
from kaon.core.errors import InvalidInput, InvalidRange
from kaon.wire import FileHistoryOut


class ReadsApi:
    _token: str | None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @property
    def endpoint(self) -> str:  # pragma: no cover
        raise NotImplementedError

    @property
    def transport(self) -> Transport:  # pragma: no cover
        raise NotImplementedError

    def read_range(
        self, repo: str, ref: str, path: str, start: int = 0, length: int = 65536
    ) -> tuple[bytes, int]:
        """Bytes [start, start + length) of a file (fewer at its end; none past it) and the
        file's size: only those bytes are read and sent (a preview of a huge file)."""
        if start < 0 or length <= 0:
            raise InvalidInput("a range starts at 0 or after and has a positive length")
        params = {"ref": ref, "path": path}
        headers = {"Range": f"bytes={start}-{start + length - 1}"}
        try:
            with self.transport.open(
                "GET", f"/v1/repos/{repo}/content", params=params, headers=headers
            ) as r:
                data = r.read()
                total = r.headers.get("content-range", "").rpartition("/")[2]
                return data, int(total) if total.isdigit() else len(data)
        except InvalidRange as exc:
            return b"", int(exc.details.get("size", 0))

    def file_bytes(self, repo: str, ref: str, path: str) -> Iterator[bytes]:
        """A file's content, piece by piece as it comes (the request is sent at the first
        piece: stat the file first to fail early). On a connection of its own: the pieces
        may be asked for from any thread (a web server streaming them), while this client's
        other calls go on."""
        params = {"ref": ref, "path": path}
        own = Transport(self.endpoint, self._token)
        try:
            with own.open("GET", f"/v1/repos/{repo}/content", params=params) as r:
                yield from r.iter_bytes()
        finally:
            own.close()

    def file_history(
        self, repo: str, path: str, ref: str = "master", limit: int = 50, scan: int = 1000
    ) -> FileHistoryOut:
        """A page of the commits that changed `path`, newest first, from `ref`: at most
        `limit` of them, looking at `scan` commits at most; its `next` is the next page's
        `ref` (None after the repo's first commit)."""
        params = {"ref": ref, "path": path, "limit": limit, "scan": scan}
        return from_json(
            FileHistoryOut, self._json("GET", f"/v1/repos/{repo}/history", params=params)
        )
