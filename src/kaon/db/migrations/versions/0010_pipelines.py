"""Pipelines (issue 15): pipelines, their versions, their jobs and datum records.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pipelines"),
    )
    op.create_table(
        "pipeline_versions",
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "version", name="pk_pipeline_versions"),
    )
    op.create_table(
        "pipeline_jobs",
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "id", name="pk_pipeline_jobs"),
    )
    op.create_index("ix_pipeline_jobs_pipeline_created", "pipeline_jobs", ["pipeline", "created"])
    op.create_index("ix_pipeline_jobs_id", "pipeline_jobs", ["id"])
    op.create_index("ix_pipeline_jobs_state", "pipeline_jobs", ["state"])
    op.create_index("ix_pipeline_jobs_created", "pipeline_jobs", ["created"])
    op.create_table(
        "pipeline_datums",
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("datum", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("output", sa.String(), nullable=True),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "job", "datum", name="pk_pipeline_datums"),
    )
    op.create_index("ix_pipeline_datums_hash_pipeline", "pipeline_datums", ["hash", "pipeline"])
    op.create_table(
        "pipeline_reusable",
        sa.Column("pipeline", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("datum", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("hash", "pipeline", name="pk_pipeline_reusable"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_reusable")
    op.drop_table("pipeline_datums")
    op.drop_table("pipeline_jobs")
    op.drop_table("pipeline_versions")
    op.drop_table("pipelines")
