"""Paths inside a repo: always absolute, '/'-separated, normalised, never escaping the root."""

from __future__ import annotations

import re

from kaon.core.errors import InvalidInput

ROOT = "/"
# already normal: '/'-led components, none empty, '.' or '..', no backslash or control character
_NORMAL = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[^/\\\x00-\x1f]+)+\Z")


def normalize(path: str) -> str:
    """Normalise a repo path to '/a/b' form; reject '..', NUL and control characters.

    >>> normalize("data//x/")
    '/data/x'
    """
    if _NORMAL.match(path):
        return path
    if "\x00" in path or any(ord(c) < 32 for c in path):
        raise InvalidInput(f"invalid path {path!r}: control characters are not allowed")
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise InvalidInput(f"path {path!r} escapes the repo: '..' is not allowed in repo paths")
        parts.append(part)
    return "/" + "/".join(parts)


def split(path: str) -> list[str]:
    """Components of a normalised path ('/' → [])."""
    return [p for p in path.split("/") if p]


def join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name if parent != ROOT else "/" + name


def parent_and_name(path: str) -> tuple[str, str]:
    parts = split(path)
    if not parts:
        raise InvalidInput("the repo root has no name")
    return "/" + "/".join(parts[:-1]), parts[-1]


def is_under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or inside it (both normalised)."""
    return prefix == ROOT or path == prefix or path.startswith(prefix.rstrip("/") + "/")
