"""Load benchmark of the chat socket: reply latency, throughput, memory per conversation.

    python bench/load.py --all            # every figure of docs/performance.md (SQLite, PostgreSQL)
    python bench/load.py --all --quick    # the same, small, to see that it works
    python bench/load.py --database postgres --workers 2 --conversations 500

It starts `sandbox serve` itself on a free port of 127.0.0.1 with SANDBOX_REPLY_DELAY_S=0 and
SANDBOX_BENCH_ECHO=1, on a fresh SQLite file or a fresh PostgreSQL database (`--postgres-url`
names one whose name starts with `sandbox_bench`: it is dropped and created again), or talks to
a server already running (`--url`, with `--database-url` and SANDBOX_SECRET_KEY of that server).

Trainee accounts and their login sessions are made through the storage API on the server's
database (Argon2 costs half a second a login, which would make setting up 1,000 trainees the
longest part of the run); one trainee also logs in through the login form and starts their
attempt through the brief page, so that path is exercised too.

Runs, each against the same server:
- open loop: N conversations held at once, each sending a message every `--interval` seconds
  for `--turns` turns, starts spread evenly over one interval. Latency is from sending a
  trainee message to receiving the frame with the persona's reply.
- echo: the same load on `/bench/echo`, a bare WebSocket that sends every frame back: the
  ceiling of this machine and server stack.
- idle memory: the server's RSS (all its processes) before and after N conversations are
  opened and synced, divided by N; the same for N echo sockets.
- closed loop: C conversations each sending its next message as soon as the previous one is
  acknowledged, 20 turns per attempt then on to a fresh attempt; stored messages per second
  are counted in the database (the lines of turns: the persona's nudges, said on a timer,
  and openings are not counted).

Chat and echo runs alternate, A B A B (`--rounds`, 2; the closed loops likewise), so both
see the same machine; each chat round has fresh attempts. `--port` chooses the port of the
server it starts (default: a free one).

Every loop is bounded in turns and in time; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from sandbox.passwords import hash_password  # noqa: E402
from sandbox.scenarios.library import load_library  # noqa: E402
from sandbox.storage.attempts import start_attempt  # noqa: E402
from sandbox.storage.database import make_engine, upgrade  # noqa: E402
from sandbox.storage.models import AttemptMessage, Role, User  # noqa: E402
from sandbox.web.security import SESSION_COOKIE, Signer, open_session  # noqa: E402

PACK = "pharmacy-service-en"
SCENARIO = "ibuprofen-on-warfarin"
PASSWORD = "bench password 0"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sandbox_bench"
SESSION_MAX_AGE_S = 12 * 3600
REPLY_TIMEOUT_S = 30.0
CONNECT_CONCURRENCY = 64
CLOSED_TURNS_PER_ATTEMPT = 20
NOT_TURNS = ("nudge", "opening")  # stored persona lines that are not part of a turn
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Neutral lines: the persona answers each with a fallback line, and none ends the conversation.
LINES = [
    "Let me look into that for you, one moment please (ref {n}).",
    "I am checking our records now (ref {n}).",
    "Thank you for waiting, I am still on it (ref {n}).",
    "Could you tell me a little more about what happened (ref {n})?",
]


# ----------------------------------------------------------------------------- figures


@dataclass
class Run:
    """What one run measured."""

    name: str
    conversations: int
    seconds: float = 0.0
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    stored: int | None = None
    memory_per_conversation_kb: float | None = None
    # The machine's 1-minute load average at the end: above the core count, something
    # else was competing for the CPU and the figures are pessimistic.
    load_average: float = 0.0
    # Server CPU time over the run: per message it does not depend on what else ran.
    server_cpu_s: float = 0.0

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run": self.name,
            "conversations": self.conversations,
            "sent": self.sent,
            "replies": len(self.latencies_ms),
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "messages_per_s": round(self.sent / self.seconds, 1) if self.seconds else None,
            "load_average": round(self.load_average, 2),
            "server_cpu_ms_per_message": (
                round(self.server_cpu_s * 1000 / self.sent, 3) if self.sent else None
            ),
        }
        if self.latencies_ms:
            data.update(
                p50_ms=round(self.percentile(50), 2),
                p95_ms=round(self.percentile(95), 2),
                p99_ms=round(self.percentile(99), 2),
                max_ms=round(max(self.latencies_ms), 2),
                mean_ms=round(statistics.fmean(self.latencies_ms), 2),
            )
        if self.stored is not None:
            data["stored"] = self.stored
            data["stored_per_s"] = round(self.stored / self.seconds, 1) if self.seconds else None
        if self.memory_per_conversation_kb is not None:
            data["memory_per_conversation_kb"] = round(self.memory_per_conversation_kb, 1)
        if self.error_kinds:
            data["error_kinds"] = self.error_kinds
        return data


# ----------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_s(pid: int) -> float:
    """CPU time (user + system) of `pid` and its descendants so far, in seconds (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def rss_kb(pid: int) -> int:
    """Resident memory of `pid` and its descendants, in KiB (Linux)."""
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class Server:
    """`sandbox serve` in a child process, on 127.0.0.1 and a free port."""

    def __init__(self, database_url: str, workers: int, var_dir: Path) -> None:
        self.database_url = database_url
        self.workers = workers
        self.var_dir = var_dir
        self.secret_key = secrets.token_urlsafe(48)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "SANDBOX_DATABASE_URL": self.database_url,
            "SANDBOX_VAR_DIR": str(self.var_dir),
            "SANDBOX_SECRET_KEY": self.secret_key,
            "SANDBOX_REPLY_DELAY_S": "0",
            "SANDBOX_BENCH_ECHO": "1",
            "SANDBOX_DEMO_USERS": "false",
            "SANDBOX_HOST": "127.0.0.1",
            "SANDBOX_PORT": str(self.port),
            "SANDBOX_WORKERS": str(self.workers),
            # The chat rate limit would throttle the closed loop, which is the point of
            # that run; the open loop stays far under it anyway.
            "SANDBOX_CHAT_BURST": "10000",
            "SANDBOX_CHAT_PER_MINUTE": "60000",
        }
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.var_dir,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            with contextlib.suppress(httpx.HTTPError):
                healthy = httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200
                # With several workers, wait until every one of them has started.
                if healthy and (
                    self.workers == 1 or len(process_tree(self.process.pid)) > self.workers
                ):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /healthz in 90 s; see {self.log_path}")

    def rss_kb(self) -> int:
        assert self.process is not None
        return rss_kb(self.process.pid)

    def cpu_s(self) -> float:
        assert self.process is not None
        return cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def fresh_postgres(url: str) -> str:
    """Drop and create the bench's own PostgreSQL database; refuse any other name."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name.startswith("sandbox_bench"):
        raise SystemExit(f"--postgres-url must name a database called sandbox_bench*: {name!r}")
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


# ----------------------------------------------------------------------------- accounts


@dataclass
class Trainee:
    cookie: str
    attempts: list[int]


def make_trainees(
    database_url: str, secret_key: str, count: int, attempts_each: int, prefix: str
) -> list[Trainee]:
    """`count` trainees with login sessions and fresh attempts, through the storage API."""
    engine = make_engine(database_url)
    upgrade(engine)
    library = load_library_for_bench()
    pack = library.packs[PACK]
    scenario = pack.scenario(SCENARIO)
    password_hash = hash_password(PASSWORD)
    signer = Signer(secret_key, SESSION_MAX_AGE_S)
    trainees: list[Trainee] = []
    with Session(engine) as session:
        users = [
            User(name=f"{prefix}{i:05d}", role=Role.TRAINEE, password_hash=password_hash)
            for i in range(count)
        ]
        session.add_all(users)
        session.flush()
        for user in users:
            login = open_session(session=session, user=user, max_age_s=SESSION_MAX_AGE_S)
            attempt_ids = []
            for _ in range(attempts_each):
                attempt = start_attempt(
                    session=session,
                    user=user,
                    pack_id=pack.id,
                    pack_version=pack.version,
                    scenario_id=scenario.id,
                    time_limit_s=scenario.time_limit_s,
                    opening=scenario.opening,
                )
                assert attempt.id is not None
                attempt_ids.append(attempt.id)
            trainees.append(Trainee(signer.sign_session(login.id), attempt_ids))
        session.commit()
    engine.dispose()
    return trainees


def load_library_for_bench() -> Any:
    from sandbox.config import Settings

    return load_library(Settings(database_url="sqlite://", packs="", builtin_packs=True))


async def login_through_forms(base_url: str, database_url: str) -> Trainee:
    """One trainee made by `users import`-like storage call, then signed in through the form."""
    engine = make_engine(database_url)
    name = f"form-{secrets.token_hex(4)}"
    with Session(engine) as session:
        session.add(User(name=name, role=Role.TRAINEE, password_hash=hash_password(PASSWORD)))
        session.commit()
    engine.dispose()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        page = await client.get("/login")
        token = csrf(page.text)
        response = await client.post(
            "/login", data={"csrf_token": token, "name": name, "password": PASSWORD}
        )
        if response.status_code != 303:
            raise RuntimeError(f"login through the form failed: {response.status_code}")
        brief = await client.get(f"/scenarios/{PACK}/{SCENARIO}")
        started = await client.post(
            f"/scenarios/{PACK}/{SCENARIO}/attempts", data={"csrf_token": csrf(brief.text)}
        )
        if started.status_code != 303:
            raise RuntimeError(f"starting an attempt failed: {started.status_code}")
        attempt_id = int(started.headers["location"].rsplit("/", 1)[1])
        cookie = client.cookies.get(SESSION_COOKIE)
        assert cookie is not None
        return Trainee(cookie, [attempt_id])


def csrf(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def stored_messages(database_url: str) -> int:
    """Stored lines of turns: the trainee's and the persona's answers, not the persona's
    nudges (said on a timer, not in a turn) nor the openings of attempts."""
    engine = make_engine(database_url)
    statement = (
        select(func.count())
        .select_from(AttemptMessage)
        .where(col(AttemptMessage.kind).is_(None) | col(AttemptMessage.kind).not_in(NOT_TURNS))
    )
    with Session(engine) as session:
        count = int(session.exec(statement).one())
    engine.dispose()
    return count


# ----------------------------------------------------------------------------- sockets


class Peer:
    """One open socket: a chat conversation, or an echo socket standing in for one."""

    def __init__(self, base_url: str, trainee: Trainee | None, attempt_index: int = 0) -> None:
        self.http_url = base_url
        self.base_url = base_url.replace("http://", "ws://", 1)
        self.trainee = trainee
        self.attempt_index = attempt_index
        self.ws: ClientConnection | None = None
        self.serial = 0

    @property
    def echo(self) -> bool:
        return self.trainee is None

    async def open(self) -> None:
        if self.trainee is None:
            self.ws = await connect(self.base_url + "/bench/echo", **socket_options())
            return
        attempt_id = self.trainee.attempts[self.attempt_index]
        self.ws = await connect(
            f"{self.base_url}/attempts/{attempt_id}/ws",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.trainee.cookie}"},
            # As a browser does: the server refuses a handshake from another site's page.
            origin=Origin(self.http_url),
            **socket_options(),
        )
        await self.ws.send(json.dumps({"type": "hello", "last_seq": 1_000_000}))
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT_S)
            if 'data-synced="true"' in frame:
                return
            if 'id="notice"' in frame:
                raise RuntimeError(f"refused: {frame[:200]}")

    async def next_attempt(self) -> bool:
        """Move to the trainee's next fresh attempt; False when there is none left."""
        assert self.trainee is not None
        await self.close()
        self.attempt_index += 1
        if self.attempt_index >= len(self.trainee.attempts):
            return False
        await self.open()
        return True

    async def turn(self, run: Run) -> None:
        """Send one message and wait for its reply (and, in chat, the acknowledgement)."""
        assert self.ws is not None
        self.serial += 1
        line = LINES[self.serial % len(LINES)].format(n=f"{id(self) % 100000}-{self.serial}")
        client_id = f"b{self.serial}-{secrets.token_hex(4)}"
        payload = json.dumps({"type": "say", "text": line, "client_id": client_id})
        started = time.perf_counter()
        run.sent += 1
        await self.ws.send(payload)
        if self.echo:
            await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT_S)
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            return
        # The sender gets its own line, the ack, the persona's reply, then a frame marked
        # data-turn="done"; a refused message gets a notice instead.
        replied = False
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT_S)
            if "msg-persona" in frame and not replied:
                run.latencies_ms.append((time.perf_counter() - started) * 1000)
                replied = True
            if 'data-turn="done"' in frame:
                if not replied:
                    run.error("turn done without a reply")
                return
            if 'id="notice"' in frame and 'id="ack"' not in frame:
                run.error("notice: " + re.sub(r"<[^>]+>", "", frame).strip()[:80])
                return

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


