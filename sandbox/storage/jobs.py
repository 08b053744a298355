"""Background jobs: long work (a regrade, a report export, a large user import) queued in the
`jobs` table and run by a worker of the web app (`sandbox/web/jobs.py`), with its progress,
result and fate.

A job is `queued`, then `running` once one worker has claimed it, then `done`, `failed` or
`cancelled`. Claiming is atomic on both backends: PostgreSQL locks the oldest queued row
with `FOR UPDATE SKIP LOCKED` (other workers skip it), and every backend changes the row
only `WHERE state = 'queued'`, so two workers never run one job. A running job's worker
beats a heartbeat; a job whose heartbeat stops (its worker died or the server restarted)
is marked failed, never left running for ever. Cancelling a queued job ends it at once; a
running one gets a flag its work reads between batches.

A job's `payload` is input too large or too private for `params` (a user import's rows,
their passwords in clear until each is hashed): only the work reads it, no list or page
loads it, and it is cleared as the job ends, whichever way it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Engine, Index, String, Text, and_, or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.orm import defer
from sqlmodel import Field, Session, SQLModel, col, select

from sandbox.storage.models import utcnow


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: The states a job never leaves.
FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})

#: The interface's message keys of the failures this module and the runner write.
RESTARTED = "jobs.error.restarted"  # the worker stopped beating: the server restarted
FAILED = "jobs.error.failed"  # the work raised: the detail names the exception
BAD_PARAMS = "jobs.error.params"  # the job's parameters cannot be run (the detail says why)


class BackgroundJob(SQLModel, table=True):
    """One piece of long work. `params` says what to do (its kind's own fields); `done` of
    `total` is its progress; `result` what it found (JSON), `result_text` a file to download
    (named `result_name`); `error` a message key of the interface and `detail` text for
    the log when it failed."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(48))
    state: JobState = Field(default=JobState.QUEUED, sa_type=String(16))
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The work's own input, cleared when the job ends (module docstring). Migration 0017.
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    done: int = 0
    total: int | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    result_text: str | None = Field(default=None, sa_column=Column(Text))
    result_name: str | None = Field(default=None, sa_type=String(160))
    error: str | None = Field(default=None, sa_type=String(64))
    detail: str | None = Field(default=None, sa_column=Column(Text))
    cancel_requested: bool = False
    created_by: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The worker that claimed it (web/jobs.py `worker_id`) and when it last said it lives.
    claimed_by: str | None = Field(default=None, sa_type=String(120))
    heartbeat_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


@dataclass(frozen=True)
class Outcome:
    """What a job's work leaves: JSON to show and, for a download, a text file."""

    result: dict[str, Any] | None = None
    text: str | None = None
    name: str | None = None


class JobLost(Exception):
    """The job is no longer this worker's: it was marked failed (its heartbeat was judged
    stale) or is gone. The work stops without writing."""


class JobCancelled(Exception):
    """Someone asked to cancel the running job; its work stops between two batches. A work
    that keeps what it did so far sets `outcome` before it lets the exception go on."""

    outcome: Outcome | None = None


def submit(
    *,
    session: Session,
    kind: str,
    params: dict[str, Any],
    created_by: int | None,
    payload: dict[str, Any] | None = None,
) -> BackgroundJob:
    """A queued job (flushed, not committed: the caller commits it with what it did)."""
    job = BackgroundJob(kind=kind, params=params, created_by=created_by, payload=payload)
    session.add(job)
    session.flush()
    return job


_TABLE = BackgroundJob.__table__  # type: ignore[attr-defined]


def claim(engine: Engine, worker: str, now: datetime | None = None) -> int | None:
    """Claim the oldest queued job for `worker` and mark it running; its id, or None when
    nothing is queued. Never hands one job to two workers (module docstring)."""
    now = now or utcnow()
    running = {
        "state": JobState.RUNNING.value,
        "claimed_by": worker,
        "started_at": now,
        "heartbeat_at": now,
    }
    for _ in range(20):  # another worker took the candidate: look again
        with engine.begin() as connection:
            oldest = (
                select_columns(_TABLE.c.id)
                .where(_TABLE.c.state == JobState.QUEUED.value)
                .order_by(_TABLE.c.id)
                .limit(1)
            )
            if connection.dialect.name == "postgresql":
                oldest = oldest.with_for_update(skip_locked=True)
            job_id = connection.execute(oldest).scalar_one_or_none()
            if job_id is None:
                return None
            taken = connection.execute(
                update(_TABLE)
                .where(_TABLE.c.id == job_id, _TABLE.c.state == JobState.QUEUED.value)
                .values(**running)
            )
            if taken.rowcount == 1:
                return int(job_id)
    return None


def _ours(job_id: int, worker: str) -> Any:
    return and_(
        _TABLE.c.id == job_id,
        _TABLE.c.claimed_by == worker,
        _TABLE.c.state == JobState.RUNNING.value,
    )


def beat(engine: Engine, job_id: int, worker: str, now: datetime | None = None) -> bool:
    """The worker still runs the job: its heartbeat now. False when it is no longer ours."""
    with engine.begin() as connection:
        changed = connection.execute(
            update(_TABLE).where(_ours(job_id, worker)).values(heartbeat_at=now or utcnow())
        )
        return changed.rowcount == 1


def report(engine: Engine, job_id: int, worker: str, done: int, total: int | None) -> None:
    """Progress after a batch (with a heartbeat). Raises `JobCancelled` when cancelling was
    asked, `JobLost` when the job is no longer this worker's."""
    values: dict[str, Any] = {"done": done, "heartbeat_at": utcnow()}
    if total is not None:
        values["total"] = total
    with engine.begin() as connection:
        changed = connection.execute(update(_TABLE).where(_ours(job_id, worker)).values(**values))
        if changed.rowcount != 1:
            raise JobLost(job_id)
        asked = connection.execute(
            select_columns(_TABLE.c.cancel_requested).where(_TABLE.c.id == job_id)
        ).scalar_one()
    if asked:
        raise JobCancelled(job_id)


def finish(
    engine: Engine,
    job_id: int,
    worker: str,
    state: JobState,
    outcome: Outcome | None = None,
    error: str | None = None,
    detail: str | None = None,
) -> bool:
    """End the worker's running job in `state`, with what it left; False when the job was
    no longer ours (then nothing is written)."""
    outcome = outcome or Outcome()
    values: dict[str, Any] = {
        "state": state.value,
        "finished_at": utcnow(),
        "error": error,
        "detail": detail[:4000] if detail else None,
        "payload": None,
    }
    if outcome.result is not None:
        values["result"] = outcome.result
    if outcome.text is not None:
        values["result_text"] = outcome.text
        values["result_name"] = outcome.name
    with engine.begin() as connection:
        changed = connection.execute(update(_TABLE).where(_ours(job_id, worker)).values(**values))
        return changed.rowcount == 1


def fail_abandoned(engine: Engine, stale_before: datetime) -> list[int]:
    """Mark failed every running job whose worker has not beaten since `stale_before` (it
    died, or the server restarted while it ran); their ids."""
    stale = and_(
        _TABLE.c.state == JobState.RUNNING.value,
        or_(_TABLE.c.heartbeat_at.is_(None), _TABLE.c.heartbeat_at < stale_before),
    )
    with engine.begin() as connection:
        ids = [
            int(i) for i in connection.execute(select_columns(_TABLE.c.id).where(stale)).scalars()
        ]
        if ids:
            connection.execute(
                update(_TABLE)
                .where(stale, _TABLE.c.id.in_(ids))
                .values(
                    state=JobState.FAILED.value,
                    finished_at=utcnow(),
                    error=RESTARTED,
                    detail="the worker's heartbeat stopped before the job ended",
                    payload=None,
                )
            )
    return ids


def cancel(*, session: Session, job: BackgroundJob) -> JobState:
    """Cancel a job: a queued one at once, a running one between its batches (the flag its
    work reads). What state it is in now (a finished job stays as it was). Committed."""
    if job.id is None or job.finished:
        return job.state
    table = _TABLE
    queued = session.execute(
        update(table)
        .where(table.c.id == job.id, table.c.state == JobState.QUEUED.value)
        .values(
            state=JobState.CANCELLED.value,
            finished_at=utcnow(),
            cancel_requested=True,
            payload=None,
        )
    )
    if queued.rowcount != 1:  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.id == job.id, table.c.state == JobState.RUNNING.value)
            .values(cancel_requested=True)
        )
    session.commit()
    session.refresh(job)
    return job.state


