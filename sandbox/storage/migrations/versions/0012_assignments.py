"""Assignments: scenarios (and later quizzes) given to trainees with a due date, and the
scenarios of a retraining plan; and extra time per exam candidate.

Two new tables; no existing row changes, so a database with real data upgrades as is.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("activity_kind", sa.String(16), nullable=False),
        sa.Column("activity_ref", sa.String(160), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("assigned_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("cohort", sa.String(64), nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assignments_user_id", "assignments", ["user_id"])
    op.create_index("ix_assignments_activity", "assignments", ["activity_kind", "activity_ref"])
    op.create_index("ix_assignments_exam_id", "assignments", ["exam_id"])
    op.create_table(
        "exam_extra_time",
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("extra_s", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exam_extra_time")
    op.drop_index("ix_assignments_exam_id", table_name="assignments")
    op.drop_index("ix_assignments_activity", table_name="assignments")
    op.drop_index("ix_assignments_user_id", table_name="assignments")
    op.drop_table("assignments")
