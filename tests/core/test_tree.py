"""Trees: apply_changes (puts, deletes, conflicts, pruning, sharing), encoding, digests."""

from __future__ import annotations

import random

import blake3
import pytest

from kaon.core.chunking import hash_chunk
from kaon.core.errors import InvalidInput, PathNotFound
from kaon.core.ids import Digest
from kaon.core.tree import (
    EMPTY_TREE,
    ChunkRef,
    DirNode,
    FileContent,
    FileNode,
    Tree,
    apply_changes,
    content_digest,
    lookup,
    walk_files,
)


class Trees:
    """Trees kept by digest in a dict, counting saves."""

    def __init__(self) -> None:
        self.by_digest: dict[Digest, Tree] = {}
        self.saves = 0

    def load(self, d: Digest) -> Tree:
        return self.by_digest[d]

    def save(self, tree: Tree) -> Digest:
        self.saves += 1
        self.by_digest[tree.digest] = tree
        return tree.digest

    def apply(
        self, root: Tree | None, puts: dict[str, bytes], deletes: list[str] | None = None
    ) -> Tree:
        contents = {p: content(data) for p, data in puts.items()}
        tree = apply_changes(
            self.save(root) if root is not None else None,
            contents,
            deletes or [],
            self.load,
            self.save,
        )
        self.save(tree)
        return tree

    def files(self, tree: Tree) -> dict[str, int]:
        return {p: n.size for p, n in walk_files(tree, "/", self.load)}


def content(data: bytes) -> FileContent:
    return FileContent(len(data), (ChunkRef(hash_chunk(data), len(data)),) if data else ())


@pytest.fixture
def trees() -> Trees:
    return Trees()


def test_puts_into_an_empty_tree(trees: Trees) -> None:
    tree = trees.apply(None, {"/b.txt": b"bb", "/a/x/y.bin": b"yyy", "/a/z": b"z"})
    assert [e.name for e in tree.entries] == ["a", "b.txt"]
    a = tree.get("a")
    assert isinstance(a, DirNode)
    assert (a.size, a.count) == (4, 2)
    assert (tree.size, tree.count) == (6, 3)
    assert trees.files(tree) == {"/a/x/y.bin": 3, "/a/z": 1, "/b.txt": 2}


def test_entries_are_sorted_and_get_finds_them(trees: Trees) -> None:
    names = ["m", "b", "z", "a", "k", "B", "_"]
    tree = trees.apply(None, {f"/{n}": n.encode() for n in names})
    assert [e.name for e in tree.entries] == sorted(names)
    for n in names:
        node = tree.get(n)
        assert node is not None and node.name == n
    assert tree.get("nope") is None
    assert tree.get("") is None
    assert EMPTY_TREE.get("a") is None


def test_puts_keep_siblings(trees: Trees) -> None:
    base = trees.apply(None, {"/d/a": b"1", "/d/b": b"2"})
    tree = trees.apply(base, {"/d/c": b"3", "/d/a": b"11"})
    assert trees.files(tree) == {"/d/a": 2, "/d/b": 1, "/d/c": 1}


def test_empty_file(trees: Trees) -> None:
    tree = trees.apply(None, {"/empty": b""})
    node = lookup(tree, "/empty", trees.load)
    assert isinstance(node, FileNode)
    assert node.size == 0 and node.chunks == ()
    assert tree.count == 1


def test_deletes_apply_before_puts(trees: Trees) -> None:
    base = trees.apply(None, {"/a": b"file"})
    # /a is a file; delete it and write a directory in its place in one change set
    tree = trees.apply(base, {"/a/b": b"new"}, ["/a"])
    assert trees.files(tree) == {"/a/b": 3}
    # and the other way round: a directory replaced by a file
    again = trees.apply(tree, {"/a": b"file again"}, ["/a"])
    assert trees.files(again) == {"/a": 10}


def test_delete_and_put_of_the_same_path_keeps_the_put(trees: Trees) -> None:
    base = trees.apply(None, {"/a": b"old"})
    tree = trees.apply(base, {"/a": b"newer"}, ["/a"])
    assert trees.files(tree) == {"/a": 5}


def test_delete_a_directory_recursively(trees: Trees) -> None:
    base = trees.apply(None, {"/d/x/1": b"1", "/d/x/2": b"2", "/e": b"e"})
    tree = trees.apply(base, {}, ["/d"])
    assert trees.files(tree) == {"/e": 1}


