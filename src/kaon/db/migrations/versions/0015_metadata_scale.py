"""Metadata at scale (issue 17): indexes for 1,000,000 files, 10,000 commits, 1,000,000 provenance edges.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Nothing to add, measured (benchmarks/scaleout_meta.py, docs/scaling.md): on a database of
10,000 commits, 1,000,000 files and ~1,000,000 provenance edges every read path's plan is an
index scan of an existing index - a branch's history walks `commits`' primary key, subvenance
walks `prov_edges`' primary key (src, dst, kind), ancestry its (dst) index, and finding a data
commit's node by id prefix became a range on `prov_nodes`' primary key (a query change, not an
index: LIKE 'x%' cannot use a b-tree under PostgreSQL's default non-C collation). Files are
listed from trees in the object store, not from the database. The revision stays, empty, so
every kaon at 0015 agrees on the schema.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
