"""Concurrent writers on one branch: every put lands, in one linear history."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from .helpers import Kaon, MiB, random_file, same_bytes

pytestmark = pytest.mark.e2e

WRITERS = 4


def test_concurrent_puts_to_one_branch_lose_nothing(kaon: Kaon, tmp_path: Path) -> None:
    seed = tmp_path / "seed.txt"
    seed.write_text("seed\n")
    kaon.ok("repo", "create", "concurrent")
    kaon.ok("put", "file", "concurrent@master:/seed.txt", "-f", str(seed))
    [base] = kaon.json("list", "commit", "concurrent@master")

    files = [random_file(tmp_path / f"w{i}.bin", MiB + i) for i in range(WRITERS)]
    procs = [
        kaon.popen("put", "file", f"concurrent@master:/w{i}.bin", "-f", str(f), "--json")
        for i, f in enumerate(files)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    made = {json.loads(out)["commit"]["id"] for out, _ in results}
    assert len(made) == WRITERS

    history = kaon.json("list", "commit", "concurrent@master")
    assert len(history) == WRITERS + 1
    assert {c["id"] for c in history[:WRITERS]} == made
    assert history[-1]["id"] == base["id"]
    for newer, older in itertools.pairwise(history):
        assert newer["parent"] == older["id"]  # linear: each commit's parent is the previous
    assert history[-1]["parent"] is None

    listing = kaon.json("list", "file", "concurrent@master")
    assert sorted(f["path"] for f in listing) == ["/seed.txt"] + [
        f"/w{i}.bin" for i in range(WRITERS)
    ]
    assert history[0]["count"] == WRITERS + 1
    got = tmp_path / "got.bin"
    kaon.ok("get", "file", "concurrent@master:/w2.bin", "-o", str(got))
    assert same_bytes(files[2], got)
