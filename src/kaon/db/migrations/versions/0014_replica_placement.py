"""Replica placement (issue 17): which server runs which endpoint's replicas, and where they listen.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("replica_placements"):
        return
    op.create_table(
        "replica_placements",
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("server", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("addresses", sa.String(), nullable=False),
        sa.Column("updated", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", name="pk_replica_placements"),
    )


def downgrade() -> None:
    op.drop_table("replica_placements")
