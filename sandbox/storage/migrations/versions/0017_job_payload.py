"""Background jobs get a payload: input too large or too private for their parameters (a
user import's rows, passwords in clear until each is hashed), read by the job's work alone
and cleared when the job ends.

One nullable column; existing jobs keep their rows as they are (no payload).

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("payload")
