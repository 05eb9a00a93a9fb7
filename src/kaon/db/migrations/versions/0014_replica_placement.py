"""Replica placement (issue 17): which server runs which endpoint's replicas, and where they listen.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

(A placeholder until its helper fills it: nothing to do yet.)
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
