"""Releases (issue 16): named endpoints, their traffic between versions (endpoints rows).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_releases_workspace_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_releases"),
    )
    op.create_index("ix_releases_workspace", "releases", ["workspace"])


def downgrade() -> None:
    op.drop_index("ix_releases_workspace", table_name="releases")
    op.drop_table("releases")
