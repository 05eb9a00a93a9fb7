"""Stagings and S3 multipart uploads in the database (issue 17): any server commits a staging or completes an upload another server started.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

(A placeholder until its helper fills it: nothing to do yet.)
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
