"""GarbageCollector: frees what no commit reaches, never what one does."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from kaon.core.address import Ref
from kaon.core.errors import CorruptObject
from kaon.core.ids import new_pack_id
from kaon.core.tree import DirNode, FileNode
from kaon.services.commits import Put
from kaon.services.objectkeys import COMMITS, PACKS, TREES, pack_key, tree_key
from kaon.services.trees import TreeStore
from kaon.wiring import Backends, Platform


@pytest.fixture(params=["file", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def keys(backends: Backends, prefix: str) -> set[str]:
    return {info.key for info in backends.objects.list(prefix)}


def snapshot(platform: Platform) -> dict[str, bytes]:
    """Every file of every commit of every branch of every repo, by 'repo@commit:path'."""
    out: dict[str, bytes] = {}
    for repo in platform.repos.list_repos():
        for branch in platform.repos.list_branches(repo.name):
            if branch.head is None:
                continue
            for commit in platform.repos.history(repo.name, Ref(branch.name), None):
                for path, node in platform.files.walk(commit, "/"):
                    out[f"{repo.name}@{commit.id}:/{path}"] = b"".join(platform.files.content(node))
    return out


def test_gc_of_an_empty_platform_frees_nothing(platform: Platform) -> None:
    report = platform.gc.collect()
    assert report.bytes_freed == 0
    assert report.packs_deleted == report.trees_deleted == report.commits_deleted == 0


def test_gc_keeps_everything_live(platform: Platform, backends: Backends, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    seed.commit("r", {"/a": b"a" * 3000, "/d/b": b"b"})
    seed.commit("r", {"/a": b"changed"})
    before = snapshot(platform)
    objects = keys(backends, "")
    report = platform.gc.collect()
    assert report.bytes_freed == 0
    assert keys(backends, "") == objects
    assert snapshot(platform) == before


def test_gc_after_deleting_a_repo(platform: Platform, backends: Backends, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("gone")
    for i in range(3):
        seed.commit("gone", {f"/d{i}/f": f"version {i}".encode() * 50})
    assert keys(backends, PACKS) and keys(backends, TREES) and keys(backends, COMMITS)
    platform.repos.delete_repo("gone")
    report = platform.gc.collect()
    assert report.packs_deleted == 3
    assert report.commits_deleted == 3
    assert report.trees_deleted >= 3
    assert report.chunks_dropped >= 3
    assert report.bytes_freed > 0
    assert keys(backends, PACKS) == keys(backends, TREES) == keys(backends, COMMITS) == set()
    assert backends.meta.list_packs() == []
    assert list(backends.meta.iter_chunk_digests()) == []
    assert platform.gc.collect().bytes_freed == 0  # nothing left to free


def test_gc_keeps_chunks_shared_with_a_live_repo(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("a")
    platform.repos.create_repo("b")
    seed.commit("a", {"/shared": b"s" * 2500, "/only-a": b"aaa"})
    seed.commit("b", {"/shared": b"s" * 2500})
    platform.repos.delete_repo("a")
    platform.gc.collect()
    assert seed.read("b", "master", "/shared") == b"s" * 2500


def test_gc_deletes_an_orphan_pack(platform: Platform, backends: Backends, seed, make_pack) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("r")
    seed.commit("r", {"/kept": b"kept"})
    live = keys(backends, PACKS)
    # an upload killed after storing the pack but before indexing it
    body, refs = make_pack([b"orphan chunk"])
    orphan = pack_key(new_pack_id())
    backends.objects.put(orphan, body)
    report = platform.gc.collect()
    assert report.packs_deleted == 1
    assert report.bytes_freed == len(body)
    assert keys(backends, PACKS) == live
    assert platform.chunks.missing([refs[0].digest]) == [refs[0].digest]
    assert seed.read("r", "master", "/kept") == b"kept"


def test_gc_deletes_an_uncommitted_upload(platform: Platform, make_pack) -> None:  # type: ignore[no-untyped-def]
    body, refs = make_pack([b"uploaded, never committed"])
    platform.chunks.store_pack(body)
    report = platform.gc.collect()
    assert (report.packs_deleted, report.chunks_dropped, report.bytes_freed) == (1, 1, len(body))
    assert platform.chunks.missing([refs[0].digest]) == [refs[0].digest]


def test_gc_repacks_a_half_dead_pack(
    platform: Platform, backends: Backends, seed, make_pack
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    small, big, other = rng.randbytes(500), rng.randbytes(20_000), rng.randbytes(300)
    body, (s_ref, b_ref, o_ref) = make_pack([small, big, other])
    old = platform.chunks.store_pack(body).pack
    platform.repos.create_repo("keep")
    platform.repos.create_repo("drop")

    platform.commits.commit(
        "keep", "master", [Put("/small", 500, (s_ref,)), Put("/o", 300, (o_ref,))]
    )
    platform.commits.commit("drop", "master", [Put("/big", 20_000, (b_ref,))])
    platform.repos.delete_repo("drop")
    report = platform.gc.collect()
    assert report.packs_rewritten == 1
    assert report.packs_deleted == 0
    assert report.chunks_dropped == 1
    assert report.bytes_freed > 19_000
    (new,) = backends.meta.list_packs()
    assert new.id != old
    assert keys(backends, PACKS) == {pack_key(new.id)}
    assert {c.digest for c in backends.meta.pack_chunks(new.id)} == {s_ref.digest, o_ref.digest}
    assert new.size == len(backends.objects.get(pack_key(new.id)))
    assert seed.read("keep", "master", "/small") == small
    assert seed.read("keep", "master", "/o") == other
    # a second gc has nothing left to do
    again = platform.gc.collect()
    assert (again.packs_rewritten, again.packs_deleted, again.bytes_freed) == (0, 0, 0)


def test_gc_leaves_a_mostly_live_pack_alone(
    platform: Platform, backends: Backends, make_pack
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(8)  # incompressible: stored sizes are the raw sizes
    body, (big, _) = make_pack([rng.randbytes(5000), rng.randbytes(100)])
    pack = platform.chunks.store_pack(body).pack
    platform.repos.create_repo("r")

    platform.commits.commit("r", "master", [Put("/big", 5000, (big,))])
    report = platform.gc.collect()
    assert (report.packs_rewritten, report.packs_deleted, report.bytes_freed) == (0, 0, 0)
    assert [p.id for p in backends.meta.list_packs()] == [pack]
    assert keys(backends, PACKS) == {pack_key(pack)}


def test_gc_never_deletes_anything_reachable(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    """Histories with edits, deletes, branches and shared content; a repo deleted; gc twice."""
    rng = random.Random(1234)
    blobs = [rng.randbytes(rng.randrange(0, 5000)) for _ in range(12)]
    for name in ("alpha", "beta", "doomed"):
        platform.repos.create_repo(name)
    seed.commit("alpha", {"/a": blobs[0], "/d/b": blobs[1], "/d/e/c": blobs[2]})
    seed.commit("alpha", {"/d/b": blobs[3]}, ["/a"])
    platform.repos.create_branch("alpha", "dev", Ref("master", 1))
    seed.commit("alpha", {"/dev-only": blobs[4]}, branch="dev")
    seed.commit("alpha", {"/d/e/c": blobs[5], "/new": blobs[0]})
    seed.commit("beta", {"/copy": blobs[3], "/x": blobs[6]})
    seed.commit("doomed", {"/x": blobs[6], "/y": blobs[7], "/z": blobs[8]})
    seed.commit("doomed", {"/y": blobs[9]})
    platform.commits.commit("beta", "master", [], ["/x"])
    platform.repos.delete_repo("doomed")
    expected = snapshot(platform)
    assert len(expected) > 10
    first = platform.gc.collect()
    assert first.bytes_freed > 0
    assert snapshot(platform) == expected
    assert platform.gc.collect().bytes_freed == 0
    assert snapshot(platform) == expected


def test_commits_after_gc_rewrite_deleted_trees(platform: Platform, seed) -> None:  # type: ignore[no-untyped-def]
    """A tree gc deleted must be stored again when a new commit produces it again."""
    platform.repos.create_repo("old")
    seed.commit("old", {"/same": b"identical content"})
    platform.repos.delete_repo("old")
    assert platform.gc.collect().trees_deleted >= 1
    platform.repos.create_repo("new")
    seed.commit("new", {"/same": b"identical content"})
    assert seed.read("new", "master", "/same") == b"identical content"
    platform.gc.collect()
    assert seed.read("new", "master", "/same") == b"identical content"
    assert platform.files.list_files("new", Ref("master"), "/")[0].size == 17


def test_gc_with_a_missing_live_tree_sweeps_nothing(
    platform: Platform, backends: Backends, seed
) -> None:  # type: ignore[no-untyped-def]
    """When the mark phase cannot read a live tree, gc stops instead of sweeping blindly."""
    platform.repos.create_repo("r")
    commit = seed.commit("r", {"/d/a": b"a", "/b": b"b"})
    sub = platform.files.root(commit).get("d")
    assert sub is not None and not isinstance(sub, FileNode)
    backends.objects.delete(tree_key(sub.tree))
    platform.gc.collect()  # still in the tree cache; gc empties the cache when it ends
    platform.repos.create_repo("gone")
    seed.commit("gone", {"/x": b"garbage"})
    platform.repos.delete_repo("gone")
    before = keys(backends, "")
    with pytest.raises(CorruptObject, match="missing from the object store"):
        platform.gc.collect()
    assert keys(backends, "") == before


def test_recover_unindexes_recent_packs_lost_by_a_power_loss(  # type: ignore[no-untyped-def]
    platform: Platform, backends: Backends, seed, make_pack
) -> None:
    platform.repos.create_repo("r")
    seed.commit("r", {"/kept": b"kept"})
    lost_body, lost_refs = make_pack([b"written, never flushed"])
    cut_body, cut_refs = make_pack([b"flushed only in part"])
    lost = platform.chunks.store_pack(lost_body)
    cut = platform.chunks.store_pack(cut_body)
    backends.objects.delete(pack_key(lost.pack))  # as if the rename never reached the disk
    backends.objects.put(pack_key(cut.pack), cut_body[:10])  # or the data only partly
    assert sorted(platform.chunks.recover()) == sorted([lost.pack, cut.pack])
    missing = platform.chunks.missing([lost_refs[0].digest, cut_refs[0].digest])
    assert missing == [lost_refs[0].digest, cut_refs[0].digest]  # the client sends them again
    assert seed.read("r", "master", "/kept") == b"kept"
    assert platform.chunks.recover() == []


def test_gc_removes_packs_a_killed_client_left_in_the_drop_folder(
    platform: Platform, backends: Backends
) -> None:
    folder = Path(backends.drop.info.dir)
    stale, fresh = folder / f"{'a' * 32}.pack", folder / f"{'b' * 32}.pack"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y" * 10)  # a put may still be writing it
    past = time.time() - 7200
    os.utime(stale, (past, past))
    report = platform.gc.collect()
    assert report.bytes_freed == 1000
    assert not stale.exists() and fresh.exists()


def test_gc_keeps_the_outputs_of_datums_a_later_job_may_reuse(
    platform: Platform, backends: Backends, seed
) -> None:  # type: ignore[no-untyped-def]
    """A failed pipeline job commits nothing, but its datums that succeeded are skipped by
    the next job, which reuses their output trees: gc must not free them."""
    from kaon.testing.pipeline_samples import datum, job

    platform.repos.create_repo("scratch")
    seed.commit("scratch", {"/out/a": b"datum output " * 500})
    commit = platform.repos.resolve("scratch", Ref("master"))
    assert commit is not None and commit.tree is not None
    output = commit.tree
    platform.repos.delete_repo("scratch")  # no commit holds the tree any more
    backends.pipelines.add_job(job(1))
    backends.pipelines.save_datums([datum(0, output=output)])
    platform.gc.collect()
    assert tree_key(output) in keys(backends, TREES)
    trees = TreeStore(backends.objects)  # the tree and its chunks are all still readable
    folder = trees.load(output).entries[0]
    assert isinstance(folder, DirNode)
    file = trees.load(folder.tree).entries[0]
    assert isinstance(file, FileNode)
    assert b"".join(platform.files.content(file)) == b"datum output " * 500
    backends.pipelines.delete_pipeline("edges")  # nothing may reuse it any more: freed
    report = platform.gc.collect()
    assert tree_key(output) not in keys(backends, TREES)
    assert report.trees_deleted >= 1
