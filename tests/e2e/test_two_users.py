"""Two users on one platform (issue 13, "Users and roles"): user B cannot list, read, write or
deploy in user A's workspace through the real CLI, the SDK or raw HTTP - each a 404 (exit 4)
with no role, a 403 (exit 6) naming the editor role as a viewer - and can once A shares it.
Every commit, job and endpoint records the user who made it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from kaon.client import Client
from kaon.core.errors import Forbidden, WorkspaceNotFound

from .helpers import Kaon
from .test_serve import bundles as serve_bundles
from .test_train import bundle, data, wait_state

pytestmark = pytest.mark.e2e


class User:
    """A user of the shared platform: runs the CLI with KAON_TOKEN set to their token."""

    def __init__(self, kaon: Kaon, name: str, secret: str) -> None:
        self.kaon, self.name, self.secret = kaon, name, secret
        self.env = {"KAON_TOKEN": secret}

    def ok(self, *args: str) -> str:
        return self.kaon.ok(*args, env=self.env)

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, code: int, *args: str, match: str = "") -> str:
        return self.kaon.fails(code, *args, env=self.env, match=match)

    def sdk(self) -> Client:
        return Client(self.url, self.secret)

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.secret}"}, timeout=60
        )

    @property
    def url(self) -> str:
        doc = self.kaon.server()
        assert doc is not None
        return str(doc["url"])


def add_user(kaon: Kaon, name: str) -> User:
    made = json.loads(kaon.ok("user", "add", name, "--json"))  # as the admin (platform token)
    assert made["user"]["name"] == name and made["secret"].startswith("kaon_")
    return User(kaon, name, made["secret"])


@pytest.fixture(scope="module")
def world(kaon: Kaon, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Admin adds ann and ben; ann makes workspace `wa`, puts a file and trains a model."""
    root = tmp_path_factory.mktemp("two-users")
    ann, ben = add_user(kaon, "ann"), add_user(kaon, "ben")
    ann.ok("workspace", "create", "-n", "wa")
    (root / "note.txt").write_text("ann's data\n")
    ann.ok("put", "file", "wa-data@master:/note.txt", "-f", str(root / "note.txt"))
    src, dat = bundle(root / "code"), data(root / "data")
    job = ann.json("train", "deploy", "-s", str(src), "-d", str(dat), "-w", "wa")
    done = wait_state(kaon, {**ann.env, "KAON_WORKSPACE": "wa"}, job["id"])
    assert done["state"] == "JOB_SUCCESS", done
    _, _, serve = serve_bundles(root / "serve")
    return {"ann": ann, "ben": ben, "job": done, "root": root, "code": src, "serve": serve}


def test_the_cli_acts_as_kaon_token(world: dict[str, Any]) -> None:
    ann, ben = world["ann"], world["ben"]
    me = ben.json("auth", "whoami")
    assert me["user"] == "ben" and me["admin"] is False and me["token"]["name"] == "default"
    assert ann.json("auth", "whoami")["user"] == "ann"
    users = {u["name"]: u for u in ann.json("user", "list")}
    assert users["ann"]["workspaces"] == {"wa": "owner"}
    assert users["ben"]["workspaces"] == {}


def test_authors_are_the_users_who_made_things(world: dict[str, Any]) -> None:
    ann, job = world["ann"], world["job"]
    assert job["author"] == "ann"
    assert job["source"]["author"] == "ann" and job["data"]["author"] == "ann"
    assert ann.json("workspace", "info", "-w", "wa")["author"] == "ann"
    with ann.sdk() as c:
        assert c.inspect_commit("wa-data", "master").author == "ann"
        assert c.inspect_commit("wa-source", job["source"]["branch"]).author == "ann"


