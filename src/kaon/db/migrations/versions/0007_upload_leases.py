"""Upload leases: chunks an in-flight upload uses, spared by gc until the lease expires.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_leases",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_upload_leases"),
    )
    op.create_table(
        "upload_pins",
        sa.Column("lease", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("lease", "digest", name="pk_upload_pins"),
    )


def downgrade() -> None:
    op.drop_table("upload_pins")
    op.drop_table("upload_leases")
