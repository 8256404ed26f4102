"""The feed with a long delivery history: /feed list, /feed status, planning and the worker.

Builds a database with ``--subscriptions`` channels in one server and ``--rows`` delivery rows
between them (default: 50 channels, 1,000,000 rows, i.e. 20,000 papers each, 50 papers listed a
day for 400 days; today's are still pending, 2 % of the rest were dropped, the others sent),
then times, with the real services (median of ``--repeat`` runs each):

* ``list_ms``: ``/feed list`` (``FeedService.list_for_guild``: every subscription's counts);
* ``status_ms``: ``/feed status`` (``FeedService.status``);
* ``queued_ms``: the outbox look-up of a poll's plan (which channels have each paper of the
  window, today and yesterday) and ``plan_ms``: the first plan after a start, which decides
  every paper of the window;
* ``due_ms``: one round of the delivery worker's queries (due channels, the next retry, one
  channel's outbox).

When the code has retention (``FeedService.prune_history``), it then prunes as the first poll
would (``prune_s``, rows left) and times the same again. Run it on the old code to compare:
the rows are written with plain SQL that both schemas accept.

    python bench/feed_list.py [--subscriptions 50] [--rows 1000000] [--repeat 5]
                              [--database postgresql://…/an_empty_database]

On a busy 2-core machine (issue 8), 1M rows, 50 subscriptions, old and new code side by side
(two runs): before (no feed indexes, no retention) ``list_ms=5839-7024 status_ms=4231-5392
queued_ms=90-116 plan_ms=66-79``; with the indexes ``list_ms=84-150 status_ms=77-86
queued_ms=6 plan_ms=15-26``; after the prune (904,050 rows deleted in 26-27 s of batches, 95,950
left) ``list_ms=4-12 status_ms=5-16 queued_ms=4-15``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.feed import FeedService  # noqa: E402
from bot.ingest import IngestService  # noqa: E402
from bot.models import DailyPage, Paper  # noqa: E402
from bot.store.db import Database, database_at, to_iso  # noqa: E402
from bot.store.papers import PaperRepo  # noqa: E402
from bot.store.state import StateRepo  # noqa: E402

GUILD = 1
TODAY = date(2026, 6, 12)
NOW = datetime(2026, 6, 12, 9, tzinfo=UTC)
PER_DAY = 50


class StoredDays:
    """A Hugging Face that lists, for each day, the papers the database has for it."""

    def __init__(self, papers: PaperRepo) -> None:
        self.papers = papers

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day=day, papers=tuple(await self.papers.papers_listed_on(day)))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def paper_id(index: int) -> str:
    return f"{24 + index // 100_000:02d}{(index // 10_000) % 12 + 1:02d}.{index % 10_000:05d}"


async def build(db: Database, subscriptions: int, rows: int) -> list[str]:
    """The history, written in a few big transactions; returns the paper ids, newest first."""
    papers = rows // subscriptions
    moment = to_iso(NOW)
    ids = [paper_id(index) for index in range(papers)]
    listed = [TODAY - timedelta(days=index // PER_DAY) for index in range(papers)]
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO papers (id, title, abstract, upvotes, first_seen_at, updated_at)"
            " VALUES (?, ?, 'An abstract about agents and diffusion.', ?, ?, ?)",
            [(pid, f"Paper {pid}", index % 97, moment, moment) for index, pid in enumerate(ids)],
        )
        await conn.executemany(
            "INSERT INTO paper_listings (paper_id, listed_on) VALUES (?, ?)",
            [(pid, day.isoformat()) for pid, day in zip(ids, listed, strict=True)],
        )
        await conn.executemany(
            "INSERT INTO subscriptions (channel_id, guild_id, since_day, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (channel, GUILD, (TODAY - timedelta(days=400)).isoformat(), moment, moment)
                for channel in range(1, subscriptions + 1)
            ],
        )
    for channel in range(1, subscriptions + 1):
        batch = []
        for index, (pid, day) in enumerate(zip(ids, listed, strict=True)):
            sent_at = to_iso(datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
            if day == TODAY:
                state, sent_at = "pending", None
            elif index % 50 == 7:
                state, sent_at = "dropped", None
            else:
                state = "sent"
            nonce = f"{channel:04d}{index:08d}"
            batch.append((channel, pid, state, nonce, sent_at or moment, sent_at))
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO outbox (kind, channel_id, paper_id, state, nonce, created_at,"
                " sent_at) VALUES ('post', ?, ?, ?, ?, ?, ?)",
                batch,
            )
    # No ANALYZE: a deployed database has no statistics until PRAGMA optimize gathers them.
    return ids


async def median_ms(call: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def measure(feed: FeedService, ingest: IngestService, window: list[str], repeat: int) -> str:
    list_ms = await median_ms(lambda: feed.list_for_guild(GUILD), repeat)
    status_ms = await median_ms(lambda: feed.status(GUILD), repeat)
    queued_ms = await median_ms(lambda: feed.outbox.queued(window), repeat)
    report = await ingest.poll()
    started = time.perf_counter()
    await feed.on_poll(report)
    plan_ms = (time.perf_counter() - started) * 1000

    async def worker_round() -> None:
        await feed.due_channels()
        await feed.next_due_at()
        await feed.outbox_for(1)

    due_ms = await median_ms(worker_round, repeat)
    return (
        f"list_ms={list_ms:.1f} status_ms={status_ms:.1f} queued_ms={queued_ms:.1f} "
        f"plan_ms={plan_ms:.1f} due_ms={due_ms:.1f}"
    )


async def run(subscriptions: int, rows: int, repeat: int, database: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with database_at(database or Path(tmp) / "feed.db") as db:
            started = time.perf_counter()
            ids = await build(db, subscriptions, rows)
            total = await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'post'")
            print(
                f"built {total} deliveries, {subscriptions} subscriptions, {len(ids)} papers "
                f"in {time.perf_counter() - started:.0f} s"
            )
            papers = PaperRepo(db)
            ingest = IngestService(StoredDays(papers), papers, StateRepo(db), clock=lambda: NOW)
            feed = FeedService.open(db, papers, ingest, clock=lambda: NOW)
            window = ids[: 2 * PER_DAY]  # today and yesterday
            print(f"feed_list: rows={total} {await measure(feed, ingest, window, repeat)}")
            prune = getattr(feed, "prune_history", None)
            if prune is None:
                return
            started = time.perf_counter()
            deleted = await prune()
            prune_s = time.perf_counter() - started
            left = await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'post'")
            print(f"pruned {deleted} rows in {prune_s:.1f} s")
            feed = FeedService.open(db, papers, ingest, clock=lambda: NOW)  # as after a restart
            print(
                f"feed_list: rows={left} after prune {await measure(feed, ingest, window, repeat)}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database", help="an empty PostgreSQL database's URL (default: a SQLite temp file)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.subscriptions, args.rows, args.repeat, args.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
