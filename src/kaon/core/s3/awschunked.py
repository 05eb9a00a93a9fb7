"""aws-chunked bodies (Content-Encoding: aws-chunked), decoded incrementally.

    signed:    <hex size>;chunk-signature=<sig>\\r\\n<bytes>\\r\\n ... 0;chunk-signature=<sig>\\r\\n
    unsigned:  <hex size>\\r\\n<bytes>\\r\\n ... 0\\r\\n
    then optional trailers (x-amz-checksum-crc32:<base64>\\r\\n ...) and a final \\r\\n.

Each signed chunk's signature chains from the previous one (the request's signature for the
first): the decoder checks every one, so a tampered or truncated body is refused. Pieces may
arrive split anywhere; memory stays bounded by the largest header line and the piece fed.
"""

from __future__ import annotations

import hashlib
import hmac

from kaon.core.errors import InvalidInput, SignatureMismatch
from kaon.core.s3.sigv4 import Verified, chunk_string_to_sign, sign

MAX_LINE = 4096
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    def __init__(self, signing: Verified | None) -> None:
        """`signing`: verify chunk signatures against this request (None: unsigned chunks)."""
        self._signing = signing
        self._previous = signing.seed if signing else ""
        self._buf = bytearray()
        self._state = _SIZE
        self._left = 0
        self._chunk_sig = ""
        self._hash = hashlib.sha256()
        self.trailers: dict[str, str] = {}
        self.decoded = 0

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        """Decoded payload bytes found in `data` (in order)."""
        if self._state == _DONE:
            if data.strip(b"\r\n"):
                raise InvalidInput("aws-chunked body: bytes after the final chunk")
            return []
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._state == _DATA:
                if not self._buf:
                    return out
                n = min(self._left, len(self._buf))
                piece = bytes(self._buf[:n])
                del self._buf[:n]
                self._left -= n
                if self._signing:
                    self._hash.update(piece)
                self.decoded += n
                out.append(piece)
                if self._left == 0:
                    self._state = _DATA_END
                continue
            line = self._line()
            if line is None:
                return out
            if self._state == _DATA_END:
                if line:
                    raise InvalidInput("aws-chunked body: chunk longer than its declared size")
                self._check_chunk()
                self._state = _SIZE
            elif self._state == _SIZE:
                self._start_chunk(line)
            elif self._state == _TRAILER:
                if not line:
                    self._state = _DONE
                    return out
                name, sep, value = line.partition(":")
                if not sep:
                    raise InvalidInput(f"aws-chunked body: malformed trailer {line[:60]!r}")
                self.trailers[name.strip().lower()] = value.strip()

    def finish(self) -> None:
        if self._state != _DONE:
            raise InvalidInput("aws-chunked body ended before its final chunk: upload again")

    def _line(self) -> str | None:
        end = self._buf.find(b"\r\n")
        if end < 0:
            if len(self._buf) > MAX_LINE:
                raise InvalidInput("aws-chunked body: chunk header line too long")
            return None
        raw = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return raw.decode("latin-1")

    def _start_chunk(self, line: str) -> None:
        size_text, _, ext = line.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise InvalidInput(f"aws-chunked body: bad chunk size {size_text[:20]!r}") from None
        name, _, sig = ext.partition("=")
        if self._signing is not None:
            if name.strip() != "chunk-signature" or not sig:
                raise SignatureMismatch("aws-chunked body: a chunk has no chunk-signature")
            self._chunk_sig = sig.strip()
        self._left = size
        if size == 0:
            self._check_chunk()
            self._state = _TRAILER
        else:
            self._state = _DATA

    def _check_chunk(self) -> None:
        if self._signing is None:
            return
        s = self._signing
        expected = sign(
            s.key, chunk_string_to_sign(s.amz_date, s.scope, self._previous, self._hash.hexdigest())
        )
        if not hmac.compare_digest(expected, self._chunk_sig):
            raise SignatureMismatch(
                "aws-chunked body: a chunk signature does not match its bytes (tampered or "
                "truncated upload?)"
            )
        self._previous = self._chunk_sig
        self._hash = hashlib.sha256()
