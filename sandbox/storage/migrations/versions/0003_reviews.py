"""Mentor review: comments, grade overrides, teaching cases and their tags.

Built at the same time as the exam tables; it comes after 0004 (which revises 0002) so
there is one head. The two revisions touch different tables.

Revision ID: 0003
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("message_seq", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_comments_attempt_id", "review_comments", ["attempt_id"])

    op.create_table(
        "grade_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("automatic_status", sa.String(16), nullable=False),
        sa.Column("old_status", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_grade_overrides_attempt", "grade_overrides", ["attempt_id", "criterion_id"])

    op.create_table(
        "teaching_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("example", sa.String(8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("attempt_id", name="uq_teaching_cases_attempt"),
    )

    op.create_table(
        "teaching_case_tags",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("teaching_cases.id"), primary_key=True),
        sa.Column("tag", sa.String(32), primary_key=True),
    )
    op.create_index("ix_teaching_case_tags_tag", "teaching_case_tags", ["tag"])


def downgrade() -> None:
    op.drop_table("teaching_case_tags")
    op.drop_table("teaching_cases")
    op.drop_table("grade_overrides")
    op.drop_table("review_comments")