@pytest.mark.parametrize("missing", ["/nope", "/d/nope", "/nodir/x", "/d/x/deeper/y"])
def test_delete_of_a_missing_path(trees: Trees, missing: str) -> None:
    base = trees.apply(None, {"/d/x/1": b"1"})
    with pytest.raises(PathNotFound):
        trees.apply(base, {}, [missing])


def test_delete_on_an_empty_repo(trees: Trees) -> None:
    with pytest.raises(PathNotFound):
        trees.apply(None, {}, ["/a"])


def test_delete_below_a_file(trees: Trees) -> None:
    base = trees.apply(None, {"/f": b"1"})
    with pytest.raises(InvalidInput, match="is a file"):
        trees.apply(base, {}, ["/f/x"])


def test_put_over_a_directory_is_a_conflict(trees: Trees) -> None:
    base = trees.apply(None, {"/d/x": b"1"})
    with pytest.raises(InvalidInput, match="is a directory"):
        trees.apply(base, {"/d": b"2"})


def test_put_below_a_file_is_a_conflict(trees: Trees) -> None:
    base = trees.apply(None, {"/f": b"1"})
    with pytest.raises(InvalidInput, match="is a file"):
        trees.apply(base, {"/f/x": b"2"})


def test_put_of_a_file_and_below_it_in_one_change_is_a_conflict(trees: Trees) -> None:
    with pytest.raises(InvalidInput):
        trees.apply(None, {"/x": b"1", "/x/y": b"2"})
    with pytest.raises(InvalidInput):
        trees.apply(None, {"/x/y": b"2", "/x": b"1"})


def test_put_at_the_root_is_refused(trees: Trees) -> None:
    with pytest.raises(InvalidInput, match="root"):
        trees.apply(None, {"/": b"1"})


def test_empty_directories_are_pruned(trees: Trees) -> None:
    base = trees.apply(None, {"/d/e/f.txt": b"f", "/g.txt": b"g"})
    tree = trees.apply(base, {}, ["/d/e/f.txt"])
    assert [e.name for e in tree.entries] == ["g.txt"]
    with pytest.raises(PathNotFound):
        lookup(tree, "/d", trees.load)


def test_deleting_everything_gives_the_empty_tree(trees: Trees) -> None:
    base = trees.apply(None, {"/d/e/f.txt": b"f"})
    assert trees.apply(base, {}, ["/d/e/f.txt"]) == EMPTY_TREE
    assert trees.apply(base, {}, ["/"]) == EMPTY_TREE


def test_deleting_the_root_then_putting(trees: Trees) -> None:
    base = trees.apply(None, {"/old/a": b"a", "/b": b"b"})
    tree = trees.apply(base, {"/new": b"n"}, ["/"])
    assert trees.files(tree) == {"/new": 1}


def test_unchanged_subtrees_keep_their_digest(trees: Trees) -> None:
    base = trees.apply(None, {"/a/x": b"x", "/a/sub/y": b"y", "/b/z": b"z"})
    saves = trees.saves
    tree = trees.apply(base, {"/b/z": b"zz", "/b/new": b"n"})
    a_before, a_after = base.get("a"), tree.get("a")
    assert isinstance(a_before, DirNode) and isinstance(a_after, DirNode)
    assert a_after.tree == a_before.tree
    b_before, b_after = base.get("b"), tree.get("b")
    assert isinstance(b_before, DirNode) and isinstance(b_after, DirNode)
    assert b_after.tree != b_before.tree
    # only /b and the root were rewritten (plus the saves of the test helper: old and new root)
    assert trees.saves - saves == 3


def test_same_content_same_digest_whatever_the_order(trees: Trees) -> None:
    files = {"/a/1": b"1", "/a/2": b"2", "/b": b"3", "/c/d/e": b"4"}
    one = trees.apply(None, files)
    two = trees.apply(None, dict(reversed(list(files.items()))))
    step = trees.apply(
        trees.apply(None, {"/a/1": b"1", "/b": b"3"}), {"/a/2": b"2", "/c/d/e": b"4"}
    )
    assert one.digest == two.digest == step.digest
    assert trees.apply(None, {"/a/1": b"other"}).digest != one.digest


def test_encode_decode_round_trip(trees: Trees) -> None:
    tree = trees.apply(None, {"/a/x": b"xx", "/f": b"fff", "/empty": b""})
    data = tree.encode()
    assert data.startswith(b'{"v":1,')
    again = Tree.decode(data)
    assert again == tree
    assert again.digest == tree.digest == Digest(blake3.blake3(data).hexdigest())
    assert Tree.decode(EMPTY_TREE.encode()) == EMPTY_TREE