def test_ben_without_a_role_cannot_see_read_or_write_wa(world: dict[str, Any]) -> None:
    ben, job, root = world["ben"], world["job"], world["root"]
    model = job["trials"][0]["model_id"]
    # list: the workspace and its repos are absent, also with --all
    assert "wa" not in [w["name"] for w in ben.json("workspace", "list")]
    assert not [r for r in ben.json("list", "repo", "--all") if r["name"].startswith("wa-")]
    # read: 404, exit 4, saying how to get a role
    ben.fails(4, "get", "file", "wa-data@master:/note.txt", match="workspace share -n wa")
    ben.fails(4, "workspace", "info", "-w", "wa")
    ben.fails(4, "workspace", "members", "-n", "wa")
    ben.fails(4, "train", "list", "-w", "wa")
    ben.fails(4, "train", "info", "-j", job["id"])
    ben.fails(4, "train", "logs", "-j", job["id"])
    ben.fails(4, "train", "provenance", "-m", model, "-w", "wa", "-o", str(root / "p"))
    ben.fails(4, "data", "subvenance", job["data"]["commit"])
    # write and deploy: 404 too
    ben.fails(4, "put", "file", "wa-data@master:/x.txt", "-f", str(root / "note.txt"))
    ben.fails(4, "train", "deploy", "-s", str(world["code"]), "-w", "wa")
    ben.fails(4, "serve", "deploy", "-s", str(world["serve"]), "-w", "wa")
    ben.fails(4, "train", "kill", "-j", job["id"])
    ben.fails(4, "workspace", "share", "-n", "wa", "--user", "ben", "--role", "owner")
    # the SDK and raw HTTP answer the same
    with ben.sdk() as c:
        with pytest.raises(WorkspaceNotFound):
            c.get_workspace("wa")
        assert "wa-data" not in [r.name for r in c.list_repos()]
    with ben.http() as h:
        for method, path in [
            ("GET", "/v1/workspaces/wa"),
            ("GET", "/v1/repos/wa-data/files"),
            ("GET", f"/v1/jobs/{job['id']}"),
            ("GET", f"/v1/jobs/{job['id']}/logs"),
            ("GET", f"/v1/workspaces/wa/models/{model}/provenance"),
            ("DELETE", f"/v1/jobs/{job['id']}"),
            ("DELETE", "/v1/workspaces/wa"),
            ("PUT", "/v1/repos/wa-data/branches/b"),
        ]:
            r = h.request(method, path, json={"head": None} if method == "PUT" else None)
            assert r.status_code == 404, (method, path, r.text)
        r = h.get("/v1/subvenance", params={"commit": job["data"]["commit"]})
        assert r.status_code == 404, r.text
        assert "wa" not in [w["name"] for w in h.get("/v1/workspaces").json()]
        # a model of ben's own workspace that wa has: the 404 does not name wa
        assert h.post("/v1/workspaces", json={"name": "wb"}).status_code == 201
        r = h.get(f"/v1/workspaces/wb/models/{model}")
        assert r.status_code == 404 and "'wa'" not in r.json()["message"], r.text


