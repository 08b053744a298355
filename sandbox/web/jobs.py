"""Background jobs in the web app: the kinds of long work (registered by the route modules
that start them) and the runner, one asyncio task per worker process that claims the
oldest queued job (`storage/jobs.py`) and runs it in a thread, so chats are not blocked.

The runner's task is started by the app's lifespan. At start and at every poll it marks
failed the running jobs whose worker stopped beating (the server restarted while they ran);
while a job runs, the task beats its heartbeat every `heartbeat_s`, whatever its batches
take. A kind's work reports progress per batch through its `JobContext`, which raises
`JobCancelled` there when someone asked to cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from sandbox.storage import jobs
from sandbox.storage.jobs import BackgroundJob, JobCancelled, JobLost, JobState, Outcome
from sandbox.storage.models import utcnow
from sandbox.web.i18n import N_
from sandbox.web.state import AppState

log = logging.getLogger(__name__)

#: The interface's words for a job's states and failures (the pages build these keys).
MESSAGES = (
    N_("jobs.state.queued"),
    N_("jobs.state.running"),
    N_("jobs.state.done"),
    N_("jobs.state.failed"),
    N_("jobs.state.cancelled"),
    N_("jobs.error.restarted"),
    N_("jobs.error.failed"),
    N_("jobs.error.params"),
    N_("jobs.kind.unknown"),
)

#: Seconds between polls of the queue when it is empty.
POLL_S = 1.0
#: Seconds between heartbeats of a running job.
HEARTBEAT_S = 5.0
#: A running job whose heartbeat is older than this is its dead worker's: marked failed.
STALE_S = 30.0


class Stopping(Exception):
    """The server is stopping: the running job ends between two batches, marked failed as
    a restart would leave it. A work that keeps what it did so far sets `outcome` before it
    lets the exception go on (as for `JobCancelled`)."""

    outcome: Outcome | None = None


class JobError(Exception):
    """The job cannot be done as asked: `key` is a message key of the interface (shown on
    the job's page), `detail` English text for the log and the page's detail line."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


@dataclass
class JobContext:
    """What a kind's work gets: the job's parameters and starter, the app, and `progress`."""

    state: AppState
    job_id: int
    params: dict[str, Any]
    created_by: int | None
    worker: str
    stopping: threading.Event = field(default_factory=threading.Event)
    done: int = 0
    total: int | None = None

    @property
    def engine(self) -> Engine:
        return self.state.engine

    def progress(self, done: int, total: int | None = None) -> None:
        """`done` of `total` (total unchanged when None); raises `JobCancelled` when
        cancelling was asked, `JobLost` when the job is no longer this worker's."""
        self.done = done
        if total is not None:
            self.total = total
        jobs.report(self.engine, self.job_id, self.worker, done, total)
        if self.stopping.is_set():
            raise Stopping(self.job_id)

    def progress_in(self, session: Session, done: int, total: int | None = None) -> None:
        """`done` of `total` written in `session`'s transaction, committed with the batch it
        counts; raises `JobLost` (then the batch must not be committed). Call `progress`
        after the commit to learn whether to stop."""
        jobs.record_progress(session, self.job_id, self.worker, done, total)
        self.done = done
        if total is not None:
            self.total = total


@dataclass(frozen=True)
class Kind:
    """A kind of job: its name (stored), its title (a message key) and its work."""

    name: str
    title: str
    run: Callable[[JobContext], Outcome]
    # Checks the parameters before the job is queued: a message key per problem (empty
    # when they are fine). Also run by the runner, for a job queued some other way.
    check: Callable[[dict[str, Any]], list[str]] = field(default=lambda _params: [])


#: Every kind, by name; the route modules register theirs at import (`register`).
KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def worker_id() -> str:
    """This process's name in `claimed_by`: host, process id and a random part (a restarted
    process with the same pid is another worker)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def start(
    *,
    session: Session,
    kind: str,
    params: dict[str, Any],
    created_by: int | None,
    payload: dict[str, Any] | None = None,
) -> BackgroundJob:
    """Queue a job of a registered kind (committed), with its `payload` if it has one
    (`storage/jobs.py`). Raises `JobError` for an unknown kind or parameters its check
    refuses."""
    found = KINDS.get(kind)
    if found is None:
        raise JobError(jobs.BAD_PARAMS, f"no job kind {kind!r}")
    problems = found.check(params)
    if problems:
        raise JobError(problems[0], f"{kind}: {', '.join(problems)}")
    job = jobs.submit(
        session=session, kind=kind, params=params, created_by=created_by, payload=payload
    )
    session.commit()
    return job


class JobRunner:
    """Claims and runs queued jobs, one at a time, for one worker process."""

    def __init__(
        self,
        state: AppState,
        *,
        worker: str | None = None,
        poll_s: float = POLL_S,
        heartbeat_s: float = HEARTBEAT_S,
        stale_s: float = STALE_S,
        enabled: bool = True,
    ) -> None:
        self.state = state
        # Whether the app's lifespan starts it (SANDBOX_RUN_JOBS); `run_one` works either way.
        self.enabled = enabled
        self.worker = worker or worker_id()
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s

    def sweep(self) -> list[int]:
        """Mark failed the running jobs whose worker has stopped beating."""
        found = jobs.fail_abandoned(self.state.engine, jobs.stale_before(utcnow(), self.stale_s))
        for job_id in found:
            log.warning("job %s failed: its worker stopped while it ran", job_id)
        return found

    def claim(self) -> int | None:
        return jobs.claim(self.state.engine, self.worker)

    def execute(self, job_id: int, stopping: threading.Event | None = None) -> JobState:
        """Run a claimed job to its end and record it: done, failed or cancelled; when
        `stopping` is set, it ends at its next batch, failed as a restart leaves it."""
        engine = self.state.engine
        with Session(engine) as session:
            job = jobs.get_job(session=session, job_id=job_id)
            if job is None:
                return JobState.FAILED
            kind_name, params, created_by = job.kind, dict(job.params), job.created_by
        finish = jobs.finish
        kind = KINDS.get(kind_name)
        if kind is None:
            finish(
                engine,
                job_id,
                self.worker,
                JobState.FAILED,
                error=jobs.BAD_PARAMS,
                detail=f"no job kind {kind_name!r}",
            )
            return JobState.FAILED
        problems = kind.check(params)
        if problems:
            finish(
                engine,
                job_id,
                self.worker,
                JobState.FAILED,
                error=problems[0],
                detail=f"{kind_name}: {', '.join(problems)}",
            )
            return JobState.FAILED
        context = JobContext(
            self.state, job_id, params, created_by, self.worker, stopping or threading.Event()
        )
        try:
            outcome = kind.run(context)
        except JobCancelled as cancelled:
            finish(engine, job_id, self.worker, JobState.CANCELLED, cancelled.outcome)
            return JobState.CANCELLED
        except Stopping as stopped:
            finish(
                engine,
                job_id,
                self.worker,
                JobState.FAILED,
                stopped.outcome,
                error=jobs.RESTARTED,
                detail="the server stopped while the job ran",
            )
            return JobState.FAILED
        except JobLost:
            log.warning("job %s was taken from this worker while it ran", job_id)
            return JobState.FAILED
        except JobError as error:
            finish(
                engine, job_id, self.worker, JobState.FAILED, error=error.key, detail=error.detail
            )
            return JobState.FAILED
        except Exception as exc:  # the job fails, the runner goes on
            log.exception("job %s (%s) failed", job_id, kind_name)
            finish(
                engine,
                job_id,
                self.worker,
                JobState.FAILED,
                error=jobs.FAILED,
                detail=f"{type(exc).__name__}: {exc}",
            )
            return JobState.FAILED
        finish(engine, job_id, self.worker, JobState.DONE, outcome)
        return JobState.DONE

    def run_one(self) -> int | None:
        """Claim the oldest queued job and run it here; its id, or None if none was queued."""
        job_id = self.claim()
        if job_id is not None:
            self.execute(job_id)
        return job_id

    async def _beat(self, job_id: int) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await asyncio.to_thread(jobs.beat, self.state.engine, job_id, self.worker)
            except Exception:  # a missed beat is logged; the next one tries again
                log.exception("heartbeat of job %s failed", job_id)

    async def run(self, stopping: threading.Event | None = None) -> None:
        """Until cancelled: sweep, claim, run in a thread with a heartbeat beside it. The
        app's lifespan sets `stopping` as the server stops: the running job's thread ends
        at its next batch."""
        stopping = stopping or threading.Event()
        while True:
            try:
                await asyncio.to_thread(self.sweep)
                job_id = await asyncio.to_thread(self.claim)
            except Exception:  # the database was away: try again at the next poll
                log.exception("the job runner could not read the queue")
                job_id = None
            if job_id is None:
                await asyncio.sleep(self.poll_s)
                continue
            beating = asyncio.create_task(self._beat(job_id))
            try:
                await asyncio.to_thread(self.execute, job_id, stopping)
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating
