"""The exam area on an app in one call: its service, its routers, its timers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from sandbox.web.exams import ExamService
from sandbox.web.monitor_postgres import PostgresBus, monitor_bus
from sandbox.web.routes import appeals, exams, monitor, proctor, reports
from sandbox.web.state import AppState


def install_exams(app: FastAPI, state: AppState) -> None:
    """Give `state` an exam service, route the exam pages, run the exam timers with the app.

    The timers start with the app's lifespan (after any lifespan it already has): their
    first sweep ends the exam attempts whose deadline passed while the server was down.
    """
    def watched(attempt_id: int) -> bool:
        room = state.chat_rooms.get(attempt_id)
        return bool(getattr(room, "outboxes", None))

    # On PostgreSQL the monitor hears every worker process (LISTEN/NOTIFY).
    bus = monitor_bus(state.settings)
    service = ExamService(library=state.library, engine=state.engine, bus=bus, watched=watched)
    state.exams = service
    for area in (exams, proctor, monitor, reports, appeals):
        app.include_router(area.router)
    app.include_router(monitor.socket_router)
    before = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with before(app) as inner:
            timers = service.start_timers(state.attempt_lock)
            try:
                yield inner
            finally:
                await service.stop_timers(timers)
                if isinstance(bus, PostgresBus):
                    await bus.close()

    app.router.lifespan_context = lifespan
