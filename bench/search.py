"""Search latency over a synthetic database whose text comes from the recorded abstracts.

    python bench/search.py [--papers 100000] [--queries 300] [--db PATH]

Prints percentiles and ends with: search: papers=… p50_ms=… p95_ms=… db_mb=…
Target on a 2-core machine: p95 ≤ 5 ms at 100k papers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import build_database, realistic_queries

from bot.catalog import Catalog
from bot.errors import InvalidQuery
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.store.db import database_at
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo


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
    started = time.perf_counter()
    await build_database(path, args.papers)
    print(f"database ready: {args.papers} papers ({time.perf_counter() - started:.1f} s)")
    async with database_at(path) as db:
        repo = PaperRepo(db)
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        queries = realistic_queries(args.queries)
        for query in queries[:20]:  # warm the page cache
            with contextlib.suppress(InvalidQuery):
                await catalog.search(query)
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
    print(f"queries={len(values)} p50={p50:.2f} ms p95={p95:.2f} ms", end=" ")
    print(f"p99={p99:.2f} ms max={values[-1]:.2f} ms")
    print("slowest:")
    for elapsed, query, hits in sorted(timings, reverse=True)[:5]:
        print(f"  {elapsed:7.2f} ms  {hits:>3} hits  {json.dumps(query)[:70]}")
    print(f"search: papers={args.papers} p50_ms={p50:.2f} p95_ms={p95:.2f} db_mb={size_mb:.0f}")
    workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