def test_decode_refuses_other_formats() -> None:
    with pytest.raises(InvalidInput, match="unsupported tree format"):
        Tree.decode(b'{"v":99,"e":[]}')


def test_lookup(trees: Trees) -> None:
    tree = trees.apply(None, {"/a/b/c": b"c"})
    assert lookup(tree, "/", trees.load) is tree
    assert isinstance(lookup(tree, "/a", trees.load), DirNode)
    node = lookup(tree, "/a/b/c", trees.load)
    assert isinstance(node, FileNode) and node.size == 1
    with pytest.raises(PathNotFound):
        lookup(tree, "/a/x", trees.load)
    with pytest.raises(PathNotFound):
        lookup(tree, "/a/b/c/d", trees.load)  # below a file


def test_walk_files_is_depth_first_in_name_order(trees: Trees) -> None:
    tree = trees.apply(None, {"/b": b"", "/a/z": b"", "/a/b/c": b"", "/c": b""})
    assert [p for p, _ in walk_files(tree, "/", trees.load)] == ["/a/b/c", "/a/z", "/b", "/c"]
    a = tree.get("a")
    assert isinstance(a, DirNode)
    assert [p for p, _ in walk_files(trees.load(a.tree), "/a", trees.load)] == ["/a/b/c", "/a/z"]


def test_content_digest() -> None:
    one = ChunkRef(hash_chunk(b"one"), 3)
    two = ChunkRef(hash_chunk(b"two"), 3)
    assert content_digest([one]) == one.digest
    expected = blake3.blake3(bytes.fromhex(one.digest) + bytes.fromhex(two.digest)).hexdigest()
    assert content_digest([one, two]) == expected
    assert content_digest([two, one]) != expected
    assert content_digest([]) == blake3.blake3().hexdigest()
    node = FileNode("f", 6, (one, two))
    assert node.content_digest == expected


@pytest.mark.parametrize("seed", range(20))
def test_random_changes_match_a_plain_model(trees: Trees, seed: int) -> None:
    """Puts and deletes on random paths give exactly the files a dict of paths would hold; a
    change the model refuses (a missing path to delete, a file over a directory or below a
    file) is refused with the model's error and changes nothing."""
    rng = random.Random(seed)
    model: dict[str, int] = {}
    tree: Tree | None = None
    refused = applied = 0
    for _ in range(60):
        puts = {
            _random_path(rng): rng.randbytes(rng.randint(0, 9)) for _ in range(rng.randint(0, 5))
        }
        known = sorted(model) + sorted({p.rsplit("/", 1)[0] for p in model if p.count("/") > 1})
        deletes = rng.sample(known, k=min(len(known), rng.randint(0, 2)))
        if rng.random() < 0.15:
            deletes.append(_random_path(rng))  # maybe missing
        if not puts and not deletes:
            continue
        expected, error = _model_apply(model, puts, deletes)
        try:
            new = trees.apply(tree, puts, deletes)
        except (InvalidInput, PathNotFound) as exc:
            assert error is not None, (puts, deletes, exc)
            refused += 1
            continue
        assert error is None, (puts, deletes)
        assert trees.files(new) == expected
        tree, model = new, expected
        applied += 1
    assert applied >= 5 and refused >= 1  # both kinds were exercised


def _random_path(rng: random.Random) -> str:
    return "/" + "/".join(rng.choice("abcd") for _ in range(rng.randint(1, 3)))


def _model_apply(
    model: dict[str, int], puts: dict[str, bytes], deletes: list[str]
) -> tuple[dict[str, int], type[Exception] | None]:
    files = dict(model)
    if any(d != e and d.startswith(e + "/") for d in deletes for e in deletes):
        return model, PathNotFound  # a path and one above it in one change: refused
    for d in dict.fromkeys(deletes):
        gone = [p for p in files if p == d or p.startswith(d + "/")]
        if not gone:
            return model, PathNotFound
        for p in gone:
            del files[p]
    for p in puts:  # a file over a directory, or below a file (kept or put): refused
        if any(f.startswith(p + "/") for f in [*files, *puts]):
            return model, InvalidInput
        parents = {p.rsplit("/", i)[0] for i in range(1, p.count("/"))}
        if parents & (set(files) | set(puts)):
            return model, InvalidInput
    return {**files, **{p: len(data) for p, data in puts.items()}}, None
