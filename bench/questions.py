"""Question banks, draws and item statistics: how long the work behind the quiz and
written-part pages takes (no server; the pure core and one SQLite query).

    python bench/questions.py [--papers 2000] [--items 50]

Prints the time to load the bundled banks, to draw a quiz and shuffle its options, to
compute an exam's item statistics over PAPERS papers of ITEMS items, and to read those
papers back from an SQLite database for the statistics page (`stat_papers`). Results in
docs/performance.md, "Question banks and item statistics".
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from sandbox.questions.loader import load_banks  # noqa: E402
from sandbox.questions.scoring import draw, option_order, select  # noqa: E402
from sandbox.questions.stats import Response, item_statistics  # noqa: E402
from sandbox.storage import questions as store  # noqa: E402
from sandbox.storage.database import make_engine, upgrade  # noqa: E402
from sandbox.storage.exams import Exam  # noqa: E402
from sandbox.storage.models import User  # noqa: E402


def timed(label: str, fn: Callable[[], object], repeat: int = 5) -> object:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:9.2f} ms (best of {repeat})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--items", type=int, default=50)
    args = parser.parse_args()
    loaded = timed("load the bundled banks", lambda: load_banks([ROOT / "question_banks"]), 3)
    bank = loaded.questions  # type: ignore[attr-defined]
    print(f"  ({len(bank)} questions)")
    pool = select(bank.values(), locale="en")

    def quiz() -> list[list[int]]:
        ids = draw(pool, 8, seed=random.randrange(2**31))
        return [option_order(bank[i], 7) for i in ids if bank[i].options]

    timed("draw a quiz of 8 and shuffle its options", quiz, 200)
    rng = random.Random(1)
    ability = [rng.random() for _ in range(args.papers)]
    hardness = [rng.random() for _ in range(args.items)]
    papers = [
        {
            f"q{i}": Response(float(rng.random() < (a + 1 - h) / 2), 1.0, str(rng.randrange(4)))
            for i, h in enumerate(hardness)
        }
        for a in ability
    ]
    timed(
        f"item statistics: {args.papers} papers x {args.items} items",
        lambda: item_statistics(papers),
        3,
    )

    folder = Path(tempfile.mkdtemp())
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        exam = Exam(name="bench", time_limit_s=60, opens_at=now, closes_at=now, rules={})
        session.add(exam)
        session.flush()
        users = [User(name=f"u{n}", password_hash="x") for n in range(args.papers)]
        session.add_all(users)
        session.flush()
        for user, paper in zip(users, papers, strict=True):
            sitting = store.QuestionSitting(
                user_id=user.id or 0,
                kind=store.WRITTEN,
                exam_id=exam.id,
                locale="en",
                selection={},
                seed=1,
                deadline_at=now,
                submitted_at=now,
                score=1.0,
                max_score=float(args.items),
            )
            session.add(sitting)
            session.flush()
            session.add_all(
                store.QuestionResponse(
                    sitting_id=sitting.id or 0,
                    position=k,
                    question_id=q,
                    points=1.0,
                    answer=int(r.choice),
                    score=r.score,
                )
                for k, (q, r) in enumerate(paper.items())
            )
        session.commit()
        exam_id = exam.id or 0
    with Session(engine) as session:
        timed(
            f"read {args.papers} marked papers back (stat_papers, SQLite)",
            lambda: store.stat_papers(session, exam_id, {}),
            3,
        )
    engine.dispose()


if __name__ == "__main__":
    main()
