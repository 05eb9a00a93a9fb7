"""Migrations of the job and provenance tables, on SQLite and on a real PostgreSQL (the
JobStore, WorkspaceStore, EndpointStore and ProvenanceStore contracts: kaon.testing)."""

from __future__ import annotations

import json

from kaon.core.provenance import model_node_id
from kaon.db.database import Database


def test_upgrade_splits_a_model_node_shared_by_two_workspaces(url: str) -> None:
    """Migration 0006: the old "model:<id>" node two workspaces shared becomes one node per
    workspace, each with that workspace's jobs, endpoint and feedback (and model commit)."""
    from alembic import command
    from sqlalchemy import insert

    from kaon.db import schema
    from kaon.db.engine import WRITE_OPTION, make_engine
    from kaon.db.migrate import alembic_config, upgrade

    mid = "abcde_abcde:abcdef"
    engine = make_engine(url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            for ws, n in (("a", 1), ("b", 2)):
                conn.execute(
                    insert(schema.workspaces),
                    {"name": ws, "created": 1, "author": "", "current": "{}"},
                )
                jid = f"{n:032x}"
                conn.execute(
                    insert(schema.jobs),
                    {"id": jid, "workspace": ws, "state": "JOB_SUCCESS", "created": n, "doc": "{}"},
                )
                doc = {"model_commit": f"commit-{ws}", "model_path": "/abcdef", "metrics": {}}
                conn.execute(
                    insert(schema.trials),
                    {
                        "job": jid,
                        "ind": 0,
                        "state": "JOB_SUCCESS",
                        "model_id": mid,
                        "doc": json.dumps(doc),
                    },
                )
            nodes = [
                ("model:" + mid, "model", {"commit": "commit-a"}),
                (f"job:{1:032x}/0", "job", {}),
                (f"job:{2:032x}/0", "job", {}),
                (f"job:{3:032x}/0", "job", {}),  # its workspace was deleted: found by its data
                ("data:d9", "data", {"repo": "gone-data"}),
                ("endpoint:serve-b-abcdef", "endpoint", {}),
                ("feedback:r1", "feedback", {}),
            ]
            conn.execute(
                insert(schema.prov_nodes),
                [
                    {"id": i, "kind": k, "label": i, "attrs": json.dumps(a), "created": 1.0}
                    for i, k, a in nodes
                ],
            )
            edges = [
                (f"job:{1:032x}/0", "model:" + mid, "produced"),
                (f"job:{2:032x}/0", "model:" + mid, "produced"),
                ("data:d9", f"job:{3:032x}/0", "used"),
                (f"job:{3:032x}/0", "model:" + mid, "produced"),
                ("model:" + mid, "endpoint:serve-b-abcdef", "served-by"),
                ("endpoint:serve-b-abcdef", "feedback:r1", "about"),
                ("model:" + mid, "feedback:r1", "about"),
            ]
            conn.execute(
                insert(schema.prov_edges), [{"src": s, "dst": d, "kind": k} for s, d, k in edges]
            )
    finally:
        engine.dispose()
    upgrade(url)
    with Database(url) as db:
        store = db.provenance
        assert len(store.ancestry("model:" + mid)) == 0  # the shared node is gone
        a = store.ancestry(model_node_id("a", mid))
        assert {n.id for n in a.nodes} == {model_node_id("a", mid), f"job:{1:032x}/0"}
        assert a.node(model_node_id("a", mid)).attrs["commit"] == "commit-a"
        b = store.subvenance(f"job:{2:032x}/0")
        assert {n.id for n in b.nodes} == {
            f"job:{2:032x}/0",
            model_node_id("b", mid),
            "endpoint:serve-b-abcdef",
            "feedback:r1",
        }
        assert b.node(model_node_id("b", mid)).attrs["commit"] == "commit-b"
        gone = store.ancestry(model_node_id("gone", mid))
        assert f"job:{3:032x}/0" in gone and "data:d9" in gone
