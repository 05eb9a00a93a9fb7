"""Notebooks (JupyterLabs behind the gateway, issue 19).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notebooks",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_notebooks_workspace_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_notebooks"),
    )
    op.create_index("ix_notebooks_workspace_created", "notebooks", ["workspace", "created"])


def downgrade() -> None:
    op.drop_table("notebooks")
