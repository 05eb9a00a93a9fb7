"""Pachyderm globs over a commit's paths, read lazily."""

from __future__ import annotations

import pytest

from kaon.core.chunking import hash_chunk
from kaon.core.errors import InvalidInput
from kaon.core.ids import Digest
from kaon.core.pipelines.globs import (
    Entry,
    Listing,
    compile_glob,
    files_listing,
    matches,
    tree_listing,
)
from kaon.core.tree import ChunkRef, FileContent, Tree, apply_changes, content_digest

FILES = {
    "/a.txt": ("d1", 1),
    "/b.csv": ("d2", 2),
    "/foo1": ("d3", 3),
    "/foodir/x.txt": ("d4", 4),
    "/images/1.png": ("d5", 5),
    "/images/2.png": ("d6", 6),
    "/images/sub/3.png": ("d7", 7),
    "/file123": ("d8", 8),
    "/file456": ("d9", 9),
}


def listing() -> Listing:
    return files_listing("c1", FILES)


def paths(glob: str, source: Listing | None = None) -> list[str]:
    return [m.path for m in matches(glob, source or listing())]


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("/", ["/"]),
        ("/*", ["/a.txt", "/b.csv", "/file123", "/file456", "/foo1", "/foodir", "/images"]),
        ("*", ["/a.txt", "/b.csv", "/file123", "/file456", "/foo1", "/foodir", "/images"]),
        ("/*/*", ["/foodir/x.txt", "/images/1.png", "/images/2.png", "/images/sub"]),
        ("/images/*", ["/images/1.png", "/images/2.png", "/images/sub"]),
        ("/images/*/", ["/images/1.png", "/images/2.png", "/images/sub"]),
        ("/foo*", ["/foo1", "/foodir"]),
        ("/*.txt", ["/a.txt"]),
        ("/**.png", ["/images/1.png", "/images/2.png", "/images/sub/3.png"]),
        ("/images/**", ["/images/1.png", "/images/2.png", "/images/sub", "/images/sub/3.png"]),
        ("/file???", ["/file123", "/file456"]),
        ("/file[1-3]*", ["/file123"]),
        ("/file[!1]*", ["/file456"]),
        ("/{a.txt,b.csv}", ["/a.txt", "/b.csv"]),
        ("/missing", []),
        ("/a.txt", ["/a.txt"]),
        ("/images/1.png", ["/images/1.png"]),
        ("/a.txt/*", []),
    ],
)
def test_glob_matches(glob: str, expected: list[str]) -> None:
    assert paths(glob) == expected


def test_capture_groups() -> None:
    found = matches("/file(?)(?)(?)", listing())
    assert [(m.path, m.groups) for m in found] == [
        ("/file123", ("1", "2", "3")),
        ("/file456", ("4", "5", "6")),
    ]
    found = matches("/(*)/(*).png", listing())
    assert [(m.path, m.groups) for m in found] == [
        ("/images/1.png", ("images", "1")),
        ("/images/2.png", ("images", "2")),
    ]
    found = matches("/(images/*|foodir/*)", listing())  # a group spanning segments
    assert [m.groups[0] for m in found] == [
        "foodir/x.txt",
        "images/1.png",
        "images/2.png",
        "images/sub",
    ]
    assert compile_glob("/(a)/(b)-(*)").groups == 3


def test_matches_carry_digest_size_and_kind() -> None:
    (m,) = matches("/images", listing())
    assert m.entry.is_dir and m.entry.size == 18
    (f,) = matches("/b.csv", listing())
    assert f.entry == Entry("b.csv", False, "d2", 2)
    (root,) = matches("/", listing())
    assert root.entry.is_dir and root.entry.size == sum(s for _, s in FILES.values())


def test_directory_digests_follow_content() -> None:
    before = matches("/images", listing())[0].entry.digest
    changed = files_listing("c2", {**FILES, "/images/1.png": ("other", 5)})
    assert matches("/images", changed)[0].entry.digest != before
    assert (
        matches("/foodir", changed)[0].entry.digest == matches("/foodir", listing())[0].entry.digest
    )


def test_an_empty_commit_has_no_match() -> None:
    empty = files_listing("c0", {})
    assert paths("/", empty) == [] and paths("/*", empty) == [] and paths("/**", empty) == []


def test_the_walk_reads_only_the_directories_the_glob_reaches() -> None:
    base = listing()
    read: list[str] = []

    def children(path: str) -> list[Entry]:
        read.append(path)
        return list(base.children(path))

    counting = Listing("c1", base.root_digest, base.root_size, children)
    assert len(matches("/*", counting)) == 7 and read == ["/"]
    read.clear()
    matches("/images/*", counting)
    assert read == ["/", "/images"]
    read.clear()
    matches("/**", counting)
    assert sorted(read) == ["/", "/foodir", "/images", "/images/sub"]


@pytest.mark.parametrize(
    ("glob", "message"),
    [
        ("", "empty glob"),
        ("/[ab", "never closed"),
        ("/(a", "never closed"),
        ("/a)", "unbalanced"),
        ("/a\\", "lone"),
    ],
)
def test_bad_globs(glob: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        compile_glob(glob)


def test_tree_listing_reads_kaon_trees() -> None:
    trees: dict[str, Tree] = {}

    def save(tree: Tree) -> Digest:
        trees[tree.digest] = tree
        return tree.digest

    puts = {}
    for path in ("/images/1.png", "/images/sub/3.png", "/a.txt"):  # normalised paths
        data = path.encode()
        puts[path] = FileContent(len(data), (ChunkRef(hash_chunk(data), len(data)),))
    root = apply_changes(None, puts, [], trees.__getitem__, save)
    loads: list[str] = []

    def load(digest: Digest) -> Tree:
        loads.append(digest)
        return trees[digest]

    source = tree_listing("c1", save(root), load)
    assert [m.path for m in matches("/images/sub/*", source)] == ["/images/sub/3.png"]
    assert len(loads) == 3  # the root (once, also for its size), /images, /images/sub
    assert source.root_size == root.size
    assert [m.path for m in matches("/**", source)] == [
        "/a.txt",
        "/images",
        "/images/1.png",
        "/images/sub",
        "/images/sub/3.png",
    ]
    (png,) = matches("/images/1.png", source)
    assert png.entry.digest == content_digest(puts["/images/1.png"].chunks)
    assert png.entry.size == len(b"/images/1.png") and not png.entry.is_dir
    fresh = tree_listing("c1", root.digest, trees.__getitem__, size=root.size)
    assert [e.name for e in fresh.children("/images/sub")] == ["3.png"]  # resolved from the root
