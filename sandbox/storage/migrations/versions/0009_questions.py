"""Quizzes and the written part of exams: sittings, their answers, exams' written parts.

Only new tables: every existing row keeps its meaning (written scores typed or imported
stay in exam_written_scores, where an in-product written part also puts its score).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "question_sittings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=True),
        sa.Column("retake", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        _when("started_at"),
        _when("deadline_at"),
        sa.Column("grace_s", sa.Float(), nullable=False),
        _when("submitted_at", nullable=True),
        sa.Column("submit_reason", sa.String(16), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.UniqueConstraint("exam_id", "user_id", "retake", name="uq_question_sittings_exam"),
    )
    op.create_index("ix_question_sittings_user_id", "question_sittings", ["user_id"])
    op.create_index("ix_question_sittings_exam_id", "question_sittings", ["exam_id"])

    op.create_table(
        "question_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "sitting_id", sa.Integer(), sa.ForeignKey("question_sittings.id"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("option_order", sa.JSON(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        _when("answered_at", nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("marked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _when("marked_at", nullable=True),
        sa.UniqueConstraint("sitting_id", "position", name="uq_question_responses_position"),
    )
    op.create_index("ix_question_responses_sitting_id", "question_responses", ["sitting_id"])
    op.create_index("ix_question_responses_question_id", "question_responses", ["question_id"])

    op.create_table(
        "exam_written_parts",
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), primary_key=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("difficulties", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=True),
        sa.Column("trade", sa.String(16), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("grace_s", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exam_written_parts")
    op.drop_index("ix_question_responses_question_id", table_name="question_responses")
    op.drop_index("ix_question_responses_sitting_id", table_name="question_responses")
    op.drop_table("question_responses")
    op.drop_index("ix_question_sittings_exam_id", table_name="question_sittings")
    op.drop_index("ix_question_sittings_user_id", table_name="question_sittings")
    op.drop_table("question_sittings")
