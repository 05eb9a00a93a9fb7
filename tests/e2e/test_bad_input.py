"""Bad input: one clear `Error:` line, the documented exit code, and nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import Kaon

pytestmark = pytest.mark.e2e

INVALID, NOT_FOUND, PERMISSION = 2, 4, 6
REPO = "badinput"


@pytest.fixture(scope="module")
def seeded(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo with two commits on master; returns a small local file to put."""
    root = tmp_path_factory.mktemp("bad-input")
    f = root / "ok.txt"
    f.write_text("fine\n")
    kaon.ok("repo", "create", REPO)
    # its own workspace, named with -w: the suite's current one depends on which file ran first
    with kaon.client() as c:  # not `workspace create`: it would change the current one
        c.create_workspace(REPO)
    kaon.ok("put", "file", f"{REPO}@master:/a.txt", "-f", str(f))
    kaon.ok("put", "file", f"{REPO}@master:/b.txt", "-f", str(f))
    return f


def _cases(f: Path) -> list[tuple[str, int, str, list[str]]]:
    tmp = str(f.parent)
    (f.parent / "hyper.json").write_text('{"lr": [0.1]}')
    hyper = ["-h", f"{tmp}/hyper.json"]
    return [
        ("unknown repo: list", NOT_FOUND, "nosuchrepo", ["list", "commit", "nosuchrepo@master"]),
        (
            "unknown repo: put",
            NOT_FOUND,
            "nosuchrepo",
            ["put", "file", "nosuchrepo@master:/x", "-f", str(f)],
        ),
        ("unknown repo: delete", NOT_FOUND, "nosuchrepo", ["repo", "delete", "nosuchrepo"]),
        ("unknown branch", NOT_FOUND, "nobranch", ["list", "commit", f"{REPO}@nobranch"]),
        ("unknown branch: files", NOT_FOUND, "nobranch", ["list", "file", f"{REPO}@nobranch"]),
        ("unknown commit prefix", NOT_FOUND, "abcdef", ["inspect", "commit", f"{REPO}@abcdef"]),
        (
            "unknown commit: get",
            NOT_FOUND,
            "",
            ["get", "file", f"{REPO}@abcdef12:/a.txt", "-o", f"{tmp}/never"],
        ),
        ("ancestor past the first", NOT_FOUND, "", ["inspect", "commit", f"{REPO}@master~5"]),
        ("unknown path", NOT_FOUND, "/nope", ["get", "file", f"{REPO}@master:/nope", "-o", tmp]),
        ("delete unknown path", NOT_FOUND, "/nope", ["delete", "file", f"{REPO}@master:/nope"]),
        ("invalid repo name", INVALID, "bad name!", ["repo", "create", "bad name!"]),
        ("invalid repo name (create)", INVALID, "invalid repo name", ["create", "repo", "a/b"]),
        ("path escaping: list", INVALID, "escapes", ["list", "file", f"{REPO}@master:/../x"]),
        (
            "path escaping: put",
            INVALID,
            "escapes",
            ["put", "file", f"{REPO}@master:/../x", "-f", str(f)],
        ),
        ("path escaping: bare", INVALID, "escapes", ["list", "file", "repo@master:/../x"]),
        (
            "missing local file",
            INVALID,
            "no such file",
            ["put", "file", f"{REPO}@master:/x", "-f", f"{tmp}/missing.bin"],
        ),
        (
            "directory without -r",
            INVALID,
            "-r",
            ["put", "file", f"{REPO}@master:/x", "-f", tmp],
        ),
        (
            "write to master^",
            INVALID,
            "ancestor",
            ["put", "file", f"{REPO}@master^:/x", "-f", str(f)],
        ),
        ("delete in master^", INVALID, "ancestor", ["delete", "file", f"{REPO}@master^:/a.txt"]),
        ("bad --history", INVALID, "history", ["list", "file", f"{REPO}@master", "--history", "x"]),
        *(
            (
                f"--memory {m}",
                INVALID,
                "invalid memory",
                ["train", "deploy", "-w", REPO, *hyper, "--memory", m],
            )
            for m in ("inf", "nan", "1e400Gi", "99999999Ti")
        ),
    ]


def test_bad_input(kaon: Kaon, seeded: Path) -> None:
    before = kaon.snapshot()
    problems = []
    for name, code, match, args in _cases(seeded):
        try:
            kaon.fails(code, *args, match=match)
        except AssertionError as exc:
            problems.append(f"{name}: {exc}")
        if kaon.snapshot() != before:
            problems.append(f"{name}: changed the platform")
            before = kaon.snapshot()
    assert not problems, "\n\n".join(problems)
    assert not (seeded.parent / "never").exists()


def test_existing_repo_is_a_conflict(kaon: Kaon, seeded: Path) -> None:
    before = kaon.snapshot()
    kaon.fails(5, "repo", "create", REPO, match=REPO)
    assert kaon.snapshot() == before


def test_wrong_token(kaon: Kaon, seeded: Path) -> None:
    before = kaon.snapshot()
    server = kaon.server()
    assert server is not None
    env = {"KAON_ENDPOINT": server["url"], "KAON_TOKEN": "wrong"}
    kaon.fails(PERMISSION, "list", "repo", env=env, match="token")
    kaon.fails(PERMISSION, "put", "file", f"{REPO}@master:/x", "-f", str(seeded), env=env)
    kaon.fails(PERMISSION, "repo", "create", "sneaky", env=env)
    assert kaon.snapshot() == before
    # the right token through the same variables works
    token = (kaon.home / "token").read_text().strip()
    assert REPO in kaon.ok("list", "repo", env={**env, "KAON_TOKEN": token})


def test_dangling_symlink(kaon: Kaon, seeded: Path, tmp_path: Path) -> None:
    link = tmp_path / "dangling.bin"
    link.symlink_to(tmp_path / "gone.bin")
    before = kaon.snapshot()
    kaon.fails(INVALID, "put", "file", f"{REPO}@master:/d.bin", "-f", str(link), match=str(link))
    assert kaon.snapshot() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(kaon: Kaon, seeded: Path, tmp_path: Path) -> None:
    f = tmp_path / "secret.bin"
    f.write_bytes(b"x" * 1000)
    f.chmod(0)
    before = kaon.snapshot()
    kaon.fails(INVALID, "put", "file", f"{REPO}@master:/s.bin", "-f", str(f), match="permission")
    assert kaon.snapshot() == before
