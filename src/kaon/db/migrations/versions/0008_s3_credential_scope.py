"""What an S3 key may reach: `s3_credentials.scope` ('*' or 'workspace:<name>').

Keys made by a user keep full access ('*'); a job's key is scoped to its job's workspace
(the key of a job that no longer exists is deleted).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_keys = sa.table("s3_credentials", sa.column("job", sa.String), sa.column("scope", sa.String))
_jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("workspace", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("s3_credentials") as batch:
        batch.add_column(sa.Column("scope", sa.String(), nullable=False, server_default="*"))
    workspace = (
        sa.select(sa.literal("workspace:") + _jobs.c.workspace)
        .where(_jobs.c.id == _keys.c.job)
        .scalar_subquery()
    )
    conn = op.get_bind()
    known = sa.select(_jobs.c.id).where(_jobs.c.id == _keys.c.job).exists()
    # a key of a job that no longer exists reaches nothing: it goes
    conn.execute(sa.delete(_keys).where(_keys.c.job.is_not(None), ~known))
    conn.execute(sa.update(_keys).where(_keys.c.job.is_not(None)).values(scope=workspace))


def downgrade() -> None:
    with op.batch_alter_table("s3_credentials") as batch:
        batch.drop_column("scope")