def socket_options() -> dict[str, Any]:
    # No compression (the server does none by default), no client pings during a run.
    return {"compression": None, "ping_interval": None, "open_timeout": 60, "max_queue": None}


async def open_all(peers: list[Peer], run: Run) -> list[Peer]:
    """Open every peer, `CONNECT_CONCURRENCY` at a time; return those that opened."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened: list[Peer] = []

    async def one(peer: Peer) -> None:
        async with gate:
            try:
                await peer.open()
                opened.append(peer)
            except Exception as exc:
                run.error(f"open: {type(exc).__name__}")

    await asyncio.gather(*(one(peer) for peer in peers))
    return opened


async def close_all(peers: list[Peer]) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(peer: Peer) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await peer.close()

    await asyncio.gather(*(one(peer) for peer in peers))


async def open_loop(
    name: str, server: Server, peers: list[Peer], turns: int, interval_s: float
) -> Run:
    """Hold every peer open; each sends `turns` messages `interval_s` apart."""
    run = Run(name, len(peers))
    rss_before = server.rss_kb()
    opened = await open_all(peers, run)
    await asyncio.sleep(2.0)
    rss_after = server.rss_kb()
    if opened:
        run.memory_per_conversation_kb = (rss_after - rss_before) / len(opened)
    loop = asyncio.get_running_loop()
    begin = loop.time() + 0.5
    limit_s = turns * interval_s + REPLY_TIMEOUT_S + 10

    async def talk(index: int, peer: Peer) -> None:
        next_at = begin + interval_s * index / max(1, len(opened))
        for _ in range(turns):
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await peer.turn(run)
            except (TimeoutError, Exception) as exc:
                run.error(f"turn: {type(exc).__name__}")
                return
            next_at += interval_s

    started = time.perf_counter()
    cpu_before = server.cpu_s()
    try:
        await asyncio.wait_for(asyncio.gather(*(talk(i, p) for i, p in enumerate(opened))), limit_s)
    except TimeoutError:
        run.error("run did not finish in time")
    run.seconds = time.perf_counter() - started
    run.server_cpu_s = server.cpu_s() - cpu_before
    run.load_average = os.getloadavg()[0]
    await close_all(opened)
    return run


async def closed_loop(
    name: str, server: Server, database_url: str | None, peers: list[Peer], seconds: float
) -> Run:
    """Every peer sends its next message as soon as the last is acknowledged, for `seconds`."""
    run = Run(name, len(peers))
    opened = await open_all(peers, run)
    before = 0 if database_url is None else stored_messages(database_url)
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def talk(peer: Peer) -> None:
        turns = 0
        while loop.time() < stop_at:
            try:
                await peer.turn(run)
            except (TimeoutError, Exception) as exc:
                run.error(f"turn: {type(exc).__name__}")
                return
            turns += 1
            if peer.echo or turns % CLOSED_TURNS_PER_ATTEMPT:
                continue
            if not await peer.next_attempt():
                return

    started = time.perf_counter()
    cpu_before = server.cpu_s()
    await asyncio.wait_for(asyncio.gather(*(talk(p) for p in opened)), seconds + 60)
    run.seconds = time.perf_counter() - started
    run.server_cpu_s = server.cpu_s() - cpu_before
    run.load_average = os.getloadavg()[0]
    if database_url is not None:
        run.stored = stored_messages(database_url) - before
    await close_all(opened)
    return run


# ----------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    conversations: int
    turns: int
    interval_s: float
    closed_conversations: int
    closed_seconds: float
    rounds: int = 2  # chat and echo alternate, ABAB: both see the same machine


FULL = Plan(
    conversations=1000, turns=12, interval_s=5.0, closed_conversations=64, closed_seconds=30
)
QUICK = Plan(
    conversations=50, turns=3, interval_s=1.0, closed_conversations=8, closed_seconds=5, rounds=1
)


async def bench_server(
    label: str, server: Server, database_url: str, plan: Plan, kinds: set[str]
) -> list[Run]:
    """Every run against one started server."""
    runs: list[Run] = []
    form_trainee = await login_through_forms(server.base_url, database_url)
    closed_attempts = max(2, int(plan.closed_seconds * 2))
    # Warm up: one conversation through the form-made login, a few turns.
    warm = Peer(server.base_url, form_trainee)
    await warm.open()
    warm_run = Run("warm-up", 1)
    for _ in range(3):
        await warm.turn(warm_run)
    await warm.close()
    if warm_run.errors:
        raise RuntimeError(f"warm-up failed: {warm_run.error_kinds}")

    def fresh(count: int, attempts: int, prefix: str) -> list[Trainee]:
        made = make_trainees(database_url, server.secret_key, count, attempts, prefix)
        # The client's own collector must not pause it mid-measurement: what set-up built
        # (accounts, sessions, attempts) is frozen out of its scans, as the server does.
        gc.collect()
        gc.freeze()
        return made

    # Chat and echo alternate, A B A B (and the closed loops likewise), so that a machine
    # busier in one part of the run weighs on both; each chat round has fresh attempts.
    for n in range(plan.rounds):
        mark = f" #{n + 1}" if plan.rounds > 1 else ""
        if "chat" in kinds:
            trainees = fresh(plan.conversations, 1, f"open-{label}-{n}-")
            chat_peers = [Peer(server.base_url, t) for t in trainees]
            runs.append(
                await open_loop(
                    f"{label} chat{mark}", server, chat_peers, plan.turns, plan.interval_s
                )
            )
        if "echo" in kinds:
            echo_peers = [Peer(server.base_url, None) for _ in range(plan.conversations)]
            runs.append(
                await open_loop(
                    f"{label} echo{mark}", server, echo_peers, plan.turns, plan.interval_s
                )
            )
    for n in range(plan.rounds):
        mark = f" #{n + 1}" if plan.rounds > 1 else ""
        if "closed" in kinds:
            closed = fresh(plan.closed_conversations, closed_attempts, f"closed-{label}-{n}-")
            closed_peers = [Peer(server.base_url, t) for t in closed]
            runs.append(
                await closed_loop(
                    f"{label} closed loop{mark}",
                    server,
                    database_url,
                    closed_peers,
                    plan.closed_seconds,
                )
            )
        if "closed-echo" in kinds:
            echo_peers = [Peer(server.base_url, None) for _ in range(plan.closed_conversations)]
            runs.append(
                await closed_loop(
                    f"{label} closed-loop echo{mark}",
                    server,
                    None,
                    echo_peers,
                    plan.closed_seconds,
                )
            )
    return runs


@contextlib.contextmanager
def started_server(database_url: str, workers: int, port: int = 0) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        server = Server(database_url, workers, Path(tmp))
        if port:
            server.port = port
        try:
            server.start()
            yield server
        except BaseException:
            if server.log_path.exists():
                sys.stderr.write(server.log_path.read_text(errors="replace")[-4000:])
            raise
        finally:
            server.stop()


def configurations(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(label, database, workers) to run."""
    if args.all:
        return [
            ("sqlite", "sqlite", 1),
            ("postgres", "postgres", 1),
            ("postgres-2w", "postgres", 2),
        ]
    label = args.database if args.workers == 1 else f"{args.database}-{args.workers}w"
    return [(label, args.database, args.workers)]


