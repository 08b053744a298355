"""An admin's user import of more than `IMPORT_JOB_ROWS` rows as a background job.

The request reads and checks the file (`storage/admin.py`, `check_table`): a file refused as
a whole never becomes a job. The rows go into the job's payload (passwords in clear until
each is hashed; the payload is cleared when the job ends, `storage/jobs.py`), and the job
writes them in file order, a batch at a time: each batch's users, their audit events, their
mentors and the job's count of rows done are committed together, so a job stopped in any
way (cancelled, the server stopping, a crash) has written exactly its first `done` rows.
Hashing a password with Argon2 takes a good fraction of a second (as in the request's
import, each row's password is hashed alone): a batch's passwords are hashed before its
write transaction begins, so the transaction is short and the app's other writers (chat
turns) do not queue behind it, and a batch ends after `BATCH_ROWS` rows or `BATCH_S`
seconds of hashing, whichever comes first, so the progress moves.

A mentor named by a row still to be written (one that may create that mentor or change
their role) is assigned once that row is, so the users end as the same file imported in
one request would leave them. The result is the import's report, row by row, shown on the
job's page and kept as a CSV to download.
"""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import Session

from sandbox import access
from sandbox.exams.reports import grades_csv
from sandbox.passwords import hash_password
from sandbox.storage import jobs
from sandbox.storage.admin import (
    IMPORT_ROWS_MAX,
    CheckedRow,
    PendingMentor,
    RowResult,
    assign_mentors,
    check_table,
    write_rows,
)
from sandbox.storage.jobs import BAD_PARAMS, JobCancelled, Outcome
from sandbox.storage.models import User
from sandbox.web.i18n import N_
from sandbox.web.jobs import JobContext, JobError, Kind, Stopping, register

#: The most rows, and the most seconds, of one batch.
BATCH_ROWS = 50
BATCH_S = 2.0
#: The report's columns in its CSV.
REPORT_COLUMNS = ("line", "name", "outcome", "changes", "problems")
#: What a row's mentor says when the job stopped before the row that names that mentor.
MENTOR_NOT_REACHED = (
    "mentor {name!r}: not assigned, the import stopped before the row of that user "
    "(the rest of the row was applied)"
)


def payload_of(rows: list[tuple[int, list[str]]]) -> dict[str, Any]:
    """What the job keeps of the file: its non-empty rows, each with its line."""
    return {"rows": [[line, cells] for line, cells in rows if any(c.strip() for c in cells)]}


def _rows_of(payload: dict[str, Any] | None) -> list[tuple[int, list[str]]]:
    found = payload.get("rows") if payload is not None else None
    if not isinstance(found, list):
        raise JobError(BAD_PARAMS, "the import's rows are not kept with the job")
    rows: list[tuple[int, list[str]]] = []
    for entry in found:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], int)
            or not isinstance(entry[1], list)
            or not all(isinstance(cell, str) for cell in entry[1])
        ):
            raise JobError(BAD_PARAMS, "the import's rows are not a table")
        rows.append((entry[0], entry[1]))
    return rows


def check_params(params: dict[str, Any]) -> list[str]:
    """The file's name (as shown in the report), its rows and how many had problems."""
    name, rows, bad = params.get("filename"), params.get("rows"), params.get("bad_rows")
    good = (
        isinstance(name, str)
        and len(name) <= 255
        and isinstance(rows, int)
        and not isinstance(rows, bool)
        and 0 < rows <= IMPORT_ROWS_MAX
        and isinstance(bad, int)
        and not isinstance(bad, bool)
        and 0 <= bad <= rows
    )
    return [] if good else [BAD_PARAMS]


def _admin(session: Session, context: JobContext) -> User:
    """The job's starter, still an active administrator (checked at every batch)."""
    admin = session.get(User, context.created_by) if context.created_by else None
    if admin is None or not admin.active or not access.can_administer(admin):
        raise JobError(BAD_PARAMS, "the job's starter is no longer an active administrator")
    return admin


