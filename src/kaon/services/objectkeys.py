"""Where each kind of immutable object lives in the ObjectStore."""

from __future__ import annotations

PACKS = "packs/"
TREES = "trees/"
COMMITS = "commits/"


def pack_key(pack_id: str) -> str:
    return f"{PACKS}{pack_id[:2]}/{pack_id}"


def tree_key(digest: str) -> str:
    return f"{TREES}{digest[:2]}/{digest}"


def commit_key(commit_id: str) -> str:
    return f"{COMMITS}{commit_id[:2]}/{commit_id}"


def name_of(key: str) -> str:
    """The id or digest at the end of a key."""
    return key.rsplit("/", 1)[-1]
