"""Exam limits kept by the database: attempt slots, one open exam conversation, one appeal.

Before this revision the limits were checked by reading and then inserting, so requests
sent at once all passed the check: an exam allowing one attempt could hold a dozen, a
candidate two open conversations, a conversation eight appeals. Now:

- `attempts.attempt_no` numbers a candidate's attempts at a scenario within a sitting
  (first sitting or retake); `uq_attempts_exam_slot` makes each number unique, so two
  requests that counted the same attempts cannot both store one.
- `uq_attempts_open_exam`: one open exam conversation per candidate and exam.
- `uq_exam_appeals_attempt`: one appeal per attempt.

A database that was raced already holds rows these indexes refuse. Nothing is deleted and
no score, result or appeal changes: the existing exam attempts are numbered in the order
they started, and those beyond the exam's `attempts_allowed`, or open beside an earlier
open conversation of the same exam, are marked `over_limit` (left out of the open-index);
a later appeal of an appealed attempt gets `duplicate_of` = the first one (left out of the
appeal index). docs/exams.md says how to find them.

Revision ID: 0005
Revises: 0003 (the head before it; 0003 itself revises 0004)
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN_EXAM_ATTEMPT = "exam_id IS NOT NULL AND ended_at IS NULL AND NOT over_limit"
FIRST_APPEAL = "duplicate_of IS NULL"

_attempts = sa.table(
    "attempts",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("exam_id", sa.Integer()),
    sa.column("pack_id", sa.String()),
    sa.column("scenario_id", sa.String()),
    sa.column("retake", sa.Boolean()),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("ended_at", sa.DateTime(timezone=True)),
    sa.column("attempt_no", sa.Integer()),
    sa.column("over_limit", sa.Boolean()),
)
_exams = sa.table("exams", sa.column("id", sa.Integer()), sa.column("rules", sa.JSON()))
_appeals = sa.table(
    "exam_appeals",
    sa.column("id", sa.Integer()),
    sa.column("attempt_id", sa.Integer()),
    sa.column("duplicate_of", sa.Integer()),
)


def _allowed(rules: Any) -> int:
    """An exam's attempts_allowed from its stored rules (1, the default, if unreadable)."""
    value = rules.get("attempts_allowed", 1) if isinstance(rules, dict) else 1
    return value if isinstance(value, int) and value >= 1 else 1


def _number_exam_attempts(connection: sa.Connection) -> None:
    allowed = {
        exam_id: _allowed(rules)
        for exam_id, rules in connection.execute(sa.select(_exams.c.id, _exams.c.rules))
    }
    rows = connection.execute(
        sa.select(
            _attempts.c.id,
            _attempts.c.exam_id,
            _attempts.c.user_id,
            _attempts.c.pack_id,
            _attempts.c.scenario_id,
            _attempts.c.retake,
            _attempts.c.ended_at,
        )
        .where(_attempts.c.exam_id.is_not(None))
        .order_by(_attempts.c.started_at, _attempts.c.id)
    ).all()
    taken: dict[tuple[Any, ...], int] = {}
    open_seen: set[tuple[int, int]] = set()
    changes = []
    for row in rows:
        sitting = (row.exam_id, row.user_id, row.pack_id, row.scenario_id, bool(row.retake))
        number = taken.get(sitting, 0) + 1
        taken[sitting] = number
        over = number > allowed.get(row.exam_id, 1)
        if row.ended_at is None and not over:
            candidate = (row.exam_id, row.user_id)
            over = candidate in open_seen
            open_seen.add(candidate)
        changes.append({"row_id": row.id, "number": number, "over": over})
    if changes:
        connection.execute(
            _attempts.update()
            .where(_attempts.c.id == sa.bindparam("row_id"))
            .values(attempt_no=sa.bindparam("number"), over_limit=sa.bindparam("over")),
            changes,
        )


def _mark_duplicate_appeals(connection: sa.Connection) -> None:
    first: dict[int, int] = {}
    changes = []
    for appeal_id, attempt_id in connection.execute(
        sa.select(_appeals.c.id, _appeals.c.attempt_id).order_by(_appeals.c.id)
    ):
        if attempt_id in first:
            changes.append({"row_id": appeal_id, "first": first[attempt_id]})
        else:
            first[attempt_id] = appeal_id
    if changes:
        connection.execute(
            _appeals.update()
            .where(_appeals.c.id == sa.bindparam("row_id"))
            .values(duplicate_of=sa.bindparam("first")),
            changes,
        )


def upgrade() -> None:
    # Plain ADD COLUMNs, on SQLite too: a batch would copy the attempts table, and dropping
    # the old copy fails while other tables' rows point at it. The server default fills the
    # existing rows and stays, as in the model.
    op.add_column("attempts", sa.Column("attempt_no", sa.Integer(), nullable=True))
    op.add_column(
        "attempts",
        sa.Column("over_limit", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("exam_appeals") as batch:
        batch.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_exam_appeals_duplicate_of", "exam_appeals", ["duplicate_of"], ["id"]
        )

    connection = op.get_bind()
    _number_exam_attempts(connection)
    _mark_duplicate_appeals(connection)

    op.create_index(
        "uq_attempts_exam_slot",
        "attempts",
        ["exam_id", "user_id", "pack_id", "scenario_id", "retake", "attempt_no"],
        unique=True,
    )
    op.create_index(
        "uq_attempts_open_exam",
        "attempts",
        ["exam_id", "user_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_EXAM_ATTEMPT),
        postgresql_where=sa.text(OPEN_EXAM_ATTEMPT),
    )
    op.create_index(
        "uq_exam_appeals_attempt",
        "exam_appeals",
        ["attempt_id"],
        unique=True,
        sqlite_where=sa.text(FIRST_APPEAL),
        postgresql_where=sa.text(FIRST_APPEAL),
    )


def downgrade() -> None:
    op.drop_index("uq_exam_appeals_attempt", table_name="exam_appeals")
    op.drop_index("uq_attempts_open_exam", table_name="attempts")
    op.drop_index("uq_attempts_exam_slot", table_name="attempts")
    with op.batch_alter_table("exam_appeals") as batch:
        batch.drop_constraint("fk_exam_appeals_duplicate_of", type_="foreignkey")
        batch.drop_column("duplicate_of")
    # SQLite (3.35 and later) drops a column in place, without copying the table.
    op.drop_column("attempts", "over_limit")
    op.drop_column("attempts", "attempt_no")
