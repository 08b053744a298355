"""Calibration sessions and a third reviewer for second marking.

A calibration set is a list of settled conversations (second-marked and settled, or
reviewed), each with the settled statuses frozen when the set was built; a mentor's
session grades them blind and keeps their answers. `second_marks` gains the third
reviewer a proctor may assign to settle a disagreement.

New tables and three nullable columns: no existing row changes, so a database with real
data upgrades as is.

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibration_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "calibration_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("calibration_sets.id"), nullable=False),
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("settled", sa.JSON(), nullable=False),
        sa.UniqueConstraint("set_id", "attempt_id", name="uq_calibration_items_attempt"),
    )
    op.create_index("ix_calibration_items_set_id", "calibration_items", ["set_id"])
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("calibration_sets.id"), nullable=False),
        sa.Column("mentor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_calibration_sessions_set_id", "calibration_sessions", ["set_id"])
    op.create_index("ix_calibration_sessions_mentor_id", "calibration_sessions", ["mentor_id"])
    op.create_table(
        "calibration_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("calibration_sessions.id"), nullable=False
        ),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("calibration_items.id"), nullable=False),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "item_id", name="uq_calibration_answers_item"),
    )
    op.create_index("ix_calibration_answers_session_id", "calibration_answers", ["session_id"])
    # Batch mode: SQLite adds a column with a foreign key only by copying the table (a few
    # rows: second marks are chosen by hand); PostgreSQL alters it in place.
    with op.batch_alter_table("second_marks") as batch:
        batch.add_column(sa.Column("third_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("third_assigned_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("third_assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_second_marks_third_id", "users", ["third_id"], ["id"])
        batch.create_foreign_key(
            "fk_second_marks_third_assigned_by", "users", ["third_assigned_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("second_marks") as batch:
        batch.drop_constraint("fk_second_marks_third_assigned_by", type_="foreignkey")
        batch.drop_constraint("fk_second_marks_third_id", type_="foreignkey")
        batch.drop_column("third_assigned_at")
        batch.drop_column("third_assigned_by")
        batch.drop_column("third_id")
    op.drop_index("ix_calibration_answers_session_id", table_name="calibration_answers")
    op.drop_table("calibration_answers")
    op.drop_index("ix_calibration_sessions_mentor_id", table_name="calibration_sessions")
    op.drop_index("ix_calibration_sessions_set_id", table_name="calibration_sessions")
    op.drop_table("calibration_sessions")
    op.drop_index("ix_calibration_items_set_id", table_name="calibration_items")
    op.drop_table("calibration_items")
    op.drop_table("calibration_sets")
