"""An exam's conversations may last as long as each scenario's own `time_limit_s` (the
format's "in practice and exams alike"): a flag says so, and the exam's own limit is then
left aside. Exams stored before keep the limit their proctor chose (the flag is false).

A column is added rather than `time_limit_s` made nullable: on SQLite that would rebuild
the exams table, which attempts and candidates refer to.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "exams",
        sa.Column("scenario_limits", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # An exam that used its scenarios' own limits keeps the limit stored beside the flag.
    # SQLite (3.35 and later) drops a plain column in place; a batch rebuild would drop
    # the exams table that attempts and candidates refer to.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE exams DROP COLUMN scenario_limits")
    else:
        op.drop_column("exams", "scenario_limits")
