"""/papers top latency: a period list served from the store, a whole fetch, a server's counts.

    python bench/top.py [--papers 30000] [--bookmarks 500000] [--runs 200] [--database URL]

Over a synthetic store (text from the recorded abstracts, 60 papers a day):

* ``period``: ``TopLists.period_top("month")`` while the month's list (every paper of that month,
  as Hugging Face lists it) is fresh, so it is read from the store: the common case.
* ``fetch``: the same call when the list is due again: the constructed week fixture (181 real
  items, two pages) fetched from the fake Hugging Face on 127.0.0.1, upserted and recorded.
* ``server``: ``TopLists.server_top`` for the busiest server, ``--bookmarks`` spread over 100
  servers and ``--days`` (a quarter of them in that server).

Ends with ``top: papers=… month_list=… period_p50_ms=… period_p95_ms=… fetch_p50_ms=…
bookmarks=… in_window=… server_p50_ms=… server_p95_ms=…`` (in_window: the busiest server's
bookmarks of the last 7 days, which the count reads).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from synthetic import build_database, synthetic_day, synthetic_id

from bot.hf.client import HFClient
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database, database_at, to_iso
from bot.store.papers import PaperRepo
from bot.store.top import TopListRepo
from bot.top import Period, TopLists
from tests.fakes.fake_hf import FakeHF

WEEK_FIXTURE = "daily_papers_week_2025-W40.json"
FIXTURE_WEEK_DAY = datetime(2025, 10, 1, 12, tzinfo=UTC)  # the Wednesday of 2025-W40
SERVERS = 100
BUSIEST = 1


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    for _ in range(5):
        await call()  # warm the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def add_bookmarks(db: Database, count: int, papers: int, now: datetime, *, days: int) -> None:
    rng = random.Random(5)
    rows = []
    for user in range(count):
        guild = BUSIEST if rng.random() < 0.25 else rng.randint(2, SERVERS)
        saved = now - timedelta(seconds=rng.randint(0, days * 86400))
        rows.append((user, synthetic_id(rng.randrange(papers)), to_iso(saved), guild))
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO bookmarks (user_id, paper_id, created_at, guild_id)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=30_000)
    parser.add_argument("--bookmarks", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=365, help="bookmarks spread over these days")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database", help="an empty postgresql:// database instead of SQLite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path: Path | str = args.database or Path(tmp) / "bench.db"
        await build_database(path, args.papers)
        last_day = synthetic_day(args.papers - 1)
        # A month in the middle of the store, whole; the clock stands in it.
        middle = synthetic_day(args.papers // 2)
        clock = Clock(datetime(middle.year, middle.month, middle.day, 12, tzinfo=UTC))
        month = Period.containing("month", middle)
        async with (
            database_at(path) as db,
            FakeHF() as hf,
            aiohttp.ClientSession() as session,
        ):
            papers = PaperRepo(db)
            lists = TopListRepo(db)
            month_ids = [
                paper.id
                for day in range((month.last - month.first).days + 1)
                for paper in await papers.papers_listed_on(month.first + timedelta(days=day))
            ]
            await lists.replace(month.key, month_ids, now=clock.now)
            await add_bookmarks(db, args.bookmarks, args.papers, clock.now, days=args.days)
            source = HFClient(session, hf.base_url)
            service = TopLists(source, papers, lists, BookmarkRepo(db), clock=clock)

            period = await timed(lambda: service.period_top("month"), args.runs)

            # The real week's items, fetched in their own week: a list whose papers were all
            # listed outside the asked week is refused (bot/top.py), so the clock goes there.
            hf.load_fixture_period(WEEK_FIXTURE)
            clock.now = FIXTURE_WEEK_DAY

            async def refetch() -> None:
                clock.now += timedelta(hours=1)  # due again every time
                top = await service.period_top("week")
                assert top.upstream_error is None, top.upstream_error
                assert top.total == 181

            fetch = await timed(refetch, max(args.runs // 10, 5))
            clock.now = datetime(middle.year, middle.month, middle.day, 12, tzinfo=UTC)
            server = await timed(lambda: service.server_top(BUSIEST), args.runs)
            counted = len((await service.server_top(BUSIEST)).entries)
            in_window = await db.fetchval(
                "SELECT count(*) FROM bookmarks WHERE guild_id = ? AND created_at >= ?",
                (BUSIEST, to_iso(clock.now - timedelta(days=7))),
            )

    print(f"store: {args.papers} papers up to {last_day}; month {month.key}: {len(month_ids)}")
    print(f"server {BUSIEST}: top {counted} of the last 7 days")
    print(
        f"top: papers={args.papers} month_list={len(month_ids)}"
        f" period_p50_ms={statistics.median(period):.2f}"
        f" period_p95_ms={percentile(period, 0.95):.2f}"
        f" fetch_p50_ms={statistics.median(fetch):.1f}"
        f" bookmarks={args.bookmarks} in_window={in_window}"
        f" server_p50_ms={statistics.median(server):.2f}"
        f" server_p95_ms={percentile(server, 0.95):.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
