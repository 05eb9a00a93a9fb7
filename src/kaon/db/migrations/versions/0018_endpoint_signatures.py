"""Endpoint signatures (issue 20): an endpoint version's Open Inference Protocol metadata,
declared by its bundle or learned from its first request, shared by every server.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-06

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("endpoint_signatures"):
        return
    op.create_table(
        "endpoint_signatures",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("declared", sa.Integer(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"],
            ["endpoints.name"],
            name="fk_endpoint_signatures_name_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("name", name="pk_endpoint_signatures"),
    )


def downgrade() -> None:
    op.drop_table("endpoint_signatures")