def get_job(*, session: Session, job_id: int) -> BackgroundJob | None:
    """A job without its payload (a page that polls it every second never reads that)."""
    return session.get(
        BackgroundJob,
        job_id,
        options=[defer(BackgroundJob.payload)],  # type: ignore[arg-type]
    )


def read_payload(engine: Engine, job_id: int) -> dict[str, Any] | None:
    """The job's payload, for its work (None once the job has ended)."""
    with engine.connect() as connection:
        found = connection.execute(
            select_columns(_TABLE.c.payload).where(_TABLE.c.id == job_id)
        ).scalar_one_or_none()
    return found if isinstance(found, dict) else None


def record_progress(
    session: Session, job_id: int, worker: str, done: int, total: int | None = None
) -> None:
    """Progress written in the caller's transaction, so that it is committed with the batch
    it counts (a job stopped by a crash then says exactly how far it got). Raises `JobLost`
    when the job is no longer this worker's: the caller's batch must then not be committed."""
    values: dict[str, Any] = {"done": done, "heartbeat_at": utcnow()}
    if total is not None:
        values["total"] = total
    changed = session.execute(update(_TABLE).where(_ours(job_id, worker)).values(**values))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise JobLost(job_id)


def list_jobs(
    *,
    session: Session,
    created_by: int | None,
    kinds: Sequence[str] | None = None,
    limit: int = 100,
) -> list[BackgroundJob]:
    """The newest jobs first: those `created_by` started, or everyone's when None. The
    result and payload columns are not read (a download may be megabytes)."""
    statement = select(BackgroundJob).order_by(col(BackgroundJob.id).desc()).limit(limit)
    if created_by is not None:
        statement = statement.where(BackgroundJob.created_by == created_by)
    if kinds is not None:
        statement = statement.where(col(BackgroundJob.kind).in_(list(kinds)))
    statement = statement.options(
        defer(BackgroundJob.result_text),  # type: ignore[arg-type]
        defer(BackgroundJob.result),  # type: ignore[arg-type]
        defer(BackgroundJob.payload),  # type: ignore[arg-type]
    )
    return list(session.exec(statement).all())


def stale_before(now: datetime, stale_s: float) -> datetime:
    return now - timedelta(seconds=stale_s)
