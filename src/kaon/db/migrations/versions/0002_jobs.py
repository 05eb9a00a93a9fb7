"""Workspaces, training jobs and trials.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("current", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_workspaces"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_jobs_workspace_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_workspace_created", "jobs", ["workspace", "created"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "trials",
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("ind", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=True),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job"], ["jobs.id"], name="fk_trials_job_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job", "ind", name="pk_trials"),
    )
    op.create_index("ix_trials_model_id", "trials", ["model_id"])


def downgrade() -> None:
    op.drop_table("trials")
    op.drop_table("jobs")
    op.drop_table("workspaces")
