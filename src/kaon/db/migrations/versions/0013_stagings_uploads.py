"""Stagings and S3 multipart uploads in the database (issue 17): any server commits a staging or completes an upload another server started.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stagings",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=False),
        sa.Column("touched", sa.Double(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stagings"),
    )
    op.create_index("ix_stagings_touched", "stagings", ["touched"])
    op.create_table(
        "staging_batches",
        sa.Column("staging", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("staging", "seq", name="pk_staging_batches"),
    )
    op.create_table(
        "s3_uploads",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("bucket", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("transaction", sa.String(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("completed", sa.Double(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_s3_uploads"),
    )
    op.create_index("ix_s3_uploads_bucket", "s3_uploads", ["bucket"])
    op.create_table(
        "s3_upload_parts",
        sa.Column("upload", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.Double(), nullable=False),
        sa.Column("checksums", sa.Text(), nullable=False),
        sa.Column("object", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("upload", "number", name="pk_s3_upload_parts"),
    )


def downgrade() -> None:
    op.drop_table("s3_upload_parts")
    op.drop_index("ix_s3_uploads_bucket", table_name="s3_uploads")
    op.drop_table("s3_uploads")
    op.drop_table("staging_batches")
    op.drop_index("ix_stagings_touched", table_name="stagings")
    op.drop_table("stagings")
