"""Sealing short secrets at rest (S3 secret keys in the metadata database).

SigV4 verification needs the secret itself, so it cannot be hashed: it is encrypted with a
key that lives outside the database ($KAON_HOME/secret.key, 0600, never visible to user code).
Stdlib only, so no new dependency: encrypt-then-MAC with HMAC-SHA256 - a keystream of
HMAC(k_enc, nonce || counter) blocks XORed with the secret (HMAC as a PRF in counter mode),
then HMAC(k_mac, version || nonce || ciphertext) as the tag; k_enc and k_mac are derived from
the key. A random 16-byte nonce per seal. Sealed text: "sealed:v1:" + urlsafe base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from kaon.core.errors import CorruptObject

MARK = "sealed:v1:"
KEY_BYTES = 32
_NONCE = 16
_TAG = 32


def is_sealed(text: str) -> bool:
    return text.startswith(MARK)


def seal(key: bytes, plain: str) -> str:
    enc, mac = _keys(key)
    nonce = secrets.token_bytes(_NONCE)
    data = plain.encode()
    body = bytes(a ^ b for a, b in zip(data, _stream(enc, nonce, len(data)), strict=True))
    tag = hmac.digest(mac, MARK.encode() + nonce + body, hashlib.sha256)
    return MARK + base64.urlsafe_b64encode(nonce + body + tag).decode()


def open_sealed(key: bytes, sealed: str) -> str:
    if not is_sealed(sealed):
        raise CorruptObject("not a sealed secret")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(MARK) :])
    except ValueError as exc:
        raise CorruptObject("a sealed secret is damaged") from exc
    nonce, body, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    enc, mac = _keys(key)
    want = hmac.digest(mac, MARK.encode() + nonce + body, hashlib.sha256)
    if len(raw) < _NONCE + _TAG or not hmac.compare_digest(tag, want):
        raise CorruptObject(
            "an S3 secret in the database does not open with $KAON_HOME/secret.key: "
            "restore the key file this database was written with"
        )
    return bytes(a ^ b for a, b in zip(body, _stream(enc, nonce, len(body)), strict=True)).decode()


def _keys(key: bytes) -> tuple[bytes, bytes]:
    if len(key) != KEY_BYTES:
        raise CorruptObject(f"the sealing key must be {KEY_BYTES} bytes, not {len(key)}")
    enc = hmac.digest(key, b"kaon seal: encryption", hashlib.sha256)
    mac = hmac.digest(key, b"kaon seal: authentication", hashlib.sha256)
    return enc, mac


def _stream(key: bytes, nonce: bytes, size: int) -> bytes:
    blocks = (size + 31) // 32
    out = b"".join(
        hmac.digest(key, nonce + i.to_bytes(4, "big"), hashlib.sha256) for i in range(blocks)
    )
    return out[:size]