def _row(result: RowResult) -> dict[str, Any]:
    return {
        "line": result.line,
        "name": result.name,
        "outcome": result.outcome,
        "changes": list(result.changes),
        "problems": list(result.problems),
    }


def _outcome(
    context: JobContext,
    results: list[RowResult],
    total: int,
    stopped: str | None,
) -> Outcome:
    """The report so far: every row processed, with counts and, when the job stopped early,
    how far it got; a CSV of the same rows."""
    report = [_row(result) for result in results]
    counts = {
        outcome: sum(1 for row in report if row["outcome"] == outcome)
        for outcome in ("created", "updated", "unchanged", "error")
    }
    text = grades_csv(
        (
            row | {"changes": " ".join(row["changes"]), "problems": "; ".join(row["problems"])}
            for row in report
        ),
        REPORT_COLUMNS,
    )
    return Outcome(
        result={
            "filename": context.params["filename"],
            "total": total,
            "processed": len(report),
            "last_line": report[-1]["line"] if report else None,
            "stopped": stopped,
            "counts": counts,
            "report": report,
        },
        text=text,
        name=f"users-import-{context.job_id}.csv",
    )


def run_import(context: JobContext) -> Outcome:
    """Write the kept rows a batch at a time (module docstring); the report."""
    checked = check_table(_rows_of(jobs.read_payload(context.engine, context.job_id)))
    if checked.problem is not None:
        raise JobError(BAD_PARAMS, checked.problem)
    rows = checked.rows
    total = len(rows)
    # Where the row that writes each user is: a mentor named there waits for it.
    written_at = {row.name: index for index, row in enumerate(rows) if not row.problems}
    results: list[RowResult] = []
    waiting: list[PendingMentor] = []
    done = 0
    context.progress(0, total)
    try:
        # The last batch assigns every mentor still waiting: all rows are written then.
        while done < total:
            done, waiting = _batch(context, rows, done, results, waiting, written_at)
            context.progress(done)
    except (JobCancelled, Stopping) as stop:
        for wanted in waiting:
            wanted.result.problems.append(MENTOR_NOT_REACHED.format(name=wanted.mentor))
        reason = "cancelled" if isinstance(stop, JobCancelled) else "server"
        stop.outcome = _outcome(context, results, total, reason)
        raise
    return _outcome(context, results, total, None)


def _batch(
    context: JobContext,
    rows: list[CheckedRow],
    start: int,
    results: list[RowResult],
    waiting: list[PendingMentor],
    written_at: dict[str, int],
) -> tuple[int, list[PendingMentor]]:
    """Hash the passwords of rows from `start` until the batch is full (rows or seconds),
    then write those rows, assign the mentors that need wait no longer, and commit it all
    with the job's progress; the rows done then, and the mentors still waiting. `results`
    grows only once committed."""
    began = time.monotonic()
    hashes: dict[int, str] = {}
    end = start
    while end < len(rows) and end - start < BATCH_ROWS:
        row = rows[end]
        if row.password and not row.problems:
            hashes[row.line] = hash_password(row.password)
        end += 1
        if time.monotonic() - began >= BATCH_S:
            break
    with Session(context.engine, expire_on_commit=False) as session:
        admin = _admin(session, context)
        found, wanted = write_rows(session, rows[start:end], actor_id=admin.id, hashes=hashes)
        mentors = waiting + wanted
        # A mentor whose own row is written (or not in the file) is assigned now.
        ready = [m for m in mentors if written_at.get(m.mentor, -1) < end]
        assign_mentors(session, ready, actor_id=admin.id)
        context.progress_in(session, end)
        session.commit()
    results += found
    return end, [m for m in mentors if written_at.get(m.mentor, -1) >= end]


IMPORT_USERS = register(
    Kind("users.import", N_("jobs.kind.users.import"), run_import, check_params)
)
