"""`kaon audit` through the real CLI: what a user did (and was refused) shows up, newest first,
as a table or --json; the filters work; a user who is no admin sees only their own and their
workspaces' entries; bad options are one line and exit 2."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from kaon.db.database import Database
from kaon.ports.users import AuditQuery
from kaon.services.users import UserService

from .helpers import Kaon

pytestmark = pytest.mark.e2e

FIELDS = {"id", "at", "user", "action", "target", "workspace", "status", "detail"}


def test_kaon_audit(tmp_path: Path) -> None:
    # a platform of its own: the shared one's other tests (and their jobs) write meanwhile
    kaon = Kaon(tmp_path / "home")
    try:
        kaon.up()
        check_kaon_audit(kaon, tmp_path)
    finally:
        kaon.shutdown()


def check_kaon_audit(kaon: Kaon, tmp_path: Path) -> None:
    since = datetime.fromtimestamp(time.time() - 1).isoformat()  # local time, as typed
    kaon.ok("workspace", "create", "-n", "audite")
    (tmp_path / "x.txt").write_text("hello\n")
    kaon.ok("put", "file", "audite-data@master:/x.txt", "-f", str(tmp_path / "x.txt"))
    kaon.fails(6, "workspace", "create", "-n", "audite2", env={"KAON_TOKEN": "kaon_bad"})
    db = Database(f"sqlite:///{kaon.home / 'kaon.db'}")
    store = db.users
    try:
        admin = next(u.name for u in store.list_users() if u.admin)
        _, bob = UserService(store, time.time).add("bob_audit")
    finally:
        db.close()
    kaon.ok("list", "repo", env={"KAON_TOKEN": bob})  # a read: not recorded
    kaon.ok("workspace", "create", "-n", "bobaud", env={"KAON_TOKEN": bob})

    entries = kaon.json("audit", "--since", since)
    assert all(set(e) == FIELDS and isinstance(e["detail"], dict) for e in entries)
    mine = [(e["user"], e["action"], e["workspace"], e["status"]) for e in entries]
    assert mine == [
        ("bob_audit", "POST /v1/workspaces", "bobaud", 201),
        ("", "POST /v1/workspaces", None, 401),
        (admin, "POST /v1/repos/{repo}/commits", "audite", 201),
        (admin, "POST /v1/workspaces", "audite", 201),
    ]
    assert entries[2]["target"] == "/v1/repos/audite-data/commits"

    rows = kaon.rows("audit", "--since", since)
    assert rows[0] == ["TIME", "USER", "ACTION", "TARGET", "WORKSPACE", "STATUS"]
    assert [r[1:] for r in rows[1:]] == [
        ["bob_audit", "POST", "/v1/workspaces", "/v1/workspaces", "bobaud", "201"],
        ["-", "POST", "/v1/workspaces", "/v1/workspaces", "-", "401"],
        [
            admin,
            "POST",
            "/v1/repos/{repo}/commits",
            "/v1/repos/audite-data/commits",
            "audite",
            "201",
        ],
        [admin, "POST", "/v1/workspaces", "/v1/workspaces", "audite", "201"],
    ]
    assert datetime.fromisoformat(rows[1][0]) >= datetime.fromisoformat(since[:19])

    def ids(*args: str, env: dict[str, str] | None = None) -> list[int]:
        out = kaon.ok("audit", "--since", since, "--json", *args, env=env)
        return [e["id"] for e in json.loads(out)]

    every = [e["id"] for e in entries]
    assert ids("-w", "audite") == [every[2], every[3]]
    assert ids("--user", admin) == [every[2], every[3]]
    assert ids("--action", "commits") == [every[2]]
    assert ids("--limit", "1") == [every[0]]
    between = (entries[1]["at"] + entries[2]["at"]) / 2
    assert ids("--until", datetime.fromtimestamp(between).isoformat()) == every[2:]
    assert every[0] in ids()  # --since 1h
    assert kaon.json("audit", "--since", "1h", "--limit", "10000")[: len(every)] == entries
    assert ids(env={"KAON_TOKEN": bob}) == [every[0]]  # only his own: he owns no other

    kaon.fails(2, "audit", "--since", "yesterday", match="invalid time 'yesterday'")
    kaon.fails(2, "audit", "--limit", "0", match="invalid --limit 0")


def test_a_graceful_stop_writes_what_is_queued(lone: Kaon) -> None:
    lone.up()
    lone.ok("workspace", "create", "-n", "stopaud")
    lone.ok("down")
    db = Database(f"sqlite:///{lone.home / 'kaon.db'}")
    store = db.users
    try:
        entries = store.audit(AuditQuery(workspace="stopaud"))
    finally:
        db.close()
    assert [(e.action, e.status) for e in entries] == [("POST /v1/workspaces", 201)]
