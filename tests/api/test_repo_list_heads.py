"""The repo list carries each repo's last commit (issue 18: /ui/repos shows it with one API
call, not one per repo): master's head, else the first branch's; none before a commit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import Committer


def test_the_list_carries_each_repos_last_commit(api: TestClient, commit_files: Committer) -> None:
    for name in ("empty", "main", "other"):
        assert api.post("/v1/repos", json={"name": name}).status_code == 201
    commit_files("main", {"/a.txt": b"one"}, message="first")
    last = commit_files("main", {"/b.txt": b"two!"}, message="second")
    side = commit_files("other", {"/c.txt": b"x"}, branch="side", message="on side")
    repos = {r["name"]: r for r in api.get("/v1/repos").json()}
    assert repos["empty"]["head"] is None and repos["empty"]["size"] == 0
    head = repos["main"]["head"]
    assert (head["id"], head["message"], head["parent"]) == (last["id"], "second", last["parent"])
    assert repos["main"]["size"] == head["size"] == 7
    assert repos["other"]["head"]["id"] == side["id"]  # no master: the first branch's
    assert repos["other"]["size"] == 0  # a repo's size is master's
    assert api.get("/v1/repos/main").json()["head"]["id"] == last["id"]
