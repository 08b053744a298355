"""Operations endpoints: the health probe, and the bare echo socket the load benchmark uses."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from sandbox.web.deps import StateDep
from sandbox.web.state import AppState

router = APIRouter(tags=["health"])
bench_router = APIRouter(prefix="/bench", tags=["bench"])


def database_reachable(state: AppState) -> bool:
    """One `SELECT 1` on a pooled connection."""
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@router.get("/healthz")
async def read_health(state: StateDep) -> JSONResponse:
    """200 when the app can reach its database, 503 when it cannot (for probes and proxies)."""
    if await run_in_threadpool(database_reachable, state):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "database unreachable"}, status_code=503)


@bench_router.websocket("/echo")
async def echo_socket(websocket: WebSocket) -> None:
    """Send every text frame back: the ceiling of the server stack, with no app work."""
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
