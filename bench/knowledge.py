"""Knowledge search speed: the bundled articles, then 5,000 generated ones.

    python bench/knowledge.py [--database-url URL] [--articles 5000] [--rounds 20]

Each query (English and Chinese, one to three words, some matching many articles, some
few, one matching none) runs `rounds` times through `sandbox.storage.knowledge.search`,
the whole path a page or the CLI takes: terms made in Python, the database's full-text
query (FTS5 on SQLite, tsvector on PostgreSQL), the rows read and the snippets made.
Prints p50, p95 and the slowest per query set. The generated articles are the bundled
ones' paragraphs shuffled into new articles, so their words and lengths are the real
ones'. Without --database-url a fresh SQLite file in a temporary folder is used; with a
PostgreSQL URL, give an empty database (the script migrates it and fills the index).
Targets: under 50 ms for the bundled set, under 200 ms with 5,000 articles.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from sandbox.knowledge.articles import BUNDLED_KNOWLEDGE, Article, load_knowledge  # noqa: E402
from sandbox.storage.database import make_engine, upgrade  # noqa: E402
from sandbox.storage.knowledge import search, sync_articles  # noqa: E402

QUERIES = [
    ("warfarin", None),
    ("ibuprofen warfarin bleeding", None),
    ("cold chain insulin", "en"),
    ("prescription", "en"),
    ("complaint escalation supervisor", None),
    ("布洛芬 华法林", None),
    ("冷链", "zh-CN"),
    ("处方药 审核", None),
    ("投诉 升级", "zh-CN"),
    ("肉毒毒素 哺乳期", None),
    ("zebra giraffe", None),
]


def generated(bundled: list[Article], count: int, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    paragraphs: dict[str, list[str]] = {}
    for a in bundled:
        paragraphs.setdefault(a.locale, []).extend(p for p in a.body.split("\n\n") if p.strip())
    out = []
    for i in range(count):
        base = bundled[i % len(bundled)]
        pool = paragraphs[base.locale]
        body = "\n\n".join(rng.sample(pool, k=min(len(pool), rng.randint(4, 9))))
        out.append(
            Article(
                id=f"gen-{i}",
                title=f"{base.title} ({i})",
                locale=base.locale,
                trade=base.trade,
                kind=base.kind,
                tags=base.tags,
                body=body,
                source="generated",
            )
        )
    return out


def measure(engine, rounds: int) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    times: list[float] = []
    with Session(engine) as session:
        for query, locale in QUERIES:  # warm the caches once
            search(session, query, locale=locale)
        for _ in range(rounds):
            for query, locale in QUERIES:
                start = time.perf_counter()
                search(session, query, locale=locale)
                times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    return statistics.median(times), p95, times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='kb-bench-')}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    bundled = load_knowledge([BUNDLED_KNOWLEDGE]).articles
    start = time.perf_counter()
    sync_articles(engine, bundled)
    print(
        f"{engine.dialect.name}: indexed {len(bundled)} bundled articles in "
        f"{time.perf_counter() - start:.2f} s"
    )
    p50, p95, worst = measure(engine, args.rounds)
    print(f"  bundled ({len(bundled)}): p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms")
    many = bundled + generated(bundled, args.articles - len(bundled))
    start = time.perf_counter()
    sync_articles(engine, many)
    print(f"  indexed {len(many)} articles in {time.perf_counter() - start:.1f} s")
    p50, p95, worst = measure(engine, args.rounds)
    print(f"  {len(many)} articles: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
