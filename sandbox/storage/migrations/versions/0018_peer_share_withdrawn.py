"""A mentor can withdraw a transcript from peer review: the share keeps its row and its
reviews, and records when it was withdrawn (peers no longer list, open or review it).

One nullable column; existing shares stay open (no time).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "peer_shares", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("peer_shares") as batch:
        batch.drop_column("withdrawn_at")
