"""Datum planning (pfs, cross, union, join, group, cron), ids, hashes and salts."""

from __future__ import annotations

from typing import Any

from kaon.core.pipelines.datums import Datum
from kaon.core.pipelines.globs import Listing, files_listing
from kaon.core.pipelines.parse import parse_spec
from kaon.core.pipelines.planning import datum_hash, datum_id, describe, plan, salt, stream
from kaon.core.pipelines.spec import Input, PfsInput

REPOS: dict[str, dict[str, tuple[str, int]]] = {
    "images": {"/1.png": ("i1", 1), "/2.png": ("i2", 2), "/3.png": ("i3", 3)},
    "labels": {"/a.json": ("la", 10), "/b.json": ("lb", 11)},
    "model": {"/model.h5": ("m", 100), "/ckpts/1.hdf5": ("c1", 50)},
    # join: files 1-3 in both, 4 only in left, 5 only in right
    "left": {"/file_1.txt": ("l1", 1), "/file_2.txt": ("l2", 1), "/file_4.txt": ("l4", 1)},
    "right": {"/1/data.csv": ("r1", 1), "/2/data.csv": ("r2", 1), "/5/data.csv": ("r5", 1)},
    # group: by the user id in the name
    "logs": {"/u1-a.log": ("g1", 1), "/u1-b.log": ("g2", 1), "/u2-a.log": ("g3", 1)},
    "users": {"/u1.json": ("p1", 1), "/u3.json": ("p3", 1)},
}


def listing_of(repos: dict[str, dict[str, tuple[str, int]]]) -> Any:
    def get(pfs: PfsInput) -> Listing | None:
        files = repos.get(pfs.repo)
        return None if files is None else files_listing(f"commit-{pfs.repo}", files)

    return get


