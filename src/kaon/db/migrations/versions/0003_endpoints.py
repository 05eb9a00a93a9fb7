"""Endpoints (served models).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_endpoints_workspace_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_endpoints"),
    )
    op.create_index("ix_endpoints_workspace_created", "endpoints", ["workspace", "created"])


def downgrade() -> None:
    op.drop_table("endpoints")
