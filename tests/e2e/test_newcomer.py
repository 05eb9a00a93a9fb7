"""What a newcomer hit in the seed walk-throughs (issue 12): versions, init without a token,
the workspace a command uses, subvenance of an unused commit, internal repos in listings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kaon import __version__

from .helpers import Kaon, server_pids

pytestmark = pytest.mark.e2e

PERMISSION = 6


def test_version_with_the_server_down_and_up(kaon: Kaon, tmp_path: Path) -> None:
    down = Kaon(tmp_path / "home")
    for args in (["version"], ["--version"]):
        out = down.ok(*args)
        assert f"kaon      {__version__}" in out, out
        assert "server    unreachable" in out and "kaon up" in out, out
    doc = json.loads(down.ok("version", "--json"))
    assert (
        doc["client"] == __version__ and doc["server"] is None and "kaon up" in doc["server_error"]
    )
    assert not server_pids(down.home)  # asking for versions never starts a platform

    up = json.loads(kaon.ok("version", "--json"))
    assert up == {"client": __version__, "server": __version__, "endpoint": kaon.server()["url"]}  # type: ignore[index]
    assert f"server    {__version__}" in kaon.ok("--version")


def test_init_without_a_token(kaon: Kaon, tmp_path: Path) -> None:
    url = kaon.server()["url"]  # type: ignore[index]
    try:
        assert url in kaon.ok("init", "-e", url)  # the local platform: its own token is used
        assert kaon.ok("list", "repo").startswith("NAME")
        assert json.loads((kaon.home / "config.json").read_text())["endpoint"] == url
    finally:
        kaon.ok("init")  # back to the local platform for the other tests
    assert kaon.ok("auth", "token").strip() == (kaon.home / "token").read_text().strip()

    other = Kaon(tmp_path / "elsewhere")  # another home: no token of that server
    other.fails(4, "auth", "token", match="kaon up")
    line = other.fails(PERMISSION, "init", "-e", url, match="kaon auth token")
    assert url in line and "--token" in line
    (other.home / "token").write_text("not-that-servers-token\n")
    other.fails(PERMISSION, "init", "-e", url, match="kaon auth token")
    token = (kaon.home / "token").read_text().strip()
    assert url in other.ok("init", "-e", url, "--token", token)
    assert not server_pids(other.home)


def test_workspace_flag_env_and_saved(kaon: Kaon) -> None:
    kaon.ok("workspace", "create", "-n", "flag_a")
    kaon.ok("workspace", "create", "-n", "flag_b")  # the saved current one
    assert "flag_b is currently set (saved by" in kaon.ok("workspace", "current")
    env = {"KAON_WORKSPACE": "flag_a"}
    assert "flag_a is currently set (from $KAON_WORKSPACE)" in kaon.ok(
        "workspace", "current", env=env
    )
    out = kaon.ok("workspace", "current", "-w", "flag_b", env=env)
    assert "flag_b is currently set (from the -w/--workspace option)" in out
    assert "flag_a-source" in kaon.ok("workspace", "info", "--workspace", "flag_a")
    assert (
        "There are currently no training jobs" in kaon.run("train", "list", "-w", "flag_a").stderr
    )
    kaon.fails(4, "train", "list", "-w", "flag_nope", match="does not exist")
    kaon.ok("workspace", "kill", "-y", "-w", "flag_a")  # another one: the current one stays
    assert "flag_b is currently set" in kaon.ok("workspace", "current")
    kaon.ok("workspace", "kill", "-y")


def test_subvenance_of_an_unused_commit_is_an_empty_table(kaon: Kaon, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("1,2\n")
    kaon.ok("create", "repo", "unused")
    kaon.ok("put", "file", "unused@master:/x.csv", "-f", str(f))
    out = kaon.ok("data", "subvenance", "unused@master")
    assert "DOWNSTREAM OF" in out and "kind" in out
    assert json.loads(kaon.ok("data", "subvenance", "unused@master", "--json")) == {
        "nodes": [],
        "edges": [],
    }
    kaon.fails(4, "data", "subvenance", "unused@nosuchbranch")
    commit = kaon.json("list", "commit", "unused@master")[0]["id"]
    assert "DOWNSTREAM OF" in kaon.ok("data", "subvenance", commit[:8])  # a bare prefix too
    kaon.fails(4, "data", "subvenance", "fedcba9876")  # no such commit anywhere: an error


def test_listings_hide_workspace_repos(kaon: Kaon) -> None:
    import boto3

    kaon.ok("workspace", "create", "-n", "hidden")
    kaon.ok("create", "repo", "visible")
    names = {r["name"] for r in kaon.json("list", "repo")}
    assert "visible" in names and not any(n.startswith("hidden-") for n in names)
    assert "hidden-source" not in kaon.ok("repo", "list")
    everything = {r["name"] for r in kaon.json("list", "repo", "--all")}
    assert {"hidden-source", "hidden-logs", "hidden-models", "visible"} <= everything

    cred: dict[str, Any] = kaon.json("auth", "s3-credentials")
    s3 = boto3.client(
        "s3",
        endpoint_url=cred["endpoint"],
        aws_access_key_id=cred["access_key"],
        aws_secret_access_key=cred["secret"],
        region_name="us-east-1",
    )
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert "visible" in buckets and not any("hidden-" in b for b in buckets), buckets
    s3.head_bucket(Bucket="hidden-logs")  # hidden from the listing, still addressable
    kaon.ok("workspace", "kill", "-y", "-w", "hidden")
