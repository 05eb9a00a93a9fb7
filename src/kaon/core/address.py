"""Addresses of data: `repo`, `repo@ref`, `repo@ref:/path` (pachctl and git habits).

A ref is a branch (`master`), a commit id or unique prefix (`3fa46b`), optionally followed by
ancestry: `master^` (parent), `master^^` or `master^2` or `master~2` (grandparent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kaon.core import paths
from kaon.core.errors import InvalidInput
from kaon.core.ids import RepoName, repo_name

_ANCESTRY = re.compile(r"((?:\^\d*|~\d*)*)$")
# a branch name or commit id prefix, then ancestry (documented in kaon.wire.base.REF)
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,62}(?:[\^~][0-9]{0,6})*\Z")


@dataclass(frozen=True)
class Ref:
    """A commit reference before resolution: a branch or commit prefix plus a number of generations back."""

    base: str
    back: int = 0

    def __str__(self) -> str:
        return self.base + ("^" + str(self.back) if self.back else "")


def parse_ref(text: str) -> Ref:
    """Parse 'master', 'master^', 'master^^', 'master^3', 'master~2', '3fa46b'."""
    if not text:
        raise InvalidInput("empty ref: name a branch or a commit id")
    match = _ANCESTRY.search(text)
    assert match is not None  # the pattern matches the empty suffix
    suffix = match.group(1)
    base = text[: len(text) - len(suffix)]
    if not base:
        raise InvalidInput(f"invalid ref {text!r}: name a branch or a commit before '^' or '~'")
    if not _REF.match(text):
        raise InvalidInput(
            f"invalid ref {text!r}: name a branch or a commit (id or prefix), optionally "
            "followed by ^, ^N or ~N (N up to 6 digits)"
        )
    back = 0
    for op in re.findall(r"[\^~]\d*", suffix):
        back += int(op[1:]) if len(op) > 1 else 1
    return Ref(base, back)


@dataclass(frozen=True)
class Address:
    repo: RepoName
    ref: Ref | None
    path: str

    @property
    def ref_text(self) -> str:
        return str(self.ref) if self.ref else "master"

    def __str__(self) -> str:
        out = str(self.repo)
        if self.ref is not None:
            out += "@" + str(self.ref)
        if self.path != paths.ROOT:
            out += ":" + self.path
        return out


def parse_address(text: str, *, default_branch: str | None = None) -> Address:
    """Parse 'repo', 'repo@ref', 'repo@ref:/path' (a path without ref means the default branch)."""
    if not text:
        raise InvalidInput("empty address: expected repo@branch[:/path]")
    path = paths.ROOT
    head = text
    if ":" in text:
        head, raw_path = text.split(":", 1)
        path = paths.normalize(raw_path)
    ref: Ref | None = None
    if "@" in head:
        repo_text, ref_text = head.split("@", 1)
        ref = parse_ref(ref_text)
    else:
        repo_text = head
        if default_branch is not None:
            ref = Ref(default_branch)
    return Address(repo_name(repo_text), ref, path)
