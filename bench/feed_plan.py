"""Planning cost: deciding which subscriptions get which papers after each poll.

Builds a database with two recorded listing days (74 papers: today and yesterday) and N
subscriptions with realistic keyword filters (3–8 terms taken from the papers' own keywords and
title words, some of them exclusions), then measures with the real FeedService:

* ``match_us``: deciding one (subscription, paper) pair as a plan does (each paper's text
  normalised once per plan, shared by every subscription);
* ``steady_ms``: planning after a poll in which Hugging Face changed nothing (every poll plans
  every paper of the window from the store, matching each against every subscription; all of
  it is queued already);
* ``changed_ms``: planning after a poll in which every paper's upvotes moved (the worst case);
* ``stall_ms``: the longest the event loop went without running another task during such a
  plan (what a slash command or a gateway heartbeat would have waited). Matching yields every
  5 ms; what is left above that is mostly the garbage collector.

Fetching and storing the papers is not counted (``IngestService.poll`` runs before the hook).

    python bench/feed_plan.py [--subscriptions 300] [--database postgresql://…/an_empty_database]

Ends with ``feed_plan: subs=300 papers=74 match_us=… steady_ms=… changed_ms=… stall_ms=…``.

Before planning only changed papers with the cheap matcher (every poll re-checked every recent
paper, regex first, inside the write transaction), a 2-core machine printed
``match_us=145 steady_ms=3214 changed_ms=3076 stall_ms=2839`` (those two figures included the
poll's own fetch-and-store, ~10 ms); after: ``match_us≈6 steady_ms≈0.3 changed_ms≈150-190
stall_ms≈6-25``. Planning the whole window from the store every poll (papers stored by
``python -m bot fetch`` or an on-demand fetch get posted too), side by side with the version
that planned only the ids a poll changed: ``steady_ms`` 0.1 → 2.9-3.5 (reading the window's
papers) and 93-107 once nothing is remembered between polls (as now), ``changed_ms`` 133-144 →
95-103.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.feed import ChannelAccess, FeedService, wants  # noqa: E402
from bot.feed_filters import PaperText  # noqa: E402
from bot.hf.parse import parse_daily_json  # noqa: E402
from bot.ingest import IngestService  # noqa: E402
from bot.models import DailyPage, Paper  # noqa: E402
from bot.store.db import database_at  # noqa: E402
from bot.store.papers import PaperRepo  # noqa: E402
from bot.store.state import StateRepo  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "hf" / "api"
TODAY = date(2026, 6, 12)
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)


def recorded(name: str, listed: date) -> list[Paper]:
    page = parse_daily_json((FIXTURES / f"daily_papers_{name}.json").read_bytes(), listed)
    return [dataclasses.replace(paper, listed_on=(listed,)) for paper in page.papers]


class Source:
    def __init__(self, days: dict[date, list[Paper]]) -> None:
        self.days = days

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day=day, papers=tuple(self.days.get(day, ())))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def keyword_filters(papers: list[Paper], count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    vocabulary = sorted(
        {kw.lower() for paper in papers for kw in paper.ai_keywords if len(kw) <= 40}
        | {w.lower().strip(":,.") for paper in papers for w in paper.title.split() if len(w) > 4}
    )
    filters = []
    for _ in range(count):
        terms = rng.sample(vocabulary, rng.randint(3, 8))
        if rng.random() < 0.4:
            terms[-1] = "-" + terms[-1]
        filters.append(", ".join(t.replace(",", " ") for t in terms))
    return filters


class StallMeter:
    """Measures the longest gap between two runs of a task that only yields to the loop."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last)
            last = now

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def run(subscriptions: int, database: str | None) -> dict[str, float]:
    yesterday = TODAY - timedelta(days=1)
    days = {TODAY: recorded("2026-06-12", TODAY), yesterday: recorded("2025-10-03", yesterday)}
    papers = days[TODAY] + days[yesterday]
    clock_now = [datetime(2026, 6, 12, 9, tzinfo=UTC)]
    with tempfile.TemporaryDirectory() as tmp:
        async with database_at(database or Path(tmp) / "plan.db") as db:
            repo = PaperRepo(db)
            source = Source(days)
            ingest = IngestService(source, repo, StateRepo(db), clock=lambda: clock_now[0])
            feed = FeedService.open(db, repo, ingest, clock=lambda: clock_now[0])
            await feed.on_poll(await ingest.poll())
            # Subscriptions made yesterday: both days' papers are theirs to receive.
            clock_now[0] -= timedelta(days=1)
            for channel, keywords in enumerate(keyword_filters(papers, subscriptions), 1):
                await feed.subscribe(
                    channel_id=channel, guild_id=1, access=CAN_POST, keywords=keywords
                )
            clock_now[0] += timedelta(days=1)
            subs = await feed.subscriptions.all()
            await feed.on_poll(await ingest.poll())  # the first plan with these subscriptions

            started = time.perf_counter()
            texts = [PaperText.of(paper) for paper in papers]
            for subscription in subs:
                for text in texts:
                    wants(subscription, text)
            match_us = (time.perf_counter() - started) / (len(subs) * len(papers)) * 1e6

            def bump(by: int) -> None:
                for day, listed in days.items():
                    source.days[day] = [
                        dataclasses.replace(paper, upvotes=paper.upvotes + by) for paper in listed
                    ]

            report = await ingest.poll()
            started = time.perf_counter()
            await feed.on_poll(report)  # nothing changed
            steady = time.perf_counter() - started
            bump(3)
            report = await ingest.poll()
            started = time.perf_counter()
            await feed.on_poll(report)  # every paper changed
            changed = time.perf_counter() - started
            bump(6)
            report = await ingest.poll()
            with StallMeter() as meter:
                await feed.on_poll(report)
            return {
                "subs": len(subs),
                "papers": len(papers),
                "match_us": match_us,
                "steady_ms": steady * 1000,
                "changed_ms": changed * 1000,
                "stall_ms": meter.worst * 1000,
            }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=300)
    parser.add_argument(
        "--database", help="an empty PostgreSQL database's URL (default: a SQLite temp file)"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.subscriptions, args.database))
    print(
        f"feed_plan: subs={result['subs']:.0f} papers={result['papers']:.0f} "
        f"match_us={result['match_us']:.1f} steady_ms={result['steady_ms']:.1f} "
        f"changed_ms={result['changed_ms']:.0f} stall_ms={result['stall_ms']:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
