"""Users, tokens and workspace members over HTTP, and what each caller may see: whoami,
/v1/users, /v1/tokens, /v1/workspaces/{name}/members, authors taken from the token, repo
listings, provenance graphs and S3 keys filtered per caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from kaon.core.provenance import Edge, EdgeKind, Node, NodeKind, model_node_id, node_id
from kaon.wiring import Backends, Platform

Headers = dict[str, str]


def bearer(secret: str) -> Headers:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def new_user(api: TestClient) -> Callable[..., Headers]:
    def make(name: str, admin: bool = False) -> Headers:
        r = api.post("/v1/users", json={"name": name, "admin": admin})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["user"] == {
            "name": name,
            "admin": admin,
            "created": doc["user"]["created"],
            "workspaces": {},
        }
        assert doc["secret"].startswith("kaon_") and doc["token"]["user"] == name
        return bearer(doc["secret"])

    return make


@pytest.fixture
def ann(new_user: Callable[..., Headers]) -> Headers:
    return new_user("ann")


@pytest.fixture
def ben(new_user: Callable[..., Headers]) -> Headers:
    return new_user("ben")


def test_whoami(api: TestClient, ann: Headers) -> None:
    me = api.get("/v1/whoami").json()
    assert me["admin"] is True and me["token"]["name"] == "platform" and me["job"] is None
    me = api.get("/v1/whoami", headers=ann).json()
    assert me["user"] == "ann" and me["admin"] is False and me["token"]["name"] == "default"


def test_only_admins_add_and_remove_users(api: TestClient, ann: Headers) -> None:
    r = api.post("/v1/users", json={"name": "eve"}, headers=ann)
    assert r.status_code == 403 and "admin" in r.json()["message"]
    assert api.delete("/v1/users/ann", headers=ann).status_code == 403
    assert api.post("/v1/users", json={"name": "ann"}).status_code == 409
    assert api.post("/v1/users", json={"name": "-bad"}).status_code == 400
    assert api.post("/v1/users", json={"name": "x", "role": "admin"}).status_code == 400
    assert api.delete("/v1/users/nobody").status_code == 404
    me = api.get("/v1/whoami").json()["user"]
    r = api.delete(f"/v1/users/{me}")
    assert r.status_code == 409 and "last admin" in r.json()["message"]


def test_removing_a_user_revokes_their_tokens_roles_and_s3_keys(
    api: TestClient, ann: Headers
) -> None:
    assert api.post("/v1/workspaces", json={"name": "wa"}, headers=ann).status_code == 201
    assert api.get("/v1/workspaces/wa", headers=ann).status_code == 200
    key = api.post("/v1/s3/credentials", json={}, headers=ann).json()["access_key"]
    assert key in [c["access_key"] for c in api.get("/v1/s3/credentials").json()]
    assert api.delete("/v1/users/ann").status_code == 204
    assert key not in [c["access_key"] for c in api.get("/v1/s3/credentials").json()]
    assert api.get("/v1/workspaces", headers=ann).status_code == 401
    assert api.get("/v1/workspaces/wa/members").json() == []
    assert "ann" not in [u["name"] for u in api.get("/v1/users").json()]


def test_user_list_shows_roles_in_visible_workspaces(
    api: TestClient, ann: Headers, ben: Headers
) -> None:
    api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    api.post("/v1/workspaces", json={"name": "wb"}, headers=ben)
    as_ben = {u["name"]: u["workspaces"] for u in api.get("/v1/users", headers=ben).json()}
    assert as_ben["ann"] == {} and as_ben["ben"] == {"wb": "owner"}
    as_admin = {u["name"]: u["workspaces"] for u in api.get("/v1/users").json()}
    assert as_admin["ann"] == {"wa": "owner"} and as_admin["ben"] == {"wb": "owner"}


def test_tokens_create_list_revoke(api: TestClient, ann: Headers, ben: Headers) -> None:
    r = api.post("/v1/tokens", json={"name": "laptop", "expires": "30d"}, headers=ann)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["token"]["expires"] == pytest.approx(made["token"]["created"] + 30 * 86400)
    laptop = bearer(made["secret"])
    assert api.get("/v1/whoami", headers=laptop).json()["token"]["id"] == made["token"]["id"]
    listed = api.get("/v1/tokens", headers=ann).json()
    assert sorted(t["name"] for t in listed) == ["default", "laptop"]
    assert made["secret"] not in r.text.replace(made["secret"], "", 1)
    assert all("secret" not in t for t in listed)
    assert api.post("/v1/tokens", json={"expires": "soon"}, headers=ann).status_code == 400
    assert api.post("/v1/tokens", json={"user": "ben"}, headers=ann).status_code == 400
    ben_token = api.get("/v1/tokens", headers=ben).json()[0]["id"]
    assert api.delete(f"/v1/tokens/{ben_token}", headers=ann).status_code == 404
    assert api.delete(f"/v1/tokens/{made['token']['id']}", headers=ann).status_code == 204
    assert api.get("/v1/whoami", headers=laptop).status_code == 401


def test_a_job_token_manages_nothing(api: TestClient, platform: Platform, ann: Headers) -> None:
    api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    secret = platform.users.for_job("0123456789abcdef0123456789abcdef", "ann", "wa")
    assert secret is not None
    job = bearer(secret)
    me = api.get("/v1/whoami", headers=job).json()
    assert me["user"] == "ann" and me["workspace"] == "wa" and me["job"]
    assert api.post("/v1/tokens", json={}, headers=job).status_code == 403
    r = api.put("/v1/workspaces/wa/members/ann", json={"role": "viewer"}, headers=job)
    assert r.status_code == 403, r.text
    assert api.delete("/v1/workspaces/wa", headers=job).status_code == 403


def test_members_share_and_unshare(api: TestClient, ann: Headers, ben: Headers) -> None:
    api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    assert api.get("/v1/workspaces/wa/members", headers=ben).status_code == 404
    r = api.put("/v1/workspaces/wa/members/ben", json={"role": "viewer"}, headers=ben)
    assert r.status_code == 404
    r = api.put("/v1/workspaces/wa/members/ben", json={"role": "viewer"}, headers=ann)
    assert r.status_code == 200 and r.json() == {"workspace": "wa", "user": "ben", "role": "viewer"}
    members = api.get("/v1/workspaces/wa/members", headers=ben).json()
    assert {(m["user"], m["role"]) for m in members} == {("ann", "owner"), ("ben", "viewer")}
    r = api.put("/v1/workspaces/wa/members/ben", json={"role": "owner"}, headers=ben)
    assert r.status_code == 403 and "owner role" in r.json()["message"]
    r = api.put("/v1/workspaces/wa/members/ben", json={"role": "boss"}, headers=ann)
    assert r.status_code == 400 and "role" in r.json()["message"]
    assert (
        api.put(
            "/v1/workspaces/wa/members/nobody", json={"role": "viewer"}, headers=ann
        ).status_code
        == 404
    )
    assert api.put("/v1/workspaces/zz/members/ben", json={"role": "viewer"}).status_code == 404
    r = api.delete("/v1/workspaces/wa/members/ann", headers=ann)
    assert r.status_code == 409 and "last owner" in r.json()["message"]
    assert api.delete("/v1/workspaces/wa/members/ben", headers=ann).status_code == 204
    assert api.get("/v1/workspaces/wa", headers=ben).status_code == 404
    assert api.delete("/v1/workspaces/wa/members/ben", headers=ann).status_code == 404


def test_authors_come_from_the_token(api: TestClient, commit_files, ann: Headers) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/v1/workspaces", json={"name": "wa", "author": "mallory"}, headers=ann)
    assert r.status_code == 400 and "author" in r.json()["message"]
    r = api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    assert r.json()["author"] == "ann"
    api.post("/v1/repos", json={"name": "shared"})
    body = {"branch": "master", "author": "mallory", "deletes": ["/x"]}
    r = api.post("/v1/repos/shared/commits", json=body, headers=ann)
    assert r.status_code == 400 and "author" in r.json()["message"]
    commit_files("shared", {"/a.txt": b"a"})  # as the admin
    body = {"branch": "master", "deletes": ["/a.txt"]}
    r = api.post("/v1/repos/shared/commits", json=body, headers=ann)
    assert r.status_code == 201 and r.json()["author"] == "ann"
    r = api.post("/v1/workspaces/wa/bundles", json={"kind": "data", "branch": "b", "author": "m"})
    assert r.status_code == 400


def test_repo_listing_hides_other_workspaces(api: TestClient, ann: Headers, ben: Headers) -> None:
    api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    api.post("/v1/repos", json={"name": "shared"}, headers=ben)
    names = {r["name"] for r in api.get("/v1/repos", headers=ben).json()}
    assert "shared" in names and not {n for n in names if n.startswith("wa-")}
    assert "wa-data" in {r["name"] for r in api.get("/v1/repos", headers=ann).json()}
    assert "wa-data" in {r["name"] for r in api.get("/v1/repos").json()}
    api.put("/v1/workspaces/wa/members/ben", json={"role": "viewer"}, headers=ann)
    assert "wa-data" in {r["name"] for r in api.get("/v1/repos", headers=ben).json()}


def test_s3_keys_are_their_users(api: TestClient, ann: Headers, ben: Headers) -> None:
    mine = api.post("/v1/s3/credentials", json={}, headers=ann).json()
    assert mine["owner"] == "ann"
    r = api.post("/v1/s3/credentials", json={"owner": "ben"}, headers=ann)
    assert r.status_code == 400 and "caller" in r.json()["message"]
    assert api.get("/v1/s3/credentials", headers=ben).json() == []
    assert [k["access_key"] for k in api.get("/v1/s3/credentials", headers=ann).json()] == [
        mine["access_key"]
    ]
    assert mine["access_key"] in [k["access_key"] for k in api.get("/v1/s3/credentials").json()]
    assert api.delete(f"/v1/s3/credentials/{mine['access_key']}", headers=ben).status_code == 404
    assert api.delete(f"/v1/s3/credentials/{mine['access_key']}", headers=ann).status_code == 204


def test_provenance_drops_nodes_of_unreadable_workspaces(
    api: TestClient, platform: Platform, backends: Backends, ann: Headers, ben: Headers
) -> None:
    api.post("/v1/workspaces", json={"name": "wa"}, headers=ann)
    api.post("/v1/repos", json={"name": "raw"})
    shared = Node(
        node_id(NodeKind.DATA, "ab" * 16),
        NodeKind.DATA,
        "/raw",
        {"repo": "raw", "commit": "ab" * 16},
    )
    private = Node(
        node_id(NodeKind.DATA, "cd" * 16),
        NodeKind.DATA,
        "/f",
        {"repo": "wa-data", "commit": "cd" * 16},
    )
    job = Node(node_id(NodeKind.JOB, "j/0"), NodeKind.JOB, "j", {"job": "f" * 32})
    model = Node(model_node_id("wa", "m"), NodeKind.MODEL, "m")
    params = Node(node_id(NodeKind.PARAMS, "p"), NodeKind.PARAMS, "c=1")
    backends.provenance.record(
        [shared, private, job, model, params],
        [
            Edge(shared.id, job.id, EdgeKind.USED),
            Edge(private.id, job.id, EdgeKind.USED),
            Edge(params.id, job.id, EdgeKind.USED),
            Edge(job.id, model.id, EdgeKind.PRODUCED),
        ],
    )
    seen = api.get("/v1/subvenance", params={"commit": "abab"}, headers=ben)
    assert seen.status_code == 200
    assert [n["id"] for n in seen.json()["graph"]["nodes"]] == [shared.id]  # job: no workspace
    everything = api.get("/v1/subvenance", params={"commit": "abab"}).json()["graph"]["nodes"]
    assert {n["id"] for n in everything} == {shared.id, job.id, model.id}
    r = api.get("/v1/subvenance", params={"commit": "cdcd"}, headers=ben)
    assert r.status_code == 404
    r = api.get("/v1/subvenance", params={"commit": "cdcd"}, headers=ann)
    assert model.id in {n["id"] for n in r.json()["graph"]["nodes"]}


def test_a_notebook_node_is_its_workspaces(
    api: TestClient, backends: Backends, ann: Headers, ben: Headers
) -> None:
    """A notebook that read a shared commit is seen downstream of it only by those who may
    read the notebook's workspace."""
    api.post("/v1/workspaces", json={"name": "wn"}, headers=ann)
    api.post("/v1/repos", json={"name": "open"})
    shared = Node(
        node_id(NodeKind.DATA, "ef" * 16),
        NodeKind.DATA,
        "open@master:/x",
        {"repo": "open", "commit": "ef" * 16, "via": "s3"},
    )
    notebook = Node(
        node_id(NodeKind.NOTEBOOK, "nb-x@b1"), NodeKind.NOTEBOOK, "nb-x", {"workspace": "wn"}
    )
    backends.provenance.record([shared, notebook], [Edge(shared.id, notebook.id, EdgeKind.USED)])
    seen = api.get("/v1/subvenance", params={"commit": "efef"}, headers=ben).json()
    assert [n["id"] for n in seen["graph"]["nodes"]] == [shared.id]
    mine = api.get("/v1/subvenance", params={"commit": "efef"}, headers=ann).json()
    assert {n["id"] for n in mine["graph"]["nodes"]} == {shared.id, notebook.id}


def test_a_workspace_named_in_capitals_is_its_owners(api: TestClient, ann: Headers) -> None:
    assert api.post("/v1/workspaces", json={"name": "fa"}, headers=ann).status_code == 201
    assert api.get("/v1/workspaces/FA", headers=ann).json()["name"] == "fa"
    assert api.get("/v1/workspaces/FA/jobs", headers=ann).status_code == 200
