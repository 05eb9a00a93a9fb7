"""Pachyderm globs over a commit's paths: which files and directories become datums.

Syntax (as Pachyderm's): `/` is the root (one match: everything), `*` any characters but `/`,
`**` any characters including `/` (any depth), `?` one character but `/`, `[abc]`, `[a-z]`,
`[!abc]` character classes, `{a,b}` alternatives, `\\x` a literal `x`, and `( … )` capture
groups (alternatives inside with `|`) that `join_on`/`group_by` name as `$1`, `$2` (or `${1}`).
A glob matches files and directories alike (a directory match = everything below it). A glob
without a leading `/` is taken from the root; a trailing `/` is dropped.

The commit is read through a `Listing`, lazily: `children(dir_path)` is called only for the
directories a glob can reach, so `/*` reads the root tree alone, `/images/*` two trees, and
only `**` walks everything. Each glob is translated once to a regular expression (cached), and
each path segment to its own one to prune the walk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import blake3

from kaon.core.errors import InvalidInput
from kaon.core.ids import Digest
from kaon.core.tree import DirNode, FileNode, Tree, TreeLoader


class Entry(NamedTuple):
    """One entry of a directory listing."""

    name: str
    is_dir: bool
    digest: str  # a file's content digest, a directory's tree digest
    size: int  # bytes (a directory: everything below it)


@dataclass(frozen=True)
class Listing:
    """A commit as the glob walk reads it: the root's digest and size, and the entries of a
    directory (absolute path, "/" for the root; called only for directories that exist)."""

    commit: str
    root_digest: str
    root_size: int
    children: Callable[[str], Sequence[Entry]]


Segment = re.Pattern[str] | str | None  # a pattern, a literal name, or None: any name (`*`)
_META = re.compile(r"[*?\[\]{}()\\]")


class Match(NamedTuple):
    path: str  # absolute, "/" for the root
    entry: Entry
    groups: tuple[str, ...]  # what each capture group matched


@dataclass(frozen=True)
class Glob:
    text: str  # normalised: leading "/", no trailing "/"
    regex: re.Pattern[str]  # the whole path, with capture groups
    segments: tuple[Segment, ...]  # one per path segment (empty: a group spans segments)
    deep_from: int | None  # index of the first segment holding `**` (None: none)
    groups: int  # how many capture groups

    def match(self, listing: Listing) -> list[Match]:
        """Every path of the listing the glob matches, sorted, with its captured groups."""
        if self.text == "/":
            if not listing.children("/"):
                return []  # an empty commit has no datum
            root = Entry("", True, listing.root_digest, listing.root_size)
            return [Match("/", root, ())]
        if self.groups == 0 and self.segments and self.deep_from is None:
            # the segments decide alone: no full-path match needed
            found = [Match(path, entry, ()) for path, entry in self._candidates(listing)]
        else:
            found = [
                Match(path, entry, m.groups())
                for path, entry in self._candidates(listing)
                if (m := self.regex.fullmatch(path)) is not None
            ]
        found.sort(key=lambda m: m.path)
        return found

    def stream(self, listing: Listing) -> Iterator[Match]:
        """match()'s matches, in its order, lazily where the order allows it: a glob of one
        path segment (`/*`, `/*.csv`) reads the root's entries, already sorted by name, so the
        first match comes before the last entry is looked at."""
        if self.text == "/" or len(self.segments) != 1 or self.deep_from is not None:
            yield from self.match(listing)
            return
        for path, entry in self._candidates(listing):
            if self.groups == 0:
                yield Match(path, entry, ())
            elif (m := self.regex.fullmatch(path)) is not None:
                yield Match(path, entry, m.groups())

    def _candidates(self, listing: Listing) -> Iterator[tuple[str, Entry]]:
        if not self.segments:  # a group or alternative spans several segments: walk all
            yield from _walk(listing, "/")
            return
        level = ["/"]
        last = len(self.segments) - 1
        for i, segment in enumerate(self.segments):
            if i == self.deep_from:
                for d in level:
                    yield from _walk(listing, d)
                return
            below: list[str] = []
            for d in level:
                prefix = d if d == "/" else d + "/"
                for entry in listing.children(d):
                    if segment is None:
                        pass
                    elif isinstance(segment, str):
                        if entry.name != segment:
                            continue
                    elif segment.fullmatch(entry.name) is None:
                        continue
                    if i == last:
                        yield prefix + entry.name, entry
                    elif entry.is_dir:
                        below.append(prefix + entry.name)
            level = below


def _walk(listing: Listing, top: str) -> Iterator[tuple[str, Entry]]:
    """Every entry below `top` (not `top` itself), parents before children."""
    stack = [top]
    while stack:
        d = stack.pop()
        prefix = d if d == "/" else d + "/"
        for entry in listing.children(d):
            path = prefix + entry.name
            yield path, entry
            if entry.is_dir:
                stack.append(path)


def matches(glob: str, listing: Listing) -> list[Match]:
    return compile_glob(glob).match(listing)


@lru_cache(maxsize=256)
def compile_glob(glob: str) -> Glob:
    """The compiled glob (InvalidInput naming what is wrong when it is not a valid glob)."""
    text = "/" + glob.strip().strip("/") if glob.strip() not in ("", "/") else "/"
    if not glob.strip():
        raise InvalidInput("empty glob: use '/' (everything, one datum) or '/*' (one per entry)")
    if text == "/":
        return Glob("/", re.compile("/"), (), None, 0)
    pattern, groups = _translate(text, capture=True)
    try:
        regex = re.compile(pattern)
    except re.error as e:  # pragma: no cover - _translate checks the syntax
        raise InvalidInput(f"invalid glob {glob!r}: {e}") from None
    parts = _split(text[1:])
    segments: tuple[Segment, ...] = ()
    deep_from = None
    if parts is not None:
        segments = tuple(_segment(p) for p in parts)
        deep = [i for i, p in enumerate(parts) if "**" in p]
        deep_from = deep[0] if deep else None
    return Glob(text, regex, segments, deep_from, groups)


def _segment(part: str) -> Segment:
    if part == "*":
        return None
    if _META.search(part) is None:
        return part
    return re.compile(_translate(part, capture=False)[0])


def _split(text: str) -> list[str] | None:
    """The segments between `/` (None: a group or an alternative spans a `/`)."""
    parts, depth, current, i = [], 0, "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if ch == "[":
            end = _class_end(text, i)
            current += text[i : end + 1]
            i = end + 1
            continue
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "/":
            if depth:
                return None
            parts.append(current)
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    parts.append(current)
    return parts


def _class_end(text: str, start: int) -> int:
    i = start + 1
    if i < len(text) and text[i] in "!^":
        i += 1
    if i < len(text) and text[i] == "]":
        i += 1
    end = text.find("]", i)
    if end < 0:
        raise InvalidInput(f"invalid glob {text!r}: '[' at {start} is never closed with ']'")
    return end


def _translate(text: str, *, capture: bool) -> tuple[str, int]:
    """The regular expression for a glob (or one segment), and its number of groups."""
    out: list[str] = []
    stack: list[str] = []  # open "(" and "{"
    groups = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 == len(text):
                raise InvalidInput(f"invalid glob {text!r}: it ends with a lone '\\'")
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        if ch == "*":
            if text.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = _class_end(text, i)
            body = text[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
            continue
        elif ch == "(":
            stack.append("(")
            groups += 1
            out.append("(" if capture else "(?:")
        elif ch == "{":
            stack.append("{")
            out.append("(?:")
        elif ch in ")}":
            want = "(" if ch == ")" else "{"
            if not stack or stack.pop() != want:
                raise InvalidInput(f"invalid glob {text!r}: unbalanced {ch!r} at {i}")
            out.append(")")
        elif (ch == "|" and stack and stack[-1] == "(") or (
            ch == "," and stack and stack[-1] == "{"
        ):
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if stack:
        raise InvalidInput(f"invalid glob {text!r}: {stack[-1]!r} is never closed")
    return "".join(out), groups


# -- listings -------------------------------------------------------------------------------


def tree_listing(commit: str, root: str, load: TreeLoader, size: int | None = None) -> Listing:
    """A Listing over kaon trees: `root` is the commit's root tree digest, `load` reads a tree
    (each directory is loaded when the walk reaches it, once); `size` the root's total size
    (None: summed from the root tree, loaded now)."""
    loaded: dict[str, Tree] = {}  # the root, when loaded for its size
    if size is None:
        loaded[root] = load(Digest(root))
        size = loaded[root].size
    digests: dict[str, str] = {"/": root}

    def children(path: str) -> list[Entry]:
        if path not in digests:
            _resolve(path)
        out: list[Entry] = []
        prefix = path if path == "/" else path + "/"
        digest = digests[path]
        tree = loaded.pop(digest, None) or load(Digest(digest))
        for node in tree.entries:
            if isinstance(node, DirNode):
                digests[prefix + node.name] = node.tree
                out.append(Entry(node.name, True, node.tree, node.size))
            elif isinstance(node, FileNode):
                out.append(Entry(node.name, False, node.content_digest, node.size))
        return out

    def _resolve(path: str) -> None:
        parent = path.rpartition("/")[0] or "/"
        if parent not in digests:
            _resolve(parent)
        children(parent)
        if path not in digests:
            raise InvalidInput(f"{path} is not a directory of commit {commit}")

    return Listing(commit, root, size, children)


def files_listing(commit: str, files: Mapping[str, tuple[str, int]]) -> Listing:
    """A Listing over {absolute file path: (content digest, size)} (tests, small inputs);
    a directory's digest is a hash of its entries."""
    dirs: dict[str, dict[str, Entry]] = {"/": {}}
    for path, (digest, size) in files.items():
        parent, _, name = path.rstrip("/").rpartition("/")
        dirs.setdefault(parent or "/", {})[name] = Entry(name, False, digest, size)
        while parent:
            parent = parent.rpartition("/")[0]
            dirs.setdefault(parent or "/", {})
    for d in sorted(dirs, key=lambda p: p.count("/") if p != "/" else 0, reverse=True):
        entries = dirs[d]
        hasher = blake3.blake3()
        for name in sorted(entries):
            hasher.update(f"{name}\0{entries[name].digest}\0".encode())
        if d != "/":
            parent, _, name = d.rpartition("/")
            size = sum(e.size for e in entries.values())
            dirs[parent or "/"][name] = Entry(name, True, hasher.hexdigest(), size)
        else:
            root = Entry("", True, hasher.hexdigest(), sum(e.size for e in entries.values()))
    listed = {d: sorted(entries.values()) for d, entries in dirs.items()}
    return Listing(commit, root.digest, root.size, lambda path: listed.get(path, []))
