"""Exams: scenarios, candidates, cohorts, written scores, retakes, appeals; exam attempts.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "exams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("cohort", sa.String(64), nullable=True),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        _when("opens_at"),
        _when("closes_at"),
        sa.Column("rules", sa.JSON(), nullable=False),
        _when("results_released_at", nullable=True),
        _user("created_by", nullable=True),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_exams_cohort", "exams", ["cohort"])

    op.create_table(
        "exam_scenarios",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pack_id", sa.String(64), nullable=False),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("exam_id", "pack_id", "scenario_id", name="uq_exam_scenarios"),
    )
    op.create_index("ix_exam_scenarios_exam_id", "exam_scenarios", ["exam_id"])

    op.create_table(
        "exam_candidates",
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_index("ix_exam_candidates_user_id", "exam_candidates", ["user_id"])

    op.create_table(
        "cohort_members",
        sa.Column("cohort", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_index("ix_cohort_members_user_id", "cohort_members", ["user_id"])

    op.create_table(
        "exam_written_scores",
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("retake", sa.Boolean(), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        _user("entered_by", nullable=True),
        _when("entered_at"),
    )

    op.create_table(
        "exam_retakes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=False),
        _user("user_id"),
        sa.Column("scenarios", sa.JSON(), nullable=False),
        sa.Column("written", sa.Boolean(), nullable=False),
        _user("granted_by", nullable=True),
        _when("granted_at"),
        _when("expires_at"),
        sa.UniqueConstraint("exam_id", "user_id", name="uq_exam_retakes"),
    )
    op.create_index("ix_exam_retakes_exam_id", "exam_retakes", ["exam_id"])

    op.create_table(
        "exam_appeals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("exam_id", sa.Integer(), sa.ForeignKey("exams.id"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        _user("user_id"),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("opened_at"),
        sa.Column("status", sa.String(16), nullable=False),
        _user("resolved_by", nullable=True),
        _when("resolved_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=True),
        sa.Column("old_score", sa.Float(), nullable=True),
        sa.Column("new_score", sa.Float(), nullable=True),
    )
    op.create_index("ix_exam_appeals_exam_id", "exam_appeals", ["exam_id"])
    op.create_index("ix_exam_appeals_attempt_id", "exam_appeals", ["attempt_id"])
    op.create_index("ix_exam_appeals_user_id", "exam_appeals", ["user_id"])

    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("exam_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("retake", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("grace_s", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(_when("deadline_at", nullable=True))
        batch.create_foreign_key("fk_attempts_exam_id", "exams", ["exam_id"], ["id"])
        batch.create_index("ix_attempts_exam_id", ["exam_id"])
        batch.create_index("ix_attempts_deadline_at", ["deadline_at"])
    # The defaults only filled the existing rows; the models set these columns themselves.
    with op.batch_alter_table("attempts") as batch:
        batch.alter_column("retake", server_default=None)
        batch.alter_column("grace_s", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_index("ix_attempts_deadline_at")
        batch.drop_index("ix_attempts_exam_id")
        batch.drop_constraint("fk_attempts_exam_id", type_="foreignkey")
        batch.drop_column("deadline_at")
        batch.drop_column("grace_s")
        batch.drop_column("retake")
        batch.drop_column("exam_id")
    for table in (
        "exam_appeals",
        "exam_retakes",
        "exam_written_scores",
        "cohort_members",
        "exam_candidates",
        "exam_scenarios",
        "exams",
    ):
        op.drop_table(table)
