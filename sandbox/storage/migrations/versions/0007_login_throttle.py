"""Failed-login counts in the database, shared by every worker and by the console.

They were kept in memory by each worker: N workers gave a guesser N times the tries, a
restart forgot them, and an administrator could not unlock an account. Nothing is carried
over from the memory of running workers; the table starts empty.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_throttle_user_id", "login_throttle", ["user_id"])
    op.create_index("ix_login_throttle_last_failure_at", "login_throttle", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_last_failure_at", table_name="login_throttle")
    op.drop_index("ix_login_throttle_user_id", table_name="login_throttle")
    op.drop_table("login_throttle")