def test_a_viewer_reads_but_does_not_write_and_an_editor_writes(world: dict[str, Any]) -> None:
    ann, ben, job, root = world["ann"], world["ben"], world["job"], world["root"]
    model = job["trials"][0]["model_id"]
    ann.ok("workspace", "share", "-n", "wa", "--user", "ben", "--role", "viewer")
    ben.fails(6, "workspace", "share", "-n", "wa", "--user", "ben", "--role", "editor")
    assert {"user": "ben", "role": "viewer", "workspace": "wa"} in ben.json(
        "workspace", "members", "-n", "wa"
    )
    # a viewer lists and gets
    assert "wa" in [w["name"] for w in ben.json("workspace", "list")]
    assert "wa-data" in [r["name"] for r in ben.json("list", "repo", "--all")]
    assert ben.ok("get", "file", "wa-data@master:/note.txt") == "ann's data\n"
    assert ben.json("train", "info", "-j", job["id"])["author"] == "ann"
    assert "training on" in ben.ok("train", "logs", "-j", job["id"])
    ben.ok("train", "provenance", "-m", model, "-w", "wa", "-o", str(root / "p"))
    assert ben.json("data", "subvenance", job["data"]["commit"])["nodes"]
    # ... but does not write: 403, exit 6, naming the editor role
    note = str(root / "note.txt")
    ben.fails(6, "put", "file", "wa-data@master:/x.txt", "-f", note, match="editor role")
    for kind in ("train", "serve"):  # refused before anything is uploaded
        folder = str(world["code" if kind == "train" else "serve"])
        said = ben.kaon.run(kind, "deploy", "-s", folder, "-w", "wa", env=ben.env)
        assert said.returncode == 6 and "editor role" in said.stderr, said.stderr
        assert "Submitting" not in said.stdout + said.stderr, said.stderr
    ben.fails(6, "train", "kill", "-j", job["id"], match="editor role")
    ben.fails(6, "workspace", "kill", "-w", "wa", "-y", match="owner role")
    with ben.sdk() as c:
        assert c.get_workspace("wa").name == "wa"
        with pytest.raises(Forbidden, match="editor"):
            c.create_branch("wa-data", "mine", "master")
    with ben.http() as h:
        r = h.put("/v1/repos/wa-data/branches/mine", json={"head": "master"})
        assert r.status_code == 403 and "editor" in r.json()["message"], r.text
        assert h.get("/v1/repos/wa-data/files").status_code == 200
    # an editor writes and deploys, as themselves
    ann.ok("workspace", "share", "-n", "wa", "--user", "ben", "--role", "editor")
    ben.ok("put", "file", "wa-data@master:/ben.txt", "-f", note)
    with ben.sdk() as c:
        assert c.inspect_commit("wa-data", "master").author == "ben"
    again = ben.json("train", "deploy", "-w", "wa")  # the workspace's latest bundles
    assert again["author"] == "ben"
    done = wait_state(ben.kaon, {**ben.env, "KAON_WORKSPACE": "wa"}, again["id"])
    assert done["state"] == "JOB_SUCCESS", done
    ben.fails(6, "workspace", "share", "-n", "wa", "--user", "ben", "--role", "owner")
    # unshared: gone again
    ann.ok("workspace", "unshare", "-n", "wa", "--user", "ben")
    ben.fails(4, "get", "file", "wa-data@master:/note.txt")
    assert "wa" not in [w["name"] for w in ben.json("workspace", "list")]


def test_tokens_and_user_removal(kaon: Kaon, world: dict[str, Any], tmp_path: Path) -> None:
    ann = world["ann"]
    made = ann.json("auth", "token", "create", "--name", "laptop", "--expires", "30d")
    laptop = User(kaon, "ann", made["secret"])
    assert laptop.json("auth", "whoami")["token"]["id"] == made["token"]["id"]
    rows = ann.json("auth", "token", "list")
    assert {t["name"] for t in rows} >= {"default", "laptop"}
    assert all("secret" not in t for t in rows)
    assert made["secret"] not in ann.ok("auth", "token", "list")
    ann.ok("auth", "token", "revoke", made["token"]["id"])
    laptop.fails(6, "workspace", "list", match="token")
    # another user's token is not yours to revoke; only admins add or remove users
    ben_token = world["ben"].json("auth", "whoami")["token"]["id"]
    ann.fails(4, "auth", "token", "revoke", ben_token)
    ann.fails(6, "user", "add", "eve", match="admin")
    ann.fails(6, "user", "remove", "ben", match="admin")
    ann.fails(2, "workspace", "share", "-n", "wa", "--user", "ben", "--role", "boss", match="role")
    # removing a user revokes their tokens; the last admin stays
    tmp = add_user(kaon, "tmpuser")
    assert tmp.json("auth", "whoami")["user"] == "tmpuser"
    kaon.ok("user", "remove", "tmpuser")
    tmp.fails(6, "workspace", "list")
    admin = kaon.json("auth", "whoami")["user"]
    kaon.fails(5, "user", "remove", admin, match="last admin")
    # `kaon auth token` alone still prints the platform token
    assert kaon.ok("auth", "token").strip() == (kaon.home / "token").read_text().strip()


def test_kaon_token_wins_over_init_token(kaon: Kaon, world: dict[str, Any]) -> None:
    ann, ben = world["ann"], world["ben"]
    home = kaon.home / "elsewhere"
    env = {"KAON_HOME": str(home)}  # a client-only home: config.json, no platform
    kaon.ok("init", "-e", ann.url, "--token", ann.secret, env=env)
    assert json.loads(kaon.ok("auth", "whoami", "--json", env=env))["user"] == "ann"
    env["KAON_TOKEN"] = ben.secret
    assert json.loads(kaon.ok("auth", "whoami", "--json", env=env))["user"] == "ben"
