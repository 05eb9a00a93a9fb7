"""Seed 004 (mnist with TFJob and Pachyderm), data part, with `pachctl` replaced by `kaon`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .helpers import Kaon, MiB, random_file, same_bytes, same_tree

pytestmark = pytest.mark.e2e

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_seed_004_mnist_walkthrough(kaon: Kaon, tmp_path: Path) -> None:
    mnist = random_file(tmp_path / "mnist.npz", 11 * 1000 * 1000)  # 10.49MiB

    # Step 2: two repos, the data set checked in
    kaon.ok("repo", "create", "inputrepo")
    kaon.ok("repo", "create", "outputrepo")
    kaon.ok("put", "file", "inputrepo@master:/data/mnist.npz", "-f", str(mnist))

    rows = kaon.rows("list", "file", "inputrepo@master:/data/")
    assert rows == [["NAME", "TYPE", "SIZE"], ["/data/mnist.npz", "file", "10.49MiB"]]

    # an empty branch on outputrepo
    kaon.ok("create", "branch", "outputrepo@master")
    rows = kaon.rows("list", "branch", "outputrepo")
    assert rows == [["BRANCH", "HEAD"], ["master", "-"]]
    assert kaon.rows("list", "repo")[0] == ["NAME", "CREATED", "SIZE", "(MASTER)", "BRANCHES"]

    # Step 5: --history 1 adds COMMIT and COMMITTED
    out = kaon.ok("list", "file", "inputrepo@master", "--history", "1")
    header, *lines = out.splitlines()
    assert header.split() == ["COMMIT", "NAME", "TYPE", "COMMITTED", "SIZE"]
    assert len(lines) == 1
    first_id, name, kind = lines[0].split()[:3]
    assert HEX32.match(first_id)
    assert (name, kind) == ("/data", "dir")
    assert lines[0].rstrip().endswith("10.49MiB")

    # Step 6: the same data put again is a second commit whose PARENT is the first
    kaon.ok("put", "file", "inputrepo@master:/data/mnist.npz", "-f", str(mnist))
    out = kaon.ok("list", "commit", "inputrepo@master")
    header, *lines = out.splitlines()
    assert header.split() == [
        "REPO",
        "BRANCH",
        "COMMIT",
        "PARENT",
        "STARTED",
        "DURATION",
        "SIZE",
    ]
    assert len(lines) == 2
    newest, oldest = (line.split() for line in lines)
    assert newest[:2] == oldest[:2] == ["inputrepo", "master"]
    assert oldest[2] == first_id
    assert newest[3] == oldest[2]
    assert oldest[3] == "<none>"
    assert newest[-1] == oldest[-1] == "10.49MiB"
    second_id = newest[2]
    assert HEX32.match(second_id) and second_id != first_id

    # inspect by a 6-character prefix and by ancestry
    out = kaon.ok("inspect", "commit", f"inputrepo@{first_id[:6]}")
    assert f"Commit: inputrepo@{first_id}" in out
    assert "Parent: <none>" in out
    out = kaon.ok("inspect", "commit", "inputrepo@master^")
    assert f"Commit: inputrepo@{first_id}" in out
    doc = kaon.json("inspect", "commit", "inputrepo@master")
    assert doc["id"] == second_id and doc["parent"] == first_id

    # get file round trip, from the branch and from the first commit
    for ref in ("master", first_id[:6], "master^"):
        target = tmp_path / f"out-{ref}.npz"
        kaon.ok("get", "file", f"inputrepo@{ref}:/data/mnist.npz", "-o", str(target))
        assert same_bytes(mnist, target)

    assert kaon.json("diff", "file", "inputrepo@master") == []  # same bytes: no change


def test_folder_put_is_one_commit_and_get_r_round_trips(kaon: Kaon, tmp_path: Path) -> None:
    src = tmp_path / "src"
    random_file(src / "train" / "a.bin", 3 * MiB + 17)
    random_file(src / "train" / "deep" / "b.bin", 70_000)
    (src / "labels.csv").write_text("id,label\n1,7\n")
    (src / "empty.txt").write_bytes(b"")
    kaon.ok("repo", "create", "folders")

    put = kaon.json("put", "file", "folders@master:/set", "-f", str(src), "-r")
    assert put["stats"]["files"] == 4
    commits = kaon.json("list", "commit", "folders@master")
    assert [c["id"] for c in commits] == [put["commit"]["id"]]  # ONE commit for the folder
    assert commits[0]["count"] == 4

    out = tmp_path / "out"
    kaon.ok("get", "file", "folders@master:/set", "-o", str(out), "-r")
    same_tree(src, out)

    rows = kaon.rows("list", "file", "folders@master:/set")
    assert rows[0] == ["NAME", "TYPE", "SIZE"]
    assert sorted((r[0], r[1]) for r in rows[1:]) == [
        ("/set/empty.txt", "file"),
        ("/set/labels.csv", "file"),
        ("/set/train", "dir"),
    ]

    # change one file, add one: diff against the parent and between explicit commits
    (src / "labels.csv").write_text("id,label\n1,7\n2,3\n")
    (src / "new.txt").write_text("new\n")
    kaon.ok("put", "file", "folders@master:/set", "-f", str(src), "-r")
    changes = kaon.json("diff", "file", "folders@master")
    assert {(c["path"], c["kind"]) for c in changes} == {
        ("/set/labels.csv", "modified"),
        ("/set/new.txt", "added"),
    }
    rows = kaon.rows("diff", "file", "folders@master", "folders@master^")
    assert rows[0] == ["CHANGE", "PATH", "OLD", "SIZE", "NEW", "SIZE"]
    assert sorted(r[2] for r in rows[1:]) == ["/set/labels.csv", "/set/new.txt"]

    # delete a file: a new commit without it, the old commit still has it
    kaon.ok("delete", "file", "folders@master:/set/train/a.bin")
    assert len(kaon.json("list", "commit", "folders@master")) == 3
    names = [f["path"] for f in kaon.json("list", "file", "folders@master:/set/train")]
    assert names == ["/set/train/deep"]
    removed = kaon.json("diff", "file", "folders@master")
    assert removed == [
        {"path": "/set/train/a.bin", "kind": "removed", "old_size": 3 * MiB + 17, "new_size": None}
    ]
    old = tmp_path / "a-old.bin"
    kaon.ok("get", "file", "folders@master^:/set/train/a.bin", "-o", str(old))
    assert same_bytes(src / "train" / "a.bin", old)
    kaon.fails(4, "get", "file", "folders@master:/set/train/a.bin", "-o", str(old))


def test_every_list_has_json(kaon: Kaon, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("hello\n")
    kaon.ok("repo", "create", "jsonrepo")
    kaon.ok("put", "file", "jsonrepo@master:/dir/x.txt", "-f", str(f))
    commands = [
        ("repo", "list"),
        ("list", "repo"),
        ("list", "branch", "jsonrepo"),
        ("list", "commit", "jsonrepo@master"),
        ("list", "file", "jsonrepo@master"),
        ("list", "file", "jsonrepo@master:/dir"),
        ("list", "file", "jsonrepo@master", "--history", "all"),
        ("inspect", "commit", "jsonrepo@master"),
        ("diff", "file", "jsonrepo@master"),
        ("status",),
        ("gc",),
    ]
    for args in commands:
        doc = json.loads(kaon.ok(*args, "--json"))
        assert doc is not None, args
    repos = {r["name"]: r for r in kaon.json("repo", "list")}
    assert repos["jsonrepo"]["branches"] == ["master"]
    assert repos["jsonrepo"]["size"] == 6
    [entry] = kaon.json("list", "file", "jsonrepo@master:/dir")
    assert entry["path"] == "/dir/x.txt" and entry["type"] == "file" and entry["size"] == 6
    [branch] = kaon.json("list", "branch", "jsonrepo")
    assert branch["name"] == "master" and HEX32.match(branch["head"])
    assert kaon.json("status")["status"] == "ok"
    # `kaon put file --json` prints the commit and transfer stats
    f.write_text("hello again\n")
    put = kaon.json("put", "file", "jsonrepo@master:/dir/x.txt", "-f", str(f))
    assert put["commit"]["parent"] == branch["head"]
    assert put["stats"]["files"] == 1 and put["stats"]["bytes"] == 12


def test_list_file_pages_through_a_folder(kaon: Kaon, tmp_path: Path) -> None:
    """`list file -n N` shows the first N entries by name, `--after <last path>` the next;
    a bad page size is refused with one line."""
    folder = tmp_path / "pages"
    for i in range(5):
        (folder / f"f{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_text(str(i))
    kaon.ok("repo", "create", "paged")
    kaon.ok("put", "file", "paged@master:/pages", "-f", str(folder), "-r")
    first = [r[0] for r in kaon.rows("list", "file", "paged@master:/pages", "-n", "2")[1:]]
    assert first == ["/pages/f0.txt", "/pages/f1.txt"]
    rest = kaon.json("list", "file", "paged@master:/pages", "-n", "10", "--after", first[-1])
    assert [f["path"] for f in rest] == ["/pages/f2.txt", "/pages/f3.txt", "/pages/f4.txt"]
    kaon.fails(2, "list", "file", "paged@master:/pages", "-n", "0", match="--number 0")
