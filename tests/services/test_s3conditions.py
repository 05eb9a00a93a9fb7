"""Conditional writes through ObjectService: the condition is checked on the head the commit
is built on, so of many concurrent If-None-Match: * writers exactly one wins, even across two
servers sharing one database (where only the compare-and-set on the head serialises them)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kaon.core.address import Ref
from kaon.core.errors import PreconditionFailed
from kaon.core.s3.buckets import parse_bucket
from kaon.core.s3.preconditions import WriteCondition
from kaon.wiring import Platform


def test_one_winner_across_two_servers(  # type: ignore[no-untyped-def]
    platform_factory, seeder_for, tmp_path: Path
) -> None:
    home = tmp_path / "shared"
    a: Platform = platform_factory(home=home)
    b: Platform = platform_factory(home=home)
    a.repos.create_repo("r")
    seeder_for(a).commit("r", {"/other": b"x"})
    bucket = parse_bucket("master.r")
    writers = 12
    bodies = []
    for i in range(writers):
        body = tmp_path / f"body{i}"
        body.write_bytes(f"writer {i}".encode())
        bodies.append(body)
    barrier = threading.Barrier(writers)
    only_new = WriteCondition(if_none_match=("*",))

    def write(i: int) -> str:
        p = (a, b)[i % 2]
        barrier.wait()
        try:
            p.s3.put_file(bucket, "log/1.json", bodies[i], None, "", cond=only_new)
        except PreconditionFailed:
            return "412"
        return "won"

    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(write, range(writers)))
    assert sorted(outcomes) == ["412"] * (writers - 1) + ["won"]
    winner = outcomes.index("won")
    obj = b.s3.stat(bucket, "log/1.json")
    assert b"".join(b.s3.read(obj.node)) == f"writer {winner}".encode()
    assert len(a.repos.history("r", Ref("master"), None)) == 2


@pytest.mark.parametrize("etag_ok", [True, False])
def test_if_match_checked_at_commit(
    platform: Platform, seed, tmp_path: Path, etag_ok: bool
) -> None:  # type: ignore[no-untyped-def]
    platform.repos.create_repo("m")
    seed.commit("m", {"/k": b"one"}, branch="master")
    bucket = parse_bucket("master.m")
    etag = platform.s3.stat(bucket, "k").etag
    body = tmp_path / "b"
    body.write_bytes(b"two")
    cond = WriteCondition(if_match=(etag if etag_ok else "0" * 32,))
    if etag_ok:
        platform.s3.put_file(bucket, "k", body, None, "", cond=cond)
    else:
        with pytest.raises(PreconditionFailed):
            platform.s3.put_file(bucket, "k", body, None, "", cond=cond)
    got = b"".join(platform.s3.read(platform.s3.stat(bucket, "k").node))
    assert got == (b"two" if etag_ok else b"one")