def input_of(value: dict[str, Any]) -> Input:
    spec, _ = parse_spec(
        {"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]}, "input": value}, "t"
    )
    assert spec.input is not None
    return spec.input


def planned(
    value: dict[str, Any], repos: dict[str, dict[str, tuple[str, int]]] = REPOS, s: str = "salt"
) -> list[Datum]:
    return plan(input_of(value), listing_of(repos), s)


def shown(datums: list[Datum]) -> list[str]:
    return [describe(d) for d in datums]


def test_pfs_one_datum_per_match() -> None:
    datums = planned({"pfs": {"repo": "images", "glob": "/*"}})
    assert shown(datums) == ["images:/1.png", "images:/2.png", "images:/3.png"]
    f = datums[0].files[0]
    assert (f.input, f.repo, f.branch, f.commit, f.digest, f.size) == (
        "images",
        "images",
        "master",
        "commit-images",
        "i1",
        1,
    )
    assert len({d.id for d in datums}) == 3 and all(
        len(d.id) == 64 and len(d.hash) == 64 for d in datums
    )


def test_root_glob_is_one_datum_of_everything() -> None:
    (datum,) = planned({"pfs": {"repo": "model", "glob": "/"}})
    (f,) = datum.files
    assert f.path == "/" and f.is_dir and f.size == 150


def test_empty_files_is_carried() -> None:
    datums = planned({"pfs": {"repo": "images", "glob": "/*", "empty_files": True}})
    assert all(d.files[0].empty for d in datums)


def test_a_glob_matching_nothing_and_a_branch_without_commit_give_no_datum() -> None:
    assert planned({"pfs": {"repo": "images", "glob": "/*.jpg"}}) == []
    assert planned({"pfs": {"repo": "nothing-yet", "glob": "/*"}}) == []


def test_cross_is_the_cartesian_product() -> None:
    datums = planned(
        {
            "cross": [
                {"pfs": {"repo": "images", "glob": "/*"}},
                {"pfs": {"repo": "labels", "glob": "/*"}},
            ]
        }
    )
    assert shown(datums) == [
        "images:/1.png, labels:/a.json",
        "images:/1.png, labels:/b.json",
        "images:/2.png, labels:/a.json",
        "images:/2.png, labels:/b.json",
        "images:/3.png, labels:/a.json",
        "images:/3.png, labels:/b.json",
    ]


def test_the_e2e_cross_of_a_whole_repo_and_one_file() -> None:
    datums = planned(
        {
            "cross": [
                {"pfs": {"repo": "images", "glob": "/"}},
                {"pfs": {"repo": "model", "glob": "/model.h5"}},
            ]
        }
    )
    assert shown(datums) == ["images:/, model:/model.h5"]


def test_cross_with_an_input_without_commit_has_no_datum_union_has_the_others() -> None:
    cross = {
        "cross": [
            {"pfs": {"repo": "images", "glob": "/*"}},
            {"pfs": {"repo": "later", "glob": "/*"}},
        ]
    }
    assert planned(cross) == []
    union = {
        "union": [
            {"pfs": {"repo": "later", "glob": "/*"}},
            {"pfs": {"repo": "labels", "glob": "/*"}},
        ]
    }
    assert shown(planned(union)) == ["labels:/a.json", "labels:/b.json"]


def test_union_concatenates_and_keeps_a_datum_once() -> None:
    datums = planned(
        {
            "union": [
                {"pfs": {"repo": "labels", "glob": "/*", "name": "in"}},
                {"pfs": {"repo": "images", "glob": "/1.png", "name": "in"}},
                {"pfs": {"repo": "labels", "glob": "/a.json", "name": "in"}},
            ]
        }
    )
    assert shown(datums) == ["in:/a.json", "in:/b.json", "in:/1.png"]


def test_inner_join_on_a_captured_value() -> None:
    datums = planned(
        {
            "join": [
                {"pfs": {"repo": "left", "glob": "/file_(*).txt", "join_on": "$1"}},
                {"pfs": {"repo": "right", "glob": "/(*)/data.csv", "join_on": "$1"}},
            ]
        }
    )
    assert shown(datums) == [
        "left:/file_1.txt, right:/1/data.csv",
        "left:/file_2.txt, right:/2/data.csv",
    ]


def test_outer_join_keeps_the_unmatched_of_the_outer_input() -> None:
    value = {
        "join": [
            {"pfs": {"repo": "left", "glob": "/file_(*).txt", "join_on": "$1", "outer_join": True}},
            {"pfs": {"repo": "right", "glob": "/(*)/data.csv", "join_on": "$1"}},
        ]
    }
    assert shown(planned(value)) == [
        "left:/file_1.txt, right:/1/data.csv",
        "left:/file_2.txt, right:/2/data.csv",
        "left:/file_4.txt",
    ]
    value["join"][1]["pfs"]["outer_join"] = True  # type: ignore[index]
    assert shown(planned(value))[-1] == "right:/5/data.csv"
    assert len(planned(value)) == 4


def test_join_gives_the_product_of_the_matches_of_one_value() -> None:
    repos = {**REPOS, "left": {"/a_1": ("x", 1), "/b_1": ("y", 1)}, "right": {"/1/c": ("z", 1)}}
    datums = planned(
        {
            "join": [
                {"pfs": {"repo": "left", "glob": "/*_(*)", "join_on": "$1"}},
                {"pfs": {"repo": "right", "glob": "/(*)/*", "join_on": "$1"}},
            ]
        },
        repos,
    )
    assert shown(datums) == ["left:/a_1, right:/1/c", "left:/b_1, right:/1/c"]


def test_group_gathers_every_match_of_a_value_across_inputs() -> None:
    datums = planned(
        {
            "group": [
                {"pfs": {"repo": "logs", "glob": "/(*)-*.log", "group_by": "$1"}},
                {"pfs": {"repo": "users", "glob": "/(*).json", "group_by": "$1"}},
            ]
        }
    )
    assert shown(datums) == [
        "logs:/u1-a.log, logs:/u1-b.log, users:/u1.json",
        "logs:/u2-a.log",
        "users:/u3.json",
    ]


def test_a_join_inside_a_group() -> None:
    repos = {
        "a": {"/g1_k1": ("a1", 1), "/g1_k2": ("a2", 1), "/g2_k3": ("a3", 1)},
        "b": {"/k1.b": ("b1", 1), "/k2.b": ("b2", 1), "/k3.b": ("b3", 1)},
        "c": {"/g1.c": ("c1", 1)},
    }
    datums = planned(
        {
            "group": [
                {
                    "join": [
                        {
                            "pfs": {
                                "repo": "a",
                                "glob": "/(*)_(*)",
                                "join_on": "$2",
                                "group_by": "$1",
                            }
                        },
                        {"pfs": {"repo": "b", "glob": "/(*).b", "join_on": "$1", "group_by": "$1"}},
                    ]
                },
                {"pfs": {"repo": "c", "glob": "/(*).c", "group_by": "$1"}},
            ]
        },
        repos,
    )
    assert shown(datums) == ["a:/g1_k1, a:/g1_k2, b:/k1.b, b:/k2.b, c:/g1.c", "a:/g2_k3, b:/k3.b"]


def test_a_cron_input_is_its_repo_as_one_datum() -> None:
    repos = {"p_tick": {"/2026-12-06T08:00:00Z": ("t1", 0), "/2026-12-06T09:00:00Z": ("t2", 0)}}
    (datum,) = planned({"cron": {"name": "tick", "spec": "@every 1h"}}, repos)
    assert describe(datum) == "tick:/"
    assert datum.files[0].repo == "p_tick"


def test_ids_and_hashes() -> None:
    value = {"pfs": {"repo": "images", "glob": "/*"}}
    first = planned(value)
    assert planned(value) == first  # same files: same ids and hashes
    changed = {**REPOS, "images": {**REPOS["images"], "/2.png": ("i2-new", 2)}}
    second = planned(value, changed)
    assert [d.id for d in second] == [d.id for d in first]  # what it reads: same id
    assert [d.hash == e.hash for d, e in zip(first, second, strict=True)] == [True, False, True]
    resalted = planned(value, s="another")
    assert [d.id for d in resalted] == [d.id for d in first]
    assert not {d.hash for d in resalted} & {d.hash for d in first}
    moved = planned({"pfs": {"repo": "images", "glob": "/*", "name": "pics"}})
    assert not {d.id for d in moved} & {d.id for d in first}  # another input name: another id
    empty = planned({"pfs": {"repo": "images", "glob": "/*", "empty_files": True}})
    assert [d.id for d in empty] == [d.id for d in first] and empty[0].hash != first[0].hash


def test_ids_do_not_depend_on_the_commit() -> None:
    value = {"pfs": {"repo": "images", "glob": "/*"}}

    def other(pfs: PfsInput) -> Listing:
        return files_listing("another-commit", REPOS[pfs.repo])

    again = plan(input_of(value), other, "salt")
    assert [(d.id, d.hash) for d in again] == [(d.id, d.hash) for d in planned(value)]


def test_salt() -> None:
    doc = {"pipeline": {"name": "p"}, "transform": {"cmd": ["x"]}}
    base = salt(doc, "tree1", "lock1")
    assert len(base) == 64 and salt(dict(reversed(list(doc.items()))), "tree1", "lock1") == base
    others = {
        salt({**doc, "datum_tries": 2}, "tree1", "lock1"),
        salt(doc, "tree2", "lock1"),
        salt(doc, "tree1", "lock2"),
        salt(doc, "tree1", "lock1", nonce="reprocess-1"),
    }
    assert len(others) == 4 and base not in others


def test_one_file_datums_hash_as_the_general_functions_say() -> None:
    for value in (
        {"pfs": {"repo": "images", "glob": "/*"}},
        {"pfs": {"repo": "images", "glob": "/*", "empty_files": True}},
        {"union": [{"pfs": {"repo": "images", "glob": "/*"}}]},
    ):
        for datum in planned(value):
            assert datum.id == datum_id(datum.files)
            assert datum.hash == datum_hash(datum.id, datum.files, "salt")
    (cross,) = planned(
        {
            "cross": [
                {"pfs": {"repo": "model", "glob": "/model.h5"}},
                {"pfs": {"repo": "labels", "glob": "/a.json"}},
            ]
        }
    )
    assert [f.input for f in cross.files] == ["labels", "model"]  # sorted by (input, path)
    assert cross.id == datum_id(reversed(cross.files))
    assert cross.hash == datum_hash(cross.id, reversed(cross.files), "salt")


def test_stream_gives_plans_datums_in_its_order_and_one_at_a_time() -> None:
    many = {f"/f{i:03d}-{'x' * (i % 3)}": (f"d{i}", i) for i in range(40)}
    many |= {"/sub/deep.txt": ("s", 1), "/a-b/c": ("ab", 1), "/a/c": ("a", 1)}
    repos = {**REPOS, "many": many}
    for value in (
        {"pfs": {"repo": "many", "glob": "/*"}},
        {"pfs": {"repo": "many", "glob": "/f0(?)*"}},
        {"pfs": {"repo": "many", "glob": "/*/*"}},  # two segments: planned whole first
        {"pfs": {"repo": "many", "glob": "/**"}},
        {
            "cross": [
                {"pfs": {"repo": "images", "glob": "/*"}},
                {"pfs": {"repo": "many", "glob": "/"}},
            ]
        },
    ):
        source = input_of(value)
        streamed = stream(source, listing_of(repos), "salt")
        first = next(streamed)
        assert [first, *streamed] == plan(source, listing_of(repos), "salt"), value


def test_stream_reads_the_listing_only_as_far_as_it_is_asked_for() -> None:
    """`/*` yields a datum per entry as the entries come (a lone pfs input)."""
    listing = files_listing("c", {f"/f{i}": (f"d{i}", 1) for i in range(5)})
    asked: list[str] = []

    def children(path: str) -> Any:
        for entry in listing.children(path):
            asked.append(entry.name)
            yield entry

    lazy = Listing(listing.commit, listing.root_digest, listing.root_size, children)
    streamed = stream(input_of({"pfs": {"repo": "r", "glob": "/*"}}), lambda pfs: lazy, "s")
    assert next(streamed).files[0].path == "/f0"
    assert asked == ["f0"]
