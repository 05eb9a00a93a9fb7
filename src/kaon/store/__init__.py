"""ObjectStore backends: local filesystem (`local`), in-memory reference (`memory`).

Every backend accepts exactly the same keys, checked here, so a key that works on one backend
works on all of them and can never escape a backend's root:

* 1 to 1024 characters of printable ASCII (no space, no backslash, no control characters);
* '/'-separated components, each 1 to 255 characters, never '.' or '..';
* no leading or trailing '/', no empty component ('a//b');
* no component starting with '.tmp-' (reserved for in-flight writes of the local backend).
"""

from __future__ import annotations

from kaon.core.errors import InvalidInput

MAX_KEY_LENGTH = 1024
MAX_COMPONENT_LENGTH = 255
TEMP_PREFIX = ".tmp-"


def _check_chars(what: str, value: str) -> None:
    for ch in value:
        if not ("\x21" <= ch <= "\x7e") or ch == "\\":
            raise InvalidInput(
                f"invalid object {what} {value!r}: character {ch!r} is not allowed "
                "(use printable ASCII without spaces or backslashes)"
            )


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a valid object key; raise InvalidInput otherwise."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"invalid object key {key!r}: a key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"invalid object key {key[:40]!r}...: longer than {MAX_KEY_LENGTH} characters"
        )
    _check_chars("key", key)
    if key.startswith("/"):
        raise InvalidInput(f"invalid object key {key!r}: keys are relative (no leading '/')")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidInput(
                f"invalid object key {key!r}: empty, '.' and '..' components are not allowed"
            )
        if len(part) > MAX_COMPONENT_LENGTH:
            raise InvalidInput(
                f"invalid object key {key!r}: a component is longer than "
                f"{MAX_COMPONENT_LENGTH} characters"
            )
        if part.startswith(TEMP_PREFIX):
            raise InvalidInput(
                f"invalid object key {key!r}: components starting with {TEMP_PREFIX!r} are reserved"
            )
    return key


def validate_prefix(prefix: str) -> str:
    """Return `prefix` unchanged if some valid key could start with it; else raise InvalidInput.

    Every component before the last '/' must be a valid key component; the text after it is a
    partial component and may be anything made of allowed characters (including '').
    """
    if not isinstance(prefix, str):
        raise InvalidInput(f"invalid object prefix {prefix!r}: a prefix must be a string")
    if not prefix:
        return prefix
    _check_chars("prefix", prefix)
    if prefix.startswith("/"):
        raise InvalidInput(f"invalid object prefix {prefix!r}: keys are relative (no leading '/')")
    head, _, _ = prefix.rpartition("/")
    if head:
        try:
            validate_key(head)
        except InvalidInput as exc:
            raise InvalidInput(f"invalid object prefix {prefix!r}: {exc.message}") from exc
    return prefix
