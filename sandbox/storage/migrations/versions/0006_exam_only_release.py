"""Exams gain `exam_only`: their scenarios are never offered for practice to trainees.

A release time (`results_released_at`) may now lie in the future (a scheduled release) and
may be cleared again (a withdrawn release); that column exists since 0004, so only the flag
is new. Existing exams keep today's behaviour: not exam-only.

Revision ID: 0006
Revises: 0003 (the head, which sits on 0004)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(
            sa.Column("exam_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The default only filled the existing rows; the model sets the column itself.
    with op.batch_alter_table("exams") as batch:
        batch.alter_column("exam_only", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("exam_only")
