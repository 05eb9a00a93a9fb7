"""Users, API tokens (hashed), workspace roles, the audit log; the user an S3 key acts for.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("s3_credentials") as batch:
        batch.add_column(sa.Column("user", sa.String(), nullable=True))
    op.create_table(
        "users",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("admin", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("expires", sa.Double(), nullable=True),
        sa.Column("workspace", sa.String(), nullable=True),
        sa.Column("job", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_api_tokens_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("digest", name="uq_api_tokens_digest"),
    )
    op.create_index("ix_api_tokens_user", "api_tokens", ["user"])
    op.create_index("ix_api_tokens_job", "api_tokens", ["job"])
    op.create_table(
        "workspace_roles",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_workspace_roles_workspace_workspaces",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user"], ["users.name"], name="fk_workspace_roles_user_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace", "user", name="pk_workspace_roles"),
    )
    op.create_index("ix_workspace_roles_user", "workspace_roles", ["user"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_table("audit")
    op.drop_index("ix_workspace_roles_user", table_name="workspace_roles")
    op.drop_table("workspace_roles")
    op.drop_index("ix_api_tokens_job", table_name="api_tokens")
    op.drop_index("ix_api_tokens_user", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    with op.batch_alter_table("s3_credentials") as batch:
        batch.drop_column("user")
