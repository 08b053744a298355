"""How long each staff page takes, and how big it is, at two exam sizes.

    python bench/staff_pages.py                    # 500 and 5,000 candidates, SQLite
    python bench/staff_pages.py --sizes 200 --requests 5
    python bench/staff_pages.py --quick            # 100 and 1,000 candidates

For each size: a fresh SQLite file, filled through the storage API's bulk path (Core
inserts of users, attempts and messages; the exam, its scenarios and candidates by
`create_exam`; each grade's verdict rows by `storage.verdicts.write_many` when the code
has that table): an exam of four scenarios of the bundled English pharmacy pack, N
candidates who each did all four (4 N attempts, 12 messages each), written scores for 90%
of them, a retake for 2% (one retake conversation each), and a second, small exam in the
same cohort. Grades are records as grading stores them: each criterion of the scenario's
rubric with a status drawn at random, its evidence, and the score those statuses give.
Every candidate has the same mentor, so the mentor's list holds every attempt.

Then `sandbox serve` (one worker) is started on a free port (`--port` to choose one), and
each page is asked for `--requests` times (after one request not counted) over real HTTP
by a signed-in proctor or mentor, one request at a time: the time to the last byte of the
body (median and p95) and the body's size. The monitor's figure is the time from opening
its WebSocket to its first frame, and the frame's size.

Pages: the proctor's exam page; the exam report; the monitor page and its first frame;
the exam's grades.csv; the cohort report; the mentor's list (first page, filtered by a
criterion missed, and a deep page: by keyset after the attempt at 3/4 of the list where
the code has it, and by `page=N` at the same depth, which is OFFSET).

Set PYTHONPATH to another checkout to measure its code the same way (before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from load import (
    PACK,
    SESSION_MAX_AGE_S,
    Origin,
    Server,
    Signer,
    calibration_ms,
    connect,
    hash_password,
    load_library_for_bench,
    machine,
    make_engine,
    open_session,
    socket_options,
    upgrade,
)
from sqlalchemy import insert, select
from sqlmodel import Session

from sandbox.evaluator.scoring import DEFAULT_BANDS, score_verdicts, verdicts_from_record
from sandbox.exams.policy import ExamRules
from sandbox.storage.exams import ExamRetake, WrittenScore, create_exam
from sandbox.storage.models import Attempt, AttemptMessage, Mode, Role, User, utcnow
from sandbox.web.security import SESSION_COOKIE

try:  # the verdict table (migration 0014); an older checkout has none
    from sandbox.storage.verdicts import write_many
except ImportError:  # pragma: no cover - measured code without it
    write_many = None  # type: ignore[assignment]

try:  # keyset pages in the mentor's list
    from sandbox.web.pagination import keyset_paginate  # noqa: F401

    KEYSET = True
except ImportError:  # pragma: no cover
    KEYSET = False

SCENARIOS = [
    "ibuprofen-on-warfarin",
    "antibiotic-no-prescription",
    "cold-remedy-vitamin-c",
    "registration-code",
]
COHORT = "bench-cohort"
BATCH = 2000
LINES = 12  # messages per conversation: the opening, then trainee and persona in turn
EVIDENCE = "I understand. Before I suggest anything, could you tell me which medicines you take?"


def record_for(scenario: Any, key: str, rng: random.Random, message: int) -> dict[str, Any]:
    """A grade record as grading stores one, statuses drawn at random."""
    criteria = []
    for criterion in scenario.rubric.criteria:
        forbidden = criterion.kind == "forbidden"
        roll = rng.random()
        if forbidden:
            status = "violated" if roll < 0.1 else ("not_applicable" if roll < 0.15 else "clear")
        else:
            status = "missed" if roll < 0.3 else ("not_applicable" if roll < 0.35 else "met")
        entry: dict[str, Any] = {"id": criterion.id, "kind": criterion.kind, "status": status}
        if forbidden:
            entry["penalty"] = criterion.effective_penalty
        else:
            entry["weight"] = criterion.effective_weight
        entry["evidence"] = (
            [{"message": message, "text": EVIDENCE}] if status in ("met", "violated") else []
        )
        entry["critical"] = criterion.critical
        entry["description"] = criterion.description
        if rng.random() < 0.03:
            entry["review"] = {"reason": "near_miss", "message": "a phrase close to the rubric's"}
        criteria.append(entry)
    record: dict[str, Any] = {
        "scenario": key,
        "criteria": criteria,
        "pass_mark": scenario.rubric.pass_mark,
        "ignored_messages": [],
        "revealed": [],
        "mood": "calm",
        "end_reason": "completed",
    }
    outcome = score_verdicts(
        verdicts_from_record(record), float(scenario.rubric.pass_mark), DEFAULT_BANDS
    )
    record.update(
        score=outcome.score,
        band=outcome.band,
        passed=outcome.passed,
        critical_missed=outcome.critical_missed,
        critical_violated=outcome.critical_violated,
        needs_review=False,
        pack_version=2,
    )
    return record


def seed(database_url: str, secret_key: str, size: int) -> dict[str, Any]:
    """The exams, candidates, attempts, messages and grades; the staff's cookies."""
    engine = make_engine(database_url)
    upgrade(engine)
    library = load_library_for_bench()
    pack = library.packs[PACK]
    scenarios = [pack.scenario(s) for s in SCENARIOS]
    rng = random.Random(size)
    signer = Signer(secret_key, SESSION_MAX_AGE_S)
    password = hash_password("bench password 0")
    now = utcnow()
    users_table = User.__table__  # type: ignore[attr-defined]
    attempts_table = Attempt.__table__  # type: ignore[attr-defined]
    messages_table = AttemptMessage.__table__  # type: ignore[attr-defined]
    with Session(engine, expire_on_commit=False) as session:
        proctor = User(name="proctor", role=Role.PROCTOR, password_hash=password)
        mentor = User(name="mentor", role=Role.MENTOR, password_hash=password)
        session.add_all([proctor, mentor])
        session.flush()
        user_ids = list(
            session.execute(
                insert(users_table).returning(users_table.c.id, sort_by_parameter_order=True),
                [
                    {
                        "name": f"cand-{i:05d}",
                        "role": str(Role.TRAINEE),
                        "locale": None,
                        "mentor_id": mentor.id,
                        "active": True,
                        "password_hash": password,
                        "created_at": now,
                    }
                    for i in range(size)
                ],
            ).scalars()
        )
        window = dict(opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1))
        exam = create_exam(
            session=session,
            name=f"Staff pages bench, {size} candidates",
            time_limit_s=900,
            rules=ExamRules(attempts_allowed=1),
            scenarios=[(PACK, s) for s in SCENARIOS],
            candidate_ids=user_ids,
            cohort=COHORT,
            created_by=proctor.id,
            **window,
        )
        small = create_exam(
            session=session,
            name="Staff pages bench, the small exam",
            time_limit_s=900,
            rules=ExamRules(),
            scenarios=[(PACK, SCENARIOS[0])],
            candidate_ids=user_ids[:50],
            cohort=COHORT,
            created_by=proctor.id,
            **window,
        )
        session.flush()
        assert exam.id is not None and small.id is not None
        retaken = set(rng.sample(user_ids, max(1, size // 50)))
        plan: list[tuple[int, int, int, bool]] = []  # (exam, user, scenario index, retake)
        for user_id in user_ids:
            plan.extend((exam.id, user_id, index, False) for index in range(len(SCENARIOS)))
            if user_id in retaken:
                plan.append((exam.id, user_id, 0, True))
        plan.extend((small.id, user_id, 0, False) for user_id in user_ids[:50])
        started = now - timedelta(days=2, hours=12)
        for start in range(0, len(plan), BATCH):
            attempts, records, lines = [], [], []
            for n, (exam_id, user_id, index, retake) in enumerate(plan[start : start + BATCH]):
                scenario = scenarios[index]
                key = f"{PACK}/{scenario.id}"
                record = record_for(scenario, key, rng, 3)
                begun = started + timedelta(seconds=(start + n) * 7)
                ended = begun + timedelta(minutes=6)
                attempts.append(
                    {
                        "user_id": user_id,
                        "pack_id": PACK,
                        "pack_version": pack.version,
                        "scenario_id": scenario.id,
                        "mode": str(Mode.EXAM),
                        "time_limit_s": 900.0,
                        "started_at": begun,
                        "ended_at": ended,
                        "end_reason": "completed",
                        "score": float(record["score"]),
                        "band": str(record["band"]),
                        "passed": bool(record["passed"]),
                        "grade": record,
                        "graded_at": ended,
                        "exam_id": exam_id,
                        "retake": retake,
                        "grace_s": 0.0,
                        "deadline_at": begun + timedelta(seconds=900),
                        "attempt_no": 1,
                        "over_limit": False,
                        "flagged": sum(1 for c in record["criteria"] if "review" in c),
                        "needs_review": False,
                        "hints_used": 0,
                    }
                )
                records.append(record)
                lines.append(
                    [
                        {
                            "seq": seq,
                            "role": "persona" if seq % 2 == 0 else "trainee",
                            "text": EVIDENCE if seq % 2 else "I need something for my cold.",
                            "at": seq * 9.5 + rng.random(),
                            "kind": ("opening" if seq == 0 else "fact")
                            if seq % 2 == 0
                            else "trainee",
                            "created_at": begun + timedelta(seconds=seq * 10),
                            "client_id": None,
                        }
                        for seq in range(LINES)
                    ]
                )
            ids = list(
                session.execute(
                    insert(attempts_table).returning(
                        attempts_table.c.id, sort_by_parameter_order=True
                    ),
                    attempts,
                ).scalars()
            )
            session.execute(
                insert(messages_table),
                [{**m, "attempt_id": i} for i, ms in zip(ids, lines, strict=True) for m in ms],
            )
            if write_many is not None:
                write_many(session, zip(ids, records, strict=True))
        written = [u for u in user_ids if rng.random() < 0.9]
        session.execute(
            insert(WrittenScore.__table__),  # type: ignore[attr-defined]
            [
                {
                    "exam_id": exam.id,
                    "user_id": u,
                    "retake": False,
                    "score": float(rng.randint(40, 100)),
                    "entered_by": proctor.id,
                    "entered_at": now - timedelta(days=1, hours=12),
                }
                for u in written
            ],
        )
        session.add_all(
            ExamRetake(
                exam_id=exam.id,
                user_id=u,
                scenarios=[f"{PACK}/{SCENARIOS[0]}"],
                granted_by=proctor.id,
                expires_at=now + timedelta(days=5),
            )
            for u in retaken
        )
        # The mentor's criterion filter: a required criterion of the first scenario.
        criterion = next(c.id for c in scenarios[0].rubric.criteria if c.kind != "forbidden")
        logins = {
            role: signer.sign_session(
                open_session(session=session, user=who, max_age_s=SESSION_MAX_AGE_S).id
            )
            for role, who in (("proctor", proctor), ("mentor", mentor))
        }
        session.commit()
        total = len(plan)
        # Three quarters down the mentor's list (newest first): a deep page, starting after
        # the attempt just above it (what the list's "next" link names).
        deep_index = ((total * 3) // 4) // 20 * 20
        deep_after = session.execute(
            select(attempts_table.c.id)
            .order_by(attempts_table.c.started_at.desc(), attempts_table.c.id.desc())
            .offset(deep_index - 1)
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return {
        "exam_id": exam.id,
        "attempts": total,
        "cookies": logins,
        "criterion": criterion,
        "deep_page": deep_index // 20 + 1,
        "deep_after": deep_after,
    }


def timed(client: httpx.Client, url: str, requests: int, server: Server) -> dict[str, Any]:
    """`requests` timed GETs after one untimed: median and p95 ms, bytes, status, and the
    server's CPU ms per request (which a busy machine inflates far less than wall time)."""
    first = client.get(url)
    cpu_before = server.cpu_s()
    samples = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        body = response.content  # read to the last byte (a streamed CSV too)
        samples.append((time.perf_counter() - began) * 1000)
    cpu_ms = (server.cpu_s() - cpu_before) * 1000 / requests
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {
        "status": first.status_code,
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(p95, 1),
        "cpu_ms": round(cpu_ms, 1),
        "kb": round(len(body) / 1024, 1),
    }


async def first_frame(base_url: str, exam_id: int, cookie: str) -> tuple[float, int]:
    """Milliseconds from opening the monitor's socket to its first frame, and its bytes."""
    began = time.perf_counter()
    ws = await connect(
        f"{base_url.replace('http://', 'ws://', 1)}/proctor/exams/{exam_id}/monitor/ws",
        additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        origin=Origin(base_url),
        **{**socket_options(), "max_size": None},
    )
    frame = await asyncio.wait_for(ws.recv(), 120)
    elapsed = (time.perf_counter() - began) * 1000
    await ws.close()
    return elapsed, len(frame.encode() if isinstance(frame, str) else frame)


def monitor_frames(server: Server, exam_id: int, cookie: str, requests: int) -> dict[str, Any]:
    asyncio.run(first_frame(server.base_url, exam_id, cookie))
    cpu_before = server.cpu_s()
    found = [asyncio.run(first_frame(server.base_url, exam_id, cookie)) for _ in range(requests)]
    cpu_ms = (server.cpu_s() - cpu_before) * 1000 / requests
    times = sorted(t for t, _ in found)
    return {
        "status": 101,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
        "cpu_ms": round(cpu_ms, 1),
        "kb": round(found[-1][1] / 1024, 1),
    }


def start(server: Server, tries: int = 3) -> None:
    """Start the server; on a machine busy enough that it misses load.py's 90 s to answer
    /healthz, stop it and try again (the figures are taken only once it answers)."""
    for attempt in range(tries):
        try:
            server.start()
            return
        except RuntimeError:
            server.stop()
            if attempt == tries - 1:
                raise
            print("the server was slow to start; trying again", file=sys.stderr)


def bench_size(args: argparse.Namespace, size: int) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="sandbox-staff-bench-"))
    database_url = f"sqlite:///{folder / 'bench.db'}"
    server = Server(database_url, 1, folder)
    if args.port:
        server.port = args.port
    began = time.perf_counter()
    seeded = seed(database_url, server.secret_key, size)
    print(
        f"seeded {size} candidates, {seeded['attempts']} attempts in "
        f"{time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    exam = seeded["exam_id"]
    proctor_pages = {
        "exam page": f"/proctor/exams/{exam}",
        "report": f"/proctor/exams/{exam}/report",
        "monitor page": f"/proctor/exams/{exam}/monitor",
        "grades.csv": f"/proctor/exams/{exam}/grades.csv",
        "cohort report": f"/proctor/cohorts/{COHORT}/report",
    }
    mentor_pages = {
        "mentor list": "/mentor/attempts",
        "mentor list, criterion missed": f"/mentor/attempts?criterion={seeded['criterion']}",
        "mentor list, deep page by number (OFFSET)": (
            f"/mentor/attempts?page={seeded['deep_page']}"
        ),
    }
    if KEYSET:
        mentor_pages["mentor list, deep page (keyset)"] = (
            f"/mentor/attempts?after={seeded['deep_after']}"
        )
    results: list[dict[str, Any]] = []
    start(server)
    try:
        for role, pages in (("proctor", proctor_pages), ("mentor", mentor_pages)):
            cookies = {SESSION_COOKIE: seeded["cookies"][role]}
            with httpx.Client(base_url=server.base_url, cookies=cookies, timeout=300) as client:
                for name, url in pages.items():
                    found = timed(client, url, args.requests, server)
                    found.update(
                        page=name,
                        candidates=size,
                        attempts=seeded["attempts"],
                        deep_page=seeded["deep_page"],
                    )
                    print(json.dumps(found), file=sys.stderr)
                    results.append(found)
        found = monitor_frames(server, exam, seeded["cookies"]["proctor"], args.requests)
        found.update(page="monitor first frame", candidates=size, attempts=seeded["attempts"])
        print(json.dumps(found), file=sys.stderr)
        results.append(found)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)  # the database and the server's log
    return results


def table(results: list[dict[str, Any]], sizes: list[int]) -> str:
    pages: list[str] = []
    for r in results:
        if r["page"] not in pages:
            pages.append(r["page"])
    by = {(r["page"], r["candidates"]): r for r in results}
    head = "| page | " + " | ".join(
        f"{n:,} cand.: median ms | p95 ms | server CPU ms | KB" for n in sizes
    )
    more = len(sizes) > 1
    head += " | × median, largest / smallest | × CPU |" if more else " |"
    columns = 4 * len(sizes) + (2 if more else 0)
    lines = [head, "| --- |" + " ---: |" * columns]

    def ratio(key: str, small: Any, large: Any) -> str:
        if small and large and small.get(key):
            return f"{large[key] / small[key]:.1f}"
        return "–"

    for page in pages:
        cells = []
        for n in sizes:
            r = by.get((page, n))
            keys = ("median_ms", "p95_ms", "cpu_ms", "kb")
            cells += ["–"] * 4 if r is None else [str(r.get(k, "–")) for k in keys]
        if more:
            small, large = by.get((page, sizes[0])), by.get((page, sizes[-1]))
            cells += [ratio("median_ms", small, large), ratio("cpu_ms", small, large)]
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--requests", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 candidates")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else args.sizes
    calibration = calibration_ms()
    results: list[dict[str, Any]] = []
    for size in sizes:
        results.extend(bench_size(args, size))
    print(f"machine: {machine()}; load {os.getloadavg()[0]:.1f}; calibration {calibration:.0f} ms")
    print(f"code: {'keyset and verdict table' if write_many else 'without the verdict table'}")
    print(table(results, sizes))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
