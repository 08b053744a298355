"""Exams gain `exam_only`: their scenarios are never offered for practice to trainees.

A release time (`results_released_at`) may now lie in the future (a scheduled release) and
may be cleared again (a withdrawn release); that column exists since 0004, so only the flag
is new. Existing exams keep today's behaviour: not exam-only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD and DROP COLUMN, on SQLite too: a batch would copy the exams table, and
    # dropping the old copy fails while attempts point at it (see 0005). The server default
    # stays: it fills existing rows and says the same as the model's own default.
    op.add_column(
        "exams", sa.Column("exam_only", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("exams", "exam_only")
