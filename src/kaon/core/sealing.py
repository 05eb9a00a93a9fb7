"""Sealing short secrets at rest (S3 secret keys in the metadata database).

SigV4 verification needs the secret itself, so it cannot be hashed: it is encrypted with a
key that lives outside the database ($KAON_HOME/secret.key, 0600, never visible to user code).
The encryption is `cryptography`'s Fernet (AES-128-CBC then HMAC-SHA256, a random IV per
seal), not ours: the 32-byte key is Fernet's signing and encryption keys. Sealed text:
"sealed:v1:" + the Fernet token.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from kaon.core.errors import CorruptObject

MARK = "sealed:v1:"
KEY_BYTES = 32


def is_sealed(text: str) -> bool:
    return text.startswith(MARK)


def seal(key: bytes, plain: str) -> str:
    return MARK + _fernet(key).encrypt(plain.encode()).decode()


def open_sealed(key: bytes, sealed: str) -> str:
    if not is_sealed(sealed):
        raise CorruptObject("not a sealed secret")
    try:
        return _fernet(key).decrypt(sealed[len(MARK) :].encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise CorruptObject(
            "an S3 secret in the database does not open with $KAON_HOME/secret.key: "
            "restore the key file this database was written with"
        ) from exc


def _fernet(key: bytes) -> Fernet:
    if len(key) != KEY_BYTES:
        raise CorruptObject(f"the sealing key must be {KEY_BYTES} bytes, not {len(key)}")
    return Fernet(base64.urlsafe_b64encode(key))
