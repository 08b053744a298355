"""Chat latency with and without proctors' live monitors open, at two exam sizes.

    python bench/monitor.py                      # 500 and 5,000 candidates, SQLite
    python bench/monitor.py --sizes 500 --turns 10
    python bench/monitor.py --quick              # 100 and 1,000 candidates, few turns

For each size: a fresh SQLite file, made through the storage API: an exam open now with two
scenarios and N candidates. Every candidate but the chatting ones has one graded attempt at
the second scenario (ended, scored), so the exam holds N attempts; `--chatting` candidates
(20) have an exam conversation open at the first scenario and a login session. Their names
sort first, so they are on the monitor's first page. Then `sandbox serve` (one worker, reply
delay 0) is started on a free port (`--port` to choose one) and, alternating (ABAB, so both
see the same machine):
- **without**: the chatting candidates each send a message every `--interval` s for
  `--turns` turns; latency is from sending to the frame with the persona's reply;
- **with monitors**: the same while `--monitors` (5) proctor monitor sockets are open on the
  exam. Also measured: the monitor lag, from a message sent to the first frame of each
  monitor that holds that candidate's row afterwards, and the size of a monitor's first frame.
Server CPU per message is the server's CPU time over the run divided by messages sent.

Set PYTHONPATH to another checkout to measure it the same way (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import (
    PACK,
    SESSION_MAX_AGE_S,
    Origin,
    Peer,
    Run,
    Server,
    Signer,
    Trainee,
    connect,
    hash_password,
    load_library_for_bench,
    make_engine,
    open_session,
    socket_options,
    upgrade,
)
from sqlmodel import Session

from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import create_exam, start_exam_attempt
from sandbox.storage.models import Attempt, Mode, Role, User, utcnow
from sandbox.web.security import SESSION_COOKIE

CHAT_SCENARIO = "ibuprofen-on-warfarin"
DONE_SCENARIO = "cold-remedy-vitamin-c"
ROW = re.compile(r'id="candidate-(\d+)"')


class Seeded:
    def __init__(self, exam_id: int, proctor_cookie: str, chatting: list[tuple[int, Trainee]]):
        self.exam_id = exam_id
        self.proctor_cookie = proctor_cookie
        self.chatting = chatting  # (user id, trainee)


def seed(database_url: str, secret_key: str, size: int, chatting: int) -> Seeded:
    """The exam, its candidates, their attempts, through the storage API."""
    engine = make_engine(database_url)
    upgrade(engine)
    library = load_library_for_bench()
    pack = library.packs[PACK]
    chat = pack.scenario(CHAT_SCENARIO)
    signer = Signer(secret_key, SESSION_MAX_AGE_S)
    password = hash_password("bench password 0")
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        proctor = User(name="proctor", role=Role.PROCTOR, password_hash=password)
        users = [
            User(
                name=f"{'a-chat' if i < chatting else 'cand'}-{i:05d}",
                role=Role.TRAINEE,
                password_hash=password,
            )
            for i in range(size)
        ]
        session.add(proctor)
        session.add_all(users)
        session.flush()
        exam = create_exam(
            session=session,
            name=f"Monitor bench, {size} candidates",
            time_limit_s=3600,
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=1),
            rules=ExamRules(),
            scenarios=[(PACK, CHAT_SCENARIO), (PACK, DONE_SCENARIO)],
            candidate_ids=[u.id or 0 for u in users],
            cohort=None,
            created_by=proctor.id,
        )
        session.flush()
        assert exam.id is not None
        finished_at = now - timedelta(minutes=30)
        session.add_all(
            Attempt(
                user_id=u.id or 0,
                pack_id=PACK,
                pack_version=pack.version,
                scenario_id=DONE_SCENARIO,
                mode=Mode.EXAM,
                exam_id=exam.id,
                attempt_no=1,
                time_limit_s=3600,
                started_at=finished_at - timedelta(minutes=10),
                ended_at=finished_at,
                end_reason="completed",
                score=float(50 + (i * 7) % 50),
                band="pass",
                passed=True,
                graded_at=finished_at,
            )
            for i, u in enumerate(users[chatting:])
        )
        proctor_login = open_session(session=session, user=proctor, max_age_s=SESSION_MAX_AGE_S)
        talking: list[tuple[int, Trainee]] = []
        for user in users[:chatting]:
            attempt = start_exam_attempt(
                session=session,
                exam=exam,
                user=user,
                pack_id=PACK,
                pack_version=pack.version,
                scenario_id=chat.id,
                opening=chat.opening,
                retake=False,
                time_limit_s=3600,
                grace_s=0,
                started_at=now,
            )
            login = open_session(session=session, user=user, max_age_s=SESSION_MAX_AGE_S)
            assert attempt.id is not None and user.id is not None
            talking.append((user.id, Trainee(signer.sign_session(login.id), [attempt.id])))
        session.commit()
        seeded = Seeded(exam.id, signer.sign_session(proctor_login.id), talking)
    engine.dispose()
    return seeded


class Monitor:
    """One proctor's monitor socket: the first frame's size, then when each row arrives."""

    def __init__(self) -> None:
        self.first_frame_bytes = 0
        self.seen: dict[int, list[float]] = {}
        self.ws: object = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, base_url: str, exam_id: int, cookie: str) -> None:
        ws = await connect(
            f"{base_url.replace('http://', 'ws://', 1)}/proctor/exams/{exam_id}/monitor/ws",
            additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            origin=Origin(base_url),
            **{**socket_options(), "max_size": None},
        )
        self.ws = ws
        first = await asyncio.wait_for(ws.recv(), 120)
        self.first_frame_bytes = len(first.encode() if isinstance(first, str) else first)
        self.task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: object) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await ws.recv()  # type: ignore[attr-defined]
                at = time.perf_counter()
                for user_id in {int(m) for m in ROW.findall(frame)}:
                    self.seen.setdefault(user_id, []).append(at)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.ws is not None:
            await self.ws.close()  # type: ignore[attr-defined]


class Timed(Peer):
    """A chatting candidate that notes when each message was sent."""

    def __init__(self, base_url: str, trainee: Trainee, user_id: int) -> None:
        super().__init__(base_url, trainee)
        self.user_id = user_id
        self.sent_at: list[float] = []

    async def turn(self, run: Run) -> None:
        self.sent_at.append(time.perf_counter())
        await super().turn(run)


async def one_run(
    server: Server, seeded: Seeded, monitors: int, turns: int, interval_s: float
) -> dict[str, object]:
    name = f"{len(seeded.chatting)} chatting, {monitors} monitors"
    run = Run(name, len(seeded.chatting))
    watching = [Monitor() for _ in range(monitors)]
    for each in watching:
        await each.open(server.base_url, seeded.exam_id, seeded.proctor_cookie)
    peers = [Timed(server.base_url, t, uid) for uid, t in seeded.chatting]
    for peer in peers:
        await peer.open()
    cpu_before = server.cpu_s()
    started = time.perf_counter()

    async def talk(peer: Timed, offset: float) -> None:
        await asyncio.sleep(offset)
        for _ in range(turns):
            began = time.perf_counter()
            try:
                await peer.turn(run)
            except Exception as exc:  # a failed turn is counted, the run goes on
                run.error(type(exc).__name__)
            await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - began)))

    await asyncio.gather(*(talk(p, i * interval_s / len(peers)) for i, p in enumerate(peers)))
    await asyncio.sleep(min(3.0, interval_s * 2))  # the last monitor frames
    run.seconds = time.perf_counter() - started
    run.server_cpu_s = server.cpu_s() - cpu_before
    run.load_average = os.getloadavg()[0]
    lags: list[float] = []
    missed = 0
    for each in watching:
        for peer in peers:
            arrivals = sorted(each.seen.get(peer.user_id, []))
            for sent in peer.sent_at:
                later = [a for a in arrivals if a >= sent]
                if later:
                    lags.append((later[0] - sent) * 1000)
                else:
                    missed += 1
    for peer in peers:
        await peer.close()
    for each in watching:
        await each.close()
    summary = run.summary()
    if watching:
        lags.sort()
        summary["monitor_lag_p50_ms"] = round(lags[len(lags) // 2], 1) if lags else None
        summary["monitor_lag_p99_ms"] = (
            round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1) if lags else None
        )
        summary["monitor_lag_max_ms"] = round(lags[-1], 1) if lags else None
        summary["monitor_updates_missed"] = missed
        summary["first_frame_kb"] = round(watching[0].first_frame_bytes / 1024, 1)
    return summary


async def bench_size(args: argparse.Namespace, size: int) -> list[dict[str, object]]:
    folder = Path(tempfile.mkdtemp(prefix="sandbox-monitor-bench-"))
    database_url = f"sqlite:///{folder / 'bench.db'}"
    server = Server(database_url, 1, folder)
    if args.port:
        server.port = args.port
    began = time.perf_counter()
    seeded = seed(database_url, server.secret_key, size, args.chatting)
    print(f"seeded {size} candidates in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    server.start()
    results = []
    try:
        for monitors in [0, args.monitors] * args.rounds:  # ABAB: both see the same machine
            summary = await one_run(server, seeded, monitors, args.turns, args.interval)
            summary["candidates"] = size
            summary["monitors"] = monitors
            print(json.dumps(summary), file=sys.stderr)
            results.append(summary)
    finally:
        server.stop()
    return results


def table(results: list[dict[str, object]]) -> str:
    head = (
        "| candidates | monitors | sent | errors | p50 ms | p99 ms | server CPU ms/msg "
        "| monitor lag p50 ms | lag p99 ms | lag max ms | missed | first frame KB | load |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [head]
    for r in results:

        def cell(key: str, r: dict[str, object] = r) -> str:
            value = r.get(key)
            return "–" if value is None else str(value)

        lines.append(
            "| "
            + " | ".join(
                cell(k)
                for k in (
                    "candidates",
                    "monitors",
                    "sent",
                    "errors",
                    "p50_ms",
                    "p99_ms",
                    "server_cpu_ms_per_message",
                    "monitor_lag_p50_ms",
                    "monitor_lag_p99_ms",
                    "monitor_lag_max_ms",
                    "monitor_updates_missed",
                    "first_frame_kb",
                    "load_average",
                )
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--chatting", type=int, default=20)
    parser.add_argument("--monitors", type=int, default=5)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--interval", type=float, default=1.0, help="Seconds between messages.")
    parser.add_argument("--rounds", type=int, default=2, help="ABAB rounds per size.")
    parser.add_argument("--port", type=int, default=0, help="Port for the server (0: free).")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 candidates, 5 turns.")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.turns, args.rounds = [100, 1000], 5, 1
    results: list[dict[str, object]] = []
    for size in args.sizes:
        results += asyncio.run(bench_size(args, size))
    with open("/proc/loadavg", encoding="ascii") as load:
        print(f"load average at the end: {load.read().split()[0]} on {os.cpu_count()} cores")
    print(table(results))


if __name__ == "__main__":
    main()
