"""The proctor's live monitor: each candidate's state, pushed over a WebSocket.

The table is paged (`PAGE_SIZE` candidates by name, `?page=N`): a page and its socket read
only their candidates' rows, so neither grows with the exam. On every (re)connect the socket
first sends its page's rows read from the database; after that, each event of the bus
re-reads and re-sends only the rows it names that are on the page, from those candidates'
own rows (`candidate_rows(users=...)`): a chat message costs one candidate's reads, not the
whole exam's. An event naming nobody (None) re-reads the page. Frames are htmx out-of-band
swaps, like the chat's. A proctor who logs out or loses the role gets a notice and the
socket closes with 1008 (web/sockets.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from sandbox import access
from sandbox.conversations.events import ExamEvent, Subscription
from sandbox.conversations.policy import deadline_of
from sandbox.storage.exams import Exam, exam_scenarios, trainee_message_counts
from sandbox.storage.models import User
from sandbox.storage.standings import Standing, standings
from sandbox.web.deps import (
    SessionDep,
    StateDep,
    ViewerDep,
    gate,
    get_state,
    require_proctor,
    viewer_for,
)
from sandbox.web.i18n import Translate
from sandbox.web.pagination import read_page
from sandbox.web.proctoring import (
    ServiceDep,
    candidates_page,
    exam_or_404,
    page_helpers,
    pager_context,
    scenario_titles,
)
from sandbox.web.routes.chat import MAX_ID, same_origin
from sandbox.web.sockets import (
    NOTICE_KEYS,
    POLICY_VIOLATION,
    CloseReason,
    SocketGuard,
    close_with_notice,
    receive_frame,
)
from sandbox.web.state import AppState
from sandbox.web.templating import render, render_text

router = APIRouter(prefix="/proctor", tags=["proctor"], dependencies=gate(require_proctor))
# The socket checks who is asking itself, before its handshake is accepted: a refused socket
# is closed with 1008, never answered with a page.
socket_router = APIRouter(prefix="/proctor", tags=["proctor"])

FRAMES = "_monitor_frames.html"
#: Candidates on one page of the monitor (and so in one socket's first frame).
PAGE_SIZE = 100


@dataclass
class CandidateRow:
    """What the monitor shows of one candidate."""

    user: User
    progress: str
    scenario: str | None  # the scenario in progress
    left_s: float | None  # until the exam limit (negative: in the grace period)
    grace: bool
    messages: int | None  # sent so far in the conversation in progress
    done: int
    total: int
    practical: float | None
    status: str  # pending, passed, failed
    retake: bool


def candidate_rows(
    session: Session,
    state: AppState,
    exam: Exam,
    now: datetime,
    users: Sequence[User] | None = None,
) -> list[CandidateRow]:
    """Every candidate's row (or those of `users`), read from the database now."""
    assert exam.id is not None
    titles = scenario_titles(state)
    found = standings(session=session, exam=exam, now=now, users=users)
    open_ids = [s.open_attempt.id for s in found if s.open_attempt and s.open_attempt.id]
    counts = trainee_message_counts(session=session, attempt_ids=open_ids)
    return [_row(s, titles, counts, now) for s in found]


def _row(
    standing: Standing, titles: dict[str, str], counts: dict[int, int], now: datetime
) -> CandidateRow:
    current = standing.open_attempt
    left: float | None = None
    scenario = None
    if current is not None:
        key = f"{current.pack_id}/{current.scenario_id}"
        scenario = titles.get(key, key)
        elapsed = (now - current.started_at).total_seconds()
        left = deadline_of(current).limit_s - elapsed
    sitting = standing.sitting
    return CandidateRow(
        user=standing.user,
        progress=standing.progress,
        scenario=scenario,
        left_s=left,
        grace=left is not None and left < 0,
        messages=counts.get(current.id or 0, 0) if current is not None else None,
        done=sum(1 for p in sitting if p.score is not None),
        total=len(sitting),
        practical=(standing.retake_result or standing.result).practical,
        status=standing.final.status,
        retake=standing.retake is not None,
    )


