"""Several servers (issue 17): their heartbeats and their claims on live work.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_servers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("seen", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cluster_servers"),
    )
    op.create_table(
        "cluster_claims",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_cluster_claims"),
    )
    op.create_index("ix_cluster_claims_owner", "cluster_claims", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_cluster_claims_owner", table_name="cluster_claims")
    op.drop_table("cluster_claims")
    op.drop_table("cluster_servers")
