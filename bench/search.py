"""Search latency over a synthetic database whose text comes from the recorded abstracts.

    python bench/search.py [--papers 100000] [--queries 300] [--db PATH]

Prints percentiles and ends with: search: papers=… p50_ms=… p95_ms=… db_mb=…
Target on a 2-core machine: p95 ≤ 5 ms at 100k papers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.catalog import Catalog  # noqa: E402
from bot.errors import InvalidQuery  # noqa: E402
from bot.hf.parse import parse_daily_json  # noqa: E402
from bot.ingest import IngestService  # noqa: E402
from bot.models import DailyPage, Paper  # noqa: E402
from bot.store.db import database_at  # noqa: E402
from bot.store.papers import PaperRepo  # noqa: E402
from bot.store.state import StateRepo  # noqa: E402
from bot.summarise import split_sentences  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "hf" / "api"


def corpus() -> list[Paper]:
    papers: list[Paper] = []
    for path in sorted(FIXTURES.glob("daily_papers_*.json")):
        day = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", path.stem)[0])
        papers.extend(parse_daily_json(path.read_bytes(), day).papers)
    return papers


def synthetic(count: int, seed: int = 7) -> list[Paper]:
    """``count`` papers mixing real sentences, title words, authors and keywords."""
    rng = random.Random(seed)
    real = corpus()
    sentences = [s for paper in real for s in split_sentences(paper.abstract)]
    title_words = [w for paper in real for w in paper.title.split()]
    authors = [a for paper in real for a in paper.authors]
    keywords = [k for paper in real for k in paper.ai_keywords]
    start = date(2024, 1, 1)
    out = []
    for index in range(count):
        day = start + timedelta(days=index // 60)
        out.append(
            Paper(
                id=f"{24 + index // 100000:02d}{(index // 10000) % 10 + 1:02d}.{index % 100000:05d}",
                title=" ".join(rng.choices(title_words, k=rng.randint(6, 14))),
                abstract=" ".join(rng.choices(sentences, k=rng.randint(5, 9))),
                authors=tuple(rng.choices(authors, k=rng.randint(2, 12))),
                listed_on=(day,),
                upvotes=rng.randint(0, 200),
                ai_keywords=tuple(rng.sample(keywords, k=min(len(keywords), rng.randint(0, 8)))),
            )
        )
    return out


def realistic_queries(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    real = corpus()
    queries: list[str] = []
    for _ in range(count):
        paper = rng.choice(real)
        kind = rng.random()
        words = [w for w in paper.title.split() if len(w) > 3]
        if kind < 0.35 and paper.ai_keywords:
            queries.append(rng.choice(paper.ai_keywords))  # a keyword phrase
        elif kind < 0.6 and len(words) >= 2:
            queries.append(" ".join(rng.sample(words, 2)))  # two title words
        elif kind < 0.75 and paper.authors:
            queries.append(rng.choice(paper.authors).split()[-1])  # an author surname
        elif kind < 0.85:
            queries.append(f'"{" ".join(paper.abstract.split()[10:13])}"')  # a phrase
        elif kind < 0.95:
            queries.append(
                rng.choice(
                    [
                        "diffusion",
                        "llm agents",
                        "reasoning -vision",
                        "rl OR reinforcement",
                        "transform*",
                        "video generation",
                    ]
                )
            )
        else:
            queries.append(rng.choice(["NEAR(", '"unbalanced', "🙂", "title:llama", "a" * 300]))
    return queries


class NoSource:
    async def fetch_daily(self, day: date) -> DailyPage:
        raise RuntimeError("benchmark never fetches")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--db", type=Path, help="reuse/keep this database file")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    path = args.db or Path(workdir.name) / "bench.db"
    async with database_at(path) as db:
        repo = PaperRepo(db)
        existing = await repo.count()
        if existing < args.papers:
            started = time.perf_counter()
            papers = synthetic(args.papers)[existing:]
            now = datetime(2026, 1, 1, tzinfo=UTC)
            for offset in range(0, len(papers), 2000):
                await repo.upsert_papers(papers[offset : offset + 2000], now=now)
            await db.conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")
            await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"built {args.papers} papers in {time.perf_counter() - started:.1f} s")
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        queries = realistic_queries(args.queries)
        for query in queries[:20]:  # warm the page cache
            try:
                await catalog.search(query)
            except InvalidQuery:
                pass
        timings: list[tuple[float, str, int]] = []
        for query in queries:
            started = time.perf_counter()
            try:
                hits = len((await catalog.search(query)).hits)
            except InvalidQuery:
                hits = -1
            timings.append(((time.perf_counter() - started) * 1000, query, hits))
    size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    values = sorted(t for t, _, _ in timings)
    p50 = statistics.median(values)
    p95 = values[int(len(values) * 0.95) - 1]
    p99 = values[int(len(values) * 0.99) - 1]
    print(
        f"queries={len(values)} p50={p50:.2f} ms p95={p95:.2f} ms p99={p99:.2f} ms max={values[-1]:.2f} ms"
    )
    print("slowest:")
    for elapsed, query, hits in sorted(timings, reverse=True)[:5]:
        print(f"  {elapsed:7.2f} ms  {hits:>3} hits  {json.dumps(query)[:70]}")
    print(f"search: papers={args.papers} p50_ms={p50:.2f} p95_ms={p95:.2f} db_mb={size_mb:.0f}")
    workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