def calibration_ms() -> float:
    """Milliseconds for a fixed pure-Python loop: 60 to 90 on an idle core of the machines
    this project has run on; more than the same machine's idle figure means the CPU was
    shared (other processes, a busy host) while figures were taken."""
    started = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    return (time.perf_counter() - started) * 1000


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def table(runs: list[Run]) -> str:
    header = (
        "| run | conversations | sent | errors | msg/s | stored/s | p50 ms | p95 ms | p99 ms "
        "| max ms | KB per idle socket | server CPU ms per msg | load |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    rows = [header]
    for run in runs:
        s = run.summary()
        rows.append(
            "| {run} | {conversations} | {sent} | {errors} | {rate} | {stored} | {p50} | {p95} "
            "| {p99} | {max} | {mem} | {cpu} | {load} |".format(
                run=s["run"],
                conversations=s["conversations"],
                sent=s["sent"],
                errors=s["errors"],
                rate=s.get("messages_per_s", "–"),
                stored=s.get("stored_per_s", "–"),
                p50=s.get("p50_ms", "–"),
                p95=s.get("p95_ms", "–"),
                p99=s.get("p99_ms", "–"),
                max=s.get("max_ms", "–"),
                mem=s.get("memory_per_conversation_kb", "–"),
                cpu=s["server_cpu_ms_per_message"],
                load=s["load_average"],
            )
        )
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> list[Run]:
    plan = QUICK if args.quick else FULL
    plan = Plan(
        conversations=args.conversations or plan.conversations,
        turns=args.turns or plan.turns,
        interval_s=args.interval or plan.interval_s,
        closed_conversations=args.closed_conversations or plan.closed_conversations,
        closed_seconds=args.closed_seconds or plan.closed_seconds,
        rounds=args.rounds or plan.rounds,
    )
    runs: list[Run] = []
    kinds = set(args.runs.split(","))
    if kinds - {"chat", "echo", "closed", "closed-echo"}:
        raise SystemExit("--runs takes chat, echo, closed and closed-echo, separated by commas")
    if args.url:
        host = httpx.URL(args.url).host
        if host not in ("127.0.0.1", "localhost"):
            raise SystemExit("--url must be a server on 127.0.0.1")
        if not args.database_url:
            raise SystemExit("--url needs --database-url (the server's database)")
        server = Server(args.database_url, 1, Path(tempfile.gettempdir()))
        server.port = httpx.URL(args.url).port or 80
        server.secret_key = os.environ.get("SANDBOX_SECRET_KEY", "")
        if not server.secret_key:
            raise SystemExit("--url needs the server's SANDBOX_SECRET_KEY in the environment")
        server.process = None
        server.rss_kb = lambda: 0  # type: ignore[method-assign]
        server.cpu_s = lambda: 0.0  # type: ignore[method-assign]
        return await bench_server("external", server, args.database_url, plan, kinds)
    for label, database, workers in configurations(args):
        with tempfile.TemporaryDirectory(prefix="sandbox-bench-db-") as tmp:
            if database == "sqlite":
                database_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                database_url = fresh_postgres(args.postgres_url)
            print(f"== {label}: starting the server ({workers} worker(s))", file=sys.stderr)
            with started_server(database_url, workers, args.port) as server:
                if args.print_pid and server.process is not None:
                    print(f"server pid {server.process.pid}", file=sys.stderr, flush=True)
                for run in await bench_server(label, server, database_url, plan, kinds):
                    print(json.dumps(run.summary()), file=sys.stderr)
                    runs.append(run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--all", action="store_true", help="SQLite, PostgreSQL, PostgreSQL with 2 workers"
    )
    parser.add_argument("--quick", action="store_true", help="a small run to see that it works")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--conversations", type=int, help="open-loop conversations (1000)")
    parser.add_argument("--turns", type=int, help="messages per open-loop conversation (12)")
    parser.add_argument(
        "--interval", type=float, help="seconds between one conversation's messages (5)"
    )
    parser.add_argument("--closed-conversations", type=int, help="closed-loop conversations (64)")
    parser.add_argument("--closed-seconds", type=float, help="closed-loop duration (30)")
    parser.add_argument("--url", help="a running server on 127.0.0.1 instead of starting one")
    parser.add_argument("--database-url", help="that server's database (with --url)")
    parser.add_argument(
        "--runs", default="chat,echo,closed,closed-echo", help="which runs, comma-separated"
    )
    parser.add_argument(
        "--print-pid", action="store_true", help="say the server's pid (to profile it)"
    )
    parser.add_argument(
        "--rounds", type=int, help="chat/echo rounds, alternating ABAB (2; --quick 1)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the port of the server it starts (default: free)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    before = calibration_ms()
    with runner:
        runs = runner.run(main_async(args))
    after = calibration_ms()
    print(f"Machine: {machine()}")
    print(f"Python loop calibration: {before:.0f} ms before, {after:.0f} ms after\n")
    print(table(runs))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "calibration_ms": [round(before), round(after)],
                    "runs": [r.summary() for r in runs],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
