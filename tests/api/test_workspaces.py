"""Workspaces over HTTP: create (the caller owns it), get with its job count, kill."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_create_get_and_kill_a_workspace(api: TestClient) -> None:
    r = api.post("/v1/workspaces", json={"name": "Team"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["name"], created["role"], created["jobs"]) == ("team", "owner", 0)
    assert created["repos"] == api.get("/v1/workspaces/team").json()["repos"]
    assert api.get("/v1/workspaces/team/members").json()[0]["role"] == "owner"
    assert api.delete("/v1/workspaces/team").status_code == 204
    assert api.get("/v1/workspaces/team").status_code == 404
    assert not set(created["repos"]) & {r["name"] for r in api.get("/v1/repos?all=1").json()}
    assert api.delete("/v1/workspaces/team").status_code == 404
