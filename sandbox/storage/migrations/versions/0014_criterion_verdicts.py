"""Criterion verdicts: one row per criterion of each stored grade, for the database to filter
and count by (the mentor's "criterion missed" filter, the reports' facility).

The table repeats what the grade JSON on `attempts` holds (each criterion's effective
status, kind, points, critical and flagged); `storage/verdicts.py` keeps it in step from
now on. Existing grades are read back in batches of 500 attempts, by id, so a database of
years of attempts upgrades without holding them all; a grade the upgrade cannot read (not
JSON, no criteria) gets no rows, as it would have none to filter.

`ix_attempts_exam_report` holds the columns the exam reports count by
(`storage/report_figures.py`), so they are read from the index alone: on SQLite, reading a
column stored after the grade JSON walks that JSON's overflow pages, which at 20,000
attempts was most of a report's time. `ix_attempts_user_started` gives the mentor's list
(newest first, paged by keyset on started_at and id) its page's keys per trainee without
reading the attempts' rows.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 500


def _rows(attempt_id: int, grade: Any) -> list[dict[str, Any]]:
    """The rows of one stored grade (as `storage.verdicts.verdict_rows` makes them, written
    out here so that the migration does not change when that module does)."""
    if isinstance(grade, str):
        try:
            grade = json.loads(grade)
        except ValueError:
            return []
    if not isinstance(grade, dict):
        return []
    rows: dict[str, dict[str, Any]] = {}
    for entry in grade.get("criteria") or []:
        if not isinstance(entry, dict) or "id" not in entry or "status" not in entry:
            continue
        criterion_id = str(entry["id"])[:64]
        if criterion_id in rows:
            continue
        points = entry.get("penalty") if entry.get("kind") == "forbidden" else entry.get("weight")
        try:
            points = None if points is None else float(points)
        except (TypeError, ValueError):
            points = None
        rows[criterion_id] = {
            "attempt_id": attempt_id,
            "criterion_id": criterion_id,
            "status": str(entry["status"])[:16],
            "kind": str(entry.get("kind") or "")[:16],
            "points": points,
            "critical": bool(entry.get("critical", False)),
            "flagged": isinstance(entry.get("review"), dict),
        }
    return list(rows.values())


def upgrade() -> None:
    table = op.create_table(
        "criterion_verdicts",
        sa.Column("attempt_id", sa.Integer(), sa.ForeignKey("attempts.id"), primary_key=True),
        sa.Column("criterion_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("critical", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_criterion_verdicts_criterion",
        "criterion_verdicts",
        ["criterion_id", "status", "attempt_id"],
    )
    # The reports' columns of exam attempts in one index, so that counting never reads the
    # attempts' rows (SQLite keeps columns after the grade JSON beyond it, in overflow pages).
    op.create_index(
        "ix_attempts_exam_report",
        "attempts",
        [
            "exam_id",
            "user_id",
            "pack_id",
            "scenario_id",
            "retake",
            "mode",
            "score",
            "ended_at",
            "graded_at",
            "over_limit",
            "id",
        ],
    )
    # The mentor's list, newest first and paged by keyset on (started_at, id).
    op.create_index("ix_attempts_user_started", "attempts", ["user_id", "started_at", "id"])
    connection = op.get_bind()
    read = sa.text(
        "SELECT id, grade FROM attempts WHERE grade IS NOT NULL AND id > :after "
        "ORDER BY id LIMIT :batch"
    )
    after = 0
    while True:
        found = connection.execute(read, {"after": after, "batch": BATCH}).all()
        if not found:
            break
        rows = [row for attempt_id, grade in found for row in _rows(attempt_id, grade)]
        if rows:
            connection.execute(sa.insert(table), rows)
        after = found[-1][0]


def downgrade() -> None:
    op.drop_index("ix_attempts_user_started", table_name="attempts")
    op.drop_index("ix_attempts_exam_report", table_name="attempts")
    op.drop_index("ix_criterion_verdicts_criterion", table_name="criterion_verdicts")
    op.drop_table("criterion_verdicts")