class SharedRows:
    """Rows read for one monitor socket, reused by the other monitors of the same exam.

    Every monitor of an exam hears the same event. The first to handle it reads the named
    candidates' rows; the others, waiting on the exam's lock meanwhile, find rows read after
    the event arrived (as fresh as that event made them) and render those: five monitors
    cost one read per event, not five.
    """

    KEEP_S = 30.0  # rows older than this are dropped when the store is tidied

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[int, int], threading.Lock] = {}
        self._rows: dict[tuple[int, int, int], tuple[float, CandidateRow]] = {}

    def lock(self, app: int, exam_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((app, exam_id), threading.Lock())

    def fresh(
        self, app: int, exam_id: int, user_ids: Sequence[int], since: float
    ) -> dict[int, CandidateRow]:
        """The rows of `user_ids` read at or after `since` (time.monotonic())."""
        found = {}
        with self._guard:
            kept_rows = [(i, self._rows.get((app, exam_id, i))) for i in user_ids]
        for user_id, kept in kept_rows:
            if kept is not None and kept[0] >= since:
                found[user_id] = kept[1]
        return found

    def store(self, app: int, exam_id: int, rows: Sequence[CandidateRow], read_at: float) -> None:
        with self._guard:  # one writer at a time: the monitors of other exams store too
            for row in rows:
                if row.user.id is not None:
                    self._rows[(app, exam_id, row.user.id)] = (read_at, row)
            if len(self._rows) > 10_000:
                old = read_at - self.KEEP_S
                for key in [k for k, (at, _) in self._rows.items() if at < old]:
                    del self._rows[key]


SHARED = SharedRows()


def _context(t: Translate, exam: Exam, rows: list[CandidateRow], now: datetime) -> dict[str, Any]:
    return {"t": t, "exam": exam, "rows": rows, "now": now, **page_helpers()}


@router.get("/exams/{exam_id}/monitor")
def read_monitor(
    exam_id: int,
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    service: ServiceDep,
) -> Response:
    """The live monitor page, one page of candidates (the table is already filled; the
    socket keeps it current)."""
    exam = exam_or_404(session, exam_id)
    now = service.now()
    wanted = read_page(request.query_params.get("page"))
    shown = candidates_page(session, exam, wanted, PAGE_SIZE)
    rows = candidate_rows(session, state, exam, now, users=shown.items)
    path = f"/proctor/exams/{exam_id}/monitor"
    context = viewer.context(
        **_context(viewer.t, exam, rows, now),
        scenario_count=len(exam_scenarios(session=session, exam_id=exam_id)),
        window=exam.window(now),
        **pager_context(viewer.t, shown, path),
    )
    return render("monitor.html", context)


@socket_router.websocket("/exams/{exam_id}/monitor/ws")
async def monitor_socket(websocket: WebSocket, exam_id: int) -> None:
    """Push each candidate's row when it changes; the whole table on (re)connect."""
    state = get_state(websocket)
    service = state.conversations

    def who() -> tuple[Any, Exam | None]:
        with Session(state.engine, expire_on_commit=False) as session:
            # An id beyond any database integer names no exam (SQLite would raise).
            exam = session.get(Exam, exam_id) if 0 < exam_id <= MAX_ID else None
            return viewer_for(websocket, state, session), exam

    # Like the chat: origin, session and role are checked before the handshake is
    # accepted, and a refused socket never gets a frame.
    if not same_origin(websocket):
        await websocket.close(code=POLICY_VIOLATION)
        return
    viewer, exam = await run_in_threadpool(who)
    if viewer.user is None or not access.can_monitor(viewer.user) or exam is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    assert viewer.login is not None
    await websocket.accept()
    guard = SocketGuard(state.live_sessions, viewer.login.id, access.EXAM_STAFF)

    wanted = read_page(websocket.query_params.get("page"))
    on_page: dict[int, User] = {}  # the page's candidates, as last read

    def frame(user_ids: set[int] | None, since: float) -> str | None:
        now = service.now()
        if user_ids is None:  # the whole page, read again
            with Session(state.engine, expire_on_commit=False) as session:
                users = candidates_page(session, exam, wanted, PAGE_SIZE).items
                on_page.clear()
                on_page.update({u.id: u for u in users if u.id is not None})
                rows = candidate_rows(session, state, exam, now, users=users)
            return render_text(FRAMES, _context(viewer.t, exam, rows, now), block="rows")
        # Only the named candidates of this page: their rows, nobody else's, read once for
        # every monitor of the exam.
        ids = [i for i in sorted(user_ids) if i in on_page]
        if not ids:
            return None
        app_key = id(state)
        with SHARED.lock(app_key, exam_id):
            found = SHARED.fresh(app_key, exam_id, ids, since)
            missing = [on_page[i] for i in ids if i not in found]
            if missing:
                read_at = time.monotonic()
                with Session(state.engine, expire_on_commit=False) as session:
                    read = candidate_rows(session, state, exam, now, users=missing)
                SHARED.store(app_key, exam_id, read, read_at)
                found.update({r.user.id: r for r in read if r.user.id is not None})
        rows = [found[i] for i in ids if i in found]
        return render_text(FRAMES, _context(viewer.t, exam, rows, now), block="changed")

    async def send(user_ids: set[int] | None, since: float) -> CloseReason | None:
        # Nothing more is shown to a proctor who logged out or lost the role.
        refusal = await guard.refusal()
        if refusal is None:
            text = await run_in_threadpool(frame, user_ids, since)
            if text is not None:
                await websocket.send_text(text)
        return refusal

    # The browser may go away at any moment, even before the first frame: that ends the
    # socket quietly, never with a traceback in the log.
    with contextlib.suppress(WebSocketDisconnect):
        async with service.bus.subscribe(exam_id) as subscription:
            # Subscribed first, then read: a change made in between is sent twice, never lost.
            refusal = await send(None, 0.0) or await _push(websocket, subscription, guard, send)
        if refusal is not None:
            notice = viewer.t(NOTICE_KEYS[refusal])
            html = render_text(FRAMES, {"t": viewer.t, "notice": notice}, block="closed")
            await close_with_notice(websocket, html, refusal)


async def _push(
    websocket: WebSocket,
    subscription: Subscription,
    guard: SocketGuard,
    send: Callable[[set[int] | None, float], Awaitable[CloseReason | None]],
) -> CloseReason | None:
    """Send the rows each event names until the browser goes away (None) or the socket may
    no longer stay open (the reason)."""
    reader = asyncio.create_task(_until_closed(websocket))
    watcher = asyncio.create_task(guard.watch())
    news: asyncio.Task[set[ExamEvent]] | None = None
    try:
        while True:
            news = asyncio.create_task(subscription.next_batch())
            done, _ = await asyncio.wait(
                {reader, watcher, news}, return_when=asyncio.FIRST_COMPLETED
            )
            if reader in done:
                return None
            if watcher in done:
                return watcher.result()
            since = time.monotonic()  # after the commit that made the events
            named = {event.user_id for event in news.result()}
            user_ids = None if None in named else {i for i in named if i is not None}
            refusal = await send(user_ids, since)
            if refusal is not None:
                return refusal
    finally:
        for task in (reader, watcher, news):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) whatever the browser sends, text or binary, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await receive_frame(websocket)
