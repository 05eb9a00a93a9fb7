"""The audit log over a real server and real HTTP: every write (refused ones too, with their
401/403/404) is recorded with who, what, where and how it ended; reads and upload plumbing are
not; GET /v1/audit filters, and a user who is no admin reads only what is theirs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kaon.core.users import Role
from kaon.db.database import Database
from kaon.ports.users import AuditQuery
from kaon.services.users import UserService


class Site:
    def __init__(self, server: Any, users: UserService) -> None:  # conftest's LiveServer
        self.server = server
        self.users = users
        self.admin = next(u.name for u in users.all() if u.admin)
        self.tokens: dict[str, str] = {self.admin: server.token}

    def add_user(self, name: str) -> str:
        _, secret = self.users.add(name)
        self.tokens[name] = secret
        return secret

    def call(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        token = self.tokens.get(who, who)  # a user's name, or a token as it is
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.server.url + path, headers=headers, timeout=30, **kw)

    def audit(self, who: str, **params: Any) -> list[dict[str, Any]]:
        r = self.call(who, "GET", "/v1/audit", params=params)
        assert r.status_code == 200, r.text
        doc: list[dict[str, Any]] = r.json()
        return doc


@pytest.fixture(scope="module")
def site(own_server: Any) -> Iterator[Site]:
    """A server of this module's own, and its users' service over the same database."""
    db = Database(f"sqlite:///{own_server.home / 'kaon.db'}")
    store = db.users
    try:
        yield Site(own_server, UserService(store, time.time))
    finally:
        db.close()


def _one(entries: list[dict[str, Any]], action: str, status: int) -> dict[str, Any]:
    found = [e for e in entries if e["action"] == action and e["status"] == status]
    assert len(found) == 1, (action, status, entries)
    return found[0]


def test_writes_and_refused_writes_are_recorded(site: Site) -> None:
    site.add_user("vic")
    admin = site.admin
    assert site.call(admin, "POST", "/v1/workspaces", json={"name": "aud"}).status_code == 201
    empty = {"path": "/a.txt", "size": 0, "chunks": []}
    body = {"branch": "master", "puts": [empty], "deletes": []}
    r = site.call(admin, "POST", "/v1/repos/aud-data/commits", json=body)
    assert r.status_code == 201, r.text
    commit = r.json()["id"]
    assert site.call(admin, "GET", "/v1/repos/aud-data/commits").status_code == 200  # a read
    assert site.call(admin, "POST", "/v1/chunks/missing", json={"digests": []}).status_code == 200
    refused = site.call("kaon_not-a-token", "POST", "/v1/workspaces/aud/train", json={})
    assert refused.status_code == 401
    site.users.share("aud", "vic", Role.VIEWER)
    forbidden = site.call("vic", "POST", "/v1/workspaces/aud/train", json={})
    assert forbidden.status_code == 403, forbidden.text

    entries = site.audit(admin, workspace="aud")
    assert [e["action"] for e in entries] == [  # newest first; no read, no plumbing
        "POST /v1/workspaces/{name}/train",
        "POST /v1/workspaces/{name}/train",
        "POST /v1/repos/{repo}/commits",
        "POST /v1/workspaces",
    ]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    created = _one(entries, "POST /v1/workspaces", 201)
    assert (created["user"], created["target"], created["workspace"]) == (
        admin,
        "/v1/workspaces",
        "aud",
    )
    assert json.loads(created["detail"])["name"] == "aud"
    put = _one(entries, "POST /v1/repos/{repo}/commits", 201)
    assert (put["user"], put["target"]) == (admin, "/v1/repos/aud-data/commits")
    assert json.loads(put["detail"])["id"] == commit
    anonymous = _one(entries, "POST /v1/workspaces/{name}/train", 401)
    assert (anonymous["user"], anonymous["target"]) == ("", "/v1/workspaces/aud/train")
    assert json.loads(anonymous["detail"])["code"] == "permission_denied"
    viewer = _one(entries, "POST /v1/workspaces/{name}/train", 403)
    assert viewer["user"] == "vic"
    assert json.loads(viewer["detail"])["client"] == "127.0.0.1"
    for e in entries:
        assert e["at"] > time.time() - 600


def test_plumbing_is_recorded_only_when_refused(site: Site) -> None:
    r = site.call("kaon_not-a-token", "POST", "/v1/chunks/missing", json={"digests": []})
    assert r.status_code == 401
    entries = site.audit(site.admin, action="/v1/chunks/missing")
    assert [(e["user"], e["status"]) for e in entries] == [("", 401)]


def test_a_permission_change_is_recorded_without_its_secret(site: Site) -> None:
    r = site.call(site.admin, "POST", "/v1/s3/credentials", json={})
    assert r.status_code == 201
    key, secret = r.json()["access_key"], r.json()["secret"]
    # written before the answer (read from the database, not through GET /v1/audit, which
    # writes what is queued first): a kill -9 right after it could not lose it
    stored = site.users.audit(AuditQuery(action="POST /v1/s3/credentials"))
    assert [(e.user, e.status) for e in stored] == [(site.admin, 201)]
    assert site.call(site.admin, "DELETE", f"/v1/s3/credentials/{key}").status_code == 204
    entries = site.audit(site.admin, action="/v1/s3/credentials")
    assert [(e["action"], e["status"]) for e in entries] == [
        ("DELETE /v1/s3/credentials/{access_key}", 204),
        ("POST /v1/s3/credentials", 201),
    ]
    assert json.loads(entries[1]["detail"])["access_key"] == key
    assert entries[0]["target"] == f"/v1/s3/credentials/{key}"
    assert all(secret not in json.dumps(e) for e in entries)


def test_filters(site: Site) -> None:
    site.add_user("fil")
    for name in ("fa", "fb"):
        assert site.call("fil", "POST", "/v1/workspaces", json={"name": name}).status_code == 201
    assert site.call("fil", "DELETE", "/v1/workspaces/fb").status_code == 204
    mine = site.audit(site.admin, user="fil")
    assert [(e["action"], e["workspace"]) for e in mine] == [
        ("DELETE /v1/workspaces/{name}", "fb"),
        ("POST /v1/workspaces", "fb"),
        ("POST /v1/workspaces", "fa"),
    ]
    assert [e["workspace"] for e in site.audit(site.admin, user="fil", action="DELETE")] == ["fb"]
    assert [e["action"] for e in site.audit(site.admin, workspace="FA")] == ["POST /v1/workspaces"]
    assert len(site.audit(site.admin, user="fil", limit=2)) == 2
    middle = mine[1]["at"]
    assert [e["id"] for e in site.audit(site.admin, user="fil", since=middle)] == [
        e["id"] for e in mine[:2]
    ]
    assert [e["id"] for e in site.audit(site.admin, user="fil", until=middle)] == [mine[2]["id"]]
    assert site.audit(site.admin, user="nobody") == []


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 10_001}, {"since": "yesterday"}, {"until": "nan"}]
)
def test_bad_queries_are_400(site: Site, params: dict[str, Any]) -> None:
    r = site.call(site.admin, "GET", "/v1/audit", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_input"


def test_a_user_reads_their_own_entries_and_those_of_the_workspaces_they_own(site: Site) -> None:
    site.add_user("own")
    site.add_user("oth")
    assert (
        site.call(site.admin, "POST", "/v1/workspaces", json={"name": "adminws"}).status_code == 201
    )
    assert site.call("own", "POST", "/v1/workspaces", json={"name": "ownws"}).status_code == 201
    assert site.call("oth", "POST", "/v1/workspaces", json={"name": "othws"}).status_code == 201
    probe = site.call("oth", "POST", "/v1/workspaces/ownws/train", json={})
    assert probe.status_code == 404  # no role: as if it did not exist
    site.users.share("othws", "own", Role.EDITOR)  # a role, but not the owner
    assert site.call("oth", "DELETE", "/v1/workspaces/othws").status_code == 204

    owner_sees = site.audit("own")
    assert {(e["user"], e["action"], e["workspace"], e["status"]) for e in owner_sees} == {
        ("own", "POST /v1/workspaces", "ownws", 201),
        ("oth", "POST /v1/workspaces/{name}/train", "ownws", 404),  # a probe of hers
    }
    other_sees = site.audit("oth")
    assert {(e["action"], e["workspace"]) for e in other_sees} == {
        ("POST /v1/workspaces", "othws"),
        ("POST /v1/workspaces/{name}/train", "ownws"),
        ("DELETE /v1/workspaces/{name}", "othws"),
    }
    assert all(e["user"] == "oth" for e in other_sees)
    assert site.audit("own", user=site.admin) == []  # a filter cannot widen what one sees
    everything = site.audit(site.admin, limit=10_000)
    assert {"own", "oth", site.admin} <= {e["user"] for e in everything}
