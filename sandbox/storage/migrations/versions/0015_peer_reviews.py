"""Peer review: practice transcripts opened to the peers of a cohort, and their reviews.

Two new tables; no existing row changes, so a database with real data upgrades as is. The
unique constraints keep one share per transcript and cohort, and one review per peer and
share, against two requests at once.

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("cohort", sa.String(64), nullable=False),
        sa.Column("shared_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("attempt_id", "cohort", name="uq_peer_shares_attempt_cohort"),
    )
    op.create_index("ix_peer_shares_attempt_id", "peer_shares", ["attempt_id"])
    op.create_index("ix_peer_shares_cohort", "peer_shares", ["cohort"])
    op.create_table(
        "peer_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("share_id", sa.Integer(), sa.ForeignKey("peer_shares.id"), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("share_id", "reviewer_id", name="uq_peer_reviews_share_reviewer"),
    )
    op.create_index("ix_peer_reviews_share_id", "peer_reviews", ["share_id"])
    op.create_index("ix_peer_reviews_reviewer_id", "peer_reviews", ["reviewer_id"])


def downgrade() -> None:
    op.drop_index("ix_peer_reviews_reviewer_id", table_name="peer_reviews")
    op.drop_index("ix_peer_reviews_share_id", table_name="peer_reviews")
    op.drop_table("peer_reviews")
    op.drop_index("ix_peer_shares_cohort", table_name="peer_shares")
    op.drop_index("ix_peer_shares_attempt_id", table_name="peer_shares")
    op.drop_table("peer_shares")
