"""Review flags: the review queue's columns on attempts and the reviewers' decisions.

`attempts.flagged` (how many verdicts of the stored grade are flagged), `needs_review` (a
critical one is) and `reviewed_at` (every flagged verdict decided). Grades stored before
flags carry none, so existing attempts start at 0 / false / NULL; a grade that already has
flags (stored by a newer build and downgraded meanwhile) is counted again from its JSON.
`verdict_reviews` holds each decision (confirm or override) on a flagged verdict, and
`attempts.hints_used` how many practice hints a conversation took (0 for existing ones: hints
were not counted before). `second_marks` holds exam conversations chosen for a second review.

Revision ID: 0008
Revises: 0010 (merged after 0009 and 0010; written against 0006)
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None


def _counts(grade: Any) -> tuple[int, bool]:
    if isinstance(grade, str):
        grade = json.loads(grade)
    if not isinstance(grade, dict):
        return 0, False
    criteria = grade.get("criteria") or []
    flagged = sum(1 for c in criteria if isinstance(c, dict) and isinstance(c.get("review"), dict))
    return flagged, bool(grade.get("needs_review"))


def upgrade() -> None:
    # Plain ADD COLUMNs, on SQLite too: a batch would copy the attempts table (see 0005).
    op.add_column(
        "attempts", sa.Column("flagged", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "attempts",
        sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("attempts", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "attempts", sa.Column("hints_used", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index("ix_attempts_flagged", "attempts", ["flagged"])
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, grade FROM attempts WHERE grade IS NOT NULL"))
    for attempt_id, grade in rows.all():
        flagged, needs = _counts(grade)
        if flagged:
            connection.execute(
                sa.text("UPDATE attempts SET flagged = :f, needs_review = :n WHERE id = :i"),
                {"f": flagged, "n": needs, "i": attempt_id},
            )
    op.create_table(
        "verdict_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("automatic_status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_verdict_reviews_attempt", "verdict_reviews", ["attempt_id", "criterion_id"])
    op.create_index("ix_verdict_reviews_author_id", "verdict_reviews", ["author_id"])
    op.create_table(
        "second_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first", sa.JSON(), nullable=False),
        sa.Column("second", sa.JSON(), nullable=True),
        sa.Column("settled", sa.JSON(), nullable=True),
        sa.Column("marker_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("attempt_id", name="uq_second_marks_attempt"),
    )
    op.create_index("ix_second_marks_exam_id", "second_marks", ["exam_id"])


def downgrade() -> None:
    op.drop_index("ix_second_marks_exam_id", table_name="second_marks")
    op.drop_table("second_marks")
    op.drop_index("ix_verdict_reviews_author_id", table_name="verdict_reviews")
    op.drop_index("ix_verdict_reviews_attempt", table_name="verdict_reviews")
    op.drop_table("verdict_reviews")
    op.drop_index("ix_attempts_flagged", table_name="attempts")
    op.drop_column("attempts", "hints_used")
    op.drop_column("attempts", "reviewed_at")
    op.drop_column("attempts", "needs_review")
    op.drop_column("attempts", "flagged")
