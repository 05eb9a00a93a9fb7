"""S3 access keys issued by kaon (the S3 gateway).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "s3_credentials",
        sa.Column("access_key", sa.String(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("job", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("access_key", name="pk_s3_credentials"),
    )
    op.create_index("ix_s3_credentials_job", "s3_credentials", ["job"])


def downgrade() -> None:
    op.drop_table("s3_credentials")
