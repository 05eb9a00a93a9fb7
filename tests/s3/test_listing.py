"""S3 listings over trees, checked against a brute-force model of S3's semantics."""

from __future__ import annotations

import random

import pytest

from kaon.core.errors import InvalidInput
from kaon.core.ids import Digest
from kaon.core.s3.buckets import Bucket, key_path, locate, parse_bucket
from kaon.core.s3.listing import list_keys
from kaon.core.tree import ChunkRef, FileContent, Tree, apply_changes


def build(keys: list[str]) -> tuple[Tree, dict[Digest, Tree]]:
    store: dict[Digest, Tree] = {}

    def save(t: Tree) -> Digest:
        store[t.digest] = t
        return t.digest

    ref = ChunkRef(Digest("0" * 64), 1)
    puts = {"/" + k: FileContent(1, (ref,)) for k in keys}
    return apply_changes(None, puts, [], store.__getitem__, save), store


def model(keys: list[str], prefix: str, delimiter: str, after: str) -> list[str]:
    """What S3 returns, in order, before max-keys: keys and rolled-up prefixes."""
    out: list[str] = []
    for key in sorted(keys):
        if not key.startswith(prefix) or key <= after:
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = key[: cut + len(delimiter)] if cut >= 0 else key
        if item != key and (item <= after or after.startswith(item)):
            continue
        if not out or out[-1] != item:
            out.append(item)
    return out


KEYS = [
    "a.txt",
    "a/x",
    "a/y/z",
    "a-b/c",
    "b",
    "data/2024/01.csv",
    "data/2024/02.csv",
    "data/2025/01.csv",
    "data/readme",
    "data/x.csv",
    "données/é.txt",
    "z/z/z/z",
]


def page_all(
    root: Tree, store: dict[Digest, Tree], prefix: str, delim: str, size: int
) -> list[str]:
    got: list[str] = []
    after = ""
    while True:
        page = list_keys(root, store.__getitem__, prefix, delim, after, size)
        items = sorted([k for k, _ in page.objects] + page.prefixes)
        got += items
        if not page.truncated:
            return got
        assert items, "a truncated page must return something"
        after = page.last


@pytest.mark.parametrize("prefix", ["", "a", "a/", "data/", "data/2024", "d", "nope/", "z/z/"])
@pytest.mark.parametrize("delim", ["", "/", "-", "2"])
@pytest.mark.parametrize("size", [1, 2, 1000])
def test_matches_the_model(prefix: str, delim: str, size: int) -> None:
    root, store = build(KEYS)
    assert page_all(root, store, prefix, delim, size) == model(KEYS, prefix, delim, "")


def test_random_trees_and_markers() -> None:
    rng = random.Random(7)
    alphabet = ["a", "b", "a.b", "a-", "c", "é"]
    for _ in range(40):
        keys = sorted(
            {"/".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) for _ in range(30)}
        )
        # a path cannot be both a file and a directory
        keys = [k for k in keys if not any(o.startswith(k + "/") for o in keys)]
        root, store = build(keys)
        for delim in ("", "/"):
            after = rng.choice(keys)
            page = list_keys(root, store.__getitem__, "", delim, after, 10_000)
            assert sorted([k for k, _ in page.objects] + page.prefixes) == model(
                keys, "", delim, after
            )
            assert page_all(root, store, "", delim, 3) == model(keys, "", delim, "")


def test_large_flat_prefix_pages_from_a_marker() -> None:
    keys = [f"big/{i:06d}" for i in range(20_000)]
    root, store = build(keys)
    list_keys(root, store.__getitem__, "big/", "", "", 1000)  # warm the per-tree key cache
    page = list_keys(root, store.__getitem__, "big/", "", "big/015000", 1000)
    assert page.objects[0][0] == "big/015001" and page.truncated


def test_bucket_names() -> None:
    assert parse_bucket("master.inputrepo") == Bucket("master.inputrepo", "inputrepo", "master")
    c = "3fa46b65d4ce4ff8b9d50068a3bc2ada"
    assert parse_bucket(f"{c}.master.r").commit == c
    assert parse_bucket(f"{c}.r").commit == c and parse_bucket(f"{c}.r").branch is None
    assert parse_bucket("inputrepo").by_key
    for bad in ("a.b.c", "x..y", "-x", "a.b.c.d", "Ω"):
        with pytest.raises(InvalidInput):
            parse_bucket(bad)
    loc = locate(parse_bucket("inputrepo"), "master/data/x.csv")
    assert (loc.ref, loc.path, loc.writable, loc.key_prefix) == (
        "master",
        "/data/x.csv",
        True,
        "master/",
    )
    assert not locate(parse_bucket("inputrepo"), f"{c}/x").writable
    assert not locate(parse_bucket(f"{c}.master.r"), "x").writable
    for bad in ("a//b", "./a", "a/", "a/../b"):
        with pytest.raises(InvalidInput):
            key_path(bad)
