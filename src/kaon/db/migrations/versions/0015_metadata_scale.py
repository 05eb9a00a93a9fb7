"""Metadata at scale (issue 17): indexes for 1,000,000 files, 10,000 commits, 1,000,000 provenance edges.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

(A placeholder until its helper fills it: nothing to do yet.)
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
