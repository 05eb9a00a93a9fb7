"""Initial schema: repos, branches, commits, packs, chunks.

Revision ID: 0001
Revises:
Create Date: 2024-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repos",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_repos"),
    )
    op.create_table(
        "branches",
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("head", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo"], ["repos.name"], name="fk_branches_repo_repos", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo", "name", name="pk_branches"),
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("tree", sa.String(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("finished", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo"], ["repos.name"], name="fk_commits_repo_repos", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_commits"),
    )
    op.create_index("ix_commits_repo_id", "commits", ["repo", "id"])
    op.create_table(
        "packs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_packs"),
    )
    op.create_table(
        "chunks",
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("pack", sa.String(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("stored_len", sa.BigInteger(), nullable=False),
        sa.Column("raw_len", sa.BigInteger(), nullable=False),
        sa.Column("codec", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_chunks"),
    )
    op.create_index("ix_chunks_pack", "chunks", ["pack"])


def downgrade() -> None:
    op.drop_index("ix_chunks_pack", table_name="chunks")
    op.drop_table("chunks")
    op.drop_table("packs")
    op.drop_index("ix_commits_repo_id", table_name="commits")
    op.drop_table("commits")
    op.drop_table("branches")
    op.drop_table("repos")
