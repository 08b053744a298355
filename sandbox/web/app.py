"""The app factory: settings in, a ready FastAPI app out (database migrated, packs loaded)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox import __version__
from sandbox.config import Settings
from sandbox.conversations.service import ConversationService
from sandbox.knowledge.library import load_knowledge_library
from sandbox.questions.library import load_question_library
from sandbox.scenarios.library import load_library
from sandbox.storage.database import make_engine, upgrade
from sandbox.storage.knowledge import sync_articles
from sandbox.web.demo import ensure_demo_users
from sandbox.web.deps import CsrfFailed, Forbidden, LoginRequired, viewer_for
from sandbox.web.headers import SecurityHeadersMiddleware
from sandbox.web.heap import settle_heap
from sandbox.web.jobs import JobRunner
from sandbox.web.monitor_postgres import PostgresBus, monitor_bus
from sandbox.web.routes import (
    admin,
    appeals,
    assignments,
    auth,
    calibration,
    calibration_sessions,
    cases,
    chat,
    exam_order,
    exams,
    health,
    jobs,
    knowledge,
    mentor,
    monitor,
    peer_review,
    proctor,
    questions,
    queue,
    reports,
    retraining,
    second,
    suggestions,
    trainee,
    work,
)
from sandbox.web.security import ANON_COOKIE, Signer, cookies_secure, new_anon_id
from sandbox.web.state import AppState
from sandbox.web.templating import render

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: apply migrations, load packs, create demo logins on the embedded default."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    library = load_library(settings)
    # The knowledge base's articles are files: the search index follows them at start-up.
    sync_articles(engine, load_knowledge_library(settings).articles)
    # On PostgreSQL the monitor hears every worker process (LISTEN/NOTIFY).
    bus = monitor_bus(settings)
    state = AppState(
        settings=settings,
        engine=engine,
        library=library,
        signer=Signer(settings.resolved_secret_key(), settings.session_max_age_s),
        bus=bus,
        conversations=ConversationService(
            library=library, engine=engine, bus=bus, hint_policy=settings.hints
        ),
        questions=load_question_library(settings),
    )
    if settings.is_embedded_default and settings.demo_users:
        state.demo_logins = ensure_demo_users(engine=engine, var_dir=settings.var_dir)
    # Long work (a regrade, an export) runs as background jobs in this process's own loop.
    runner = JobRunner(state, enabled=settings.run_jobs)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The exam timers run while the app does: their first sweep ends the exam attempts
        # whose deadline passed while the server was down.
        timers = state.conversations.start_timers()
        # Written parts and quizzes whose time is up are handed in by the server, too.
        paper_timer = asyncio.create_task(questions.run_paper_timer(state))
        # Background jobs: its first sweep marks failed the jobs a stopped server left running.
        stopping = threading.Event()
        job_runner = asyncio.create_task(runner.run(stopping)) if runner.enabled else None
        try:
            yield
        finally:
            if job_runner is not None:
                stopping.set()  # a running job ends at its next batch, marked as interrupted
                job_runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job_runner
            paper_timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await paper_timer
            await state.conversations.stop_timers(timers)
            if isinstance(bus, PostgresBus):
                await bus.close()

    # The schema is served for API fuzzing (schemathesis) and tools; no docs UI is.
    app = FastAPI(
        title="Sandbox",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.state.job_runner = runner
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth.router)
    app.include_router(trainee.router)
    app.include_router(chat.router)
    app.include_router(queue.router)  # before mentor's: all three live under /mentor
    app.include_router(calibration_sessions.session_router)
    app.include_router(calibration_sessions.builder_router)
    app.include_router(calibration.router)
    app.include_router(suggestions.router)
    app.include_router(second.marker_router)
    app.include_router(second.proctor_router)
    app.include_router(mentor.router)
    app.include_router(cases.router)
    app.include_router(knowledge.router)
    app.include_router(health.router)
    # The question routes first: /exams/{id}/written must not be read as an exam page.
    app.include_router(questions.router)
    for area in (
        exams,
        proctor,
        monitor,
        reports,
        appeals,
        admin,
        assignments,
        work,
        retraining,
        exam_order,
        peer_review,
        jobs,
    ):
        app.include_router(area.router)
    # The monitor's socket has its own router: the proctor pages' gate (a CSRF check on
    # forms, then the role) is not for a socket, which checks both at its handshake.
    app.include_router(monitor.socket_router)
    if settings.bench_echo:
        app.include_router(health.bench_router)
    _install_error_pages(app)
    _install_anon_cookie(app, env=settings.env)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def create_served_app() -> FastAPI:
    """The app of one `sandbox serve --workers N` worker, its start-up heap settled."""
    app = create_app()
    settle_heap()
    return app


def _install_anon_cookie(app: FastAPI, *, env: str) -> None:
    # A random id per browser binds the CSRF token of forms shown before login.
    @app.middleware("http")
    async def anon_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        anon_id = request.cookies.get(ANON_COOKIE)
        fresh = not anon_id or len(anon_id) > 64
        request.state.anon_id = new_anon_id() if fresh else anon_id
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                ANON_COOKIE,
                request.state.anon_id,
                httponly=True,
                samesite="lax",
                secure=cookies_secure(request, env),
            )
        return response


def out_of_range(exc: BaseException) -> bool:
    """True for the database refusing a number too large for it (SQLite or PostgreSQL)."""
    if isinstance(exc, OverflowError):
        return "too large to convert" in str(exc)  # sqlite3, for an int beyond 64 bits
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "22003"


def _error_page(request: Request, status_code: int, message_key: str | None = None) -> Response:
    state: AppState = request.app.state.sandbox
    with Session(state.engine) as session:
        viewer = viewer_for(request, state, session)
        key = message_key or f"error.{status_code if status_code in (400, 403, 404) else 500}"
        context = viewer.context(status_code=status_code, message=viewer.t(key))
        return render("error.html", context, status_code=status_code)


def _install_error_pages(app: FastAPI) -> None:
    # Handlers that render a page are plain `def`: each reads the viewer from the database,
    # and Starlette runs them in its thread pool, off the event loop.
    @app.exception_handler(LoginRequired)
    async def redirect_to_login(request: Request, _exc: Exception) -> Response:
        target = "/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfFailed)
    def refuse_csrf(request: Request, _exc: Exception) -> Response:
        return _error_page(request, 403, "csrf.failed")

    @app.exception_handler(Forbidden)
    def refuse_forbidden(request: Request, _exc: Exception) -> Response:
        return _error_page(request, 403)

    @app.exception_handler(StarletteHTTPException)
    def show_http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        if status == 405:
            status = 404
        return _error_page(request, status)

    @app.exception_handler(RequestValidationError)
    def show_bad_request(request: Request, _exc: Exception) -> Response:
        return _error_page(request, 400)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    def show_out_of_range(request: Request, exc: Exception) -> Response:
        # A number larger than the database can hold (an id in the address or a form) names
        # nothing: 404, not a server error. Any other overflow is a bug, and a 500.
        if out_of_range(exc):
            return _error_page(request, 404)
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return _error_page(request, 500)

    @app.exception_handler(Exception)
    def show_server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return _error_page(request, 500)
