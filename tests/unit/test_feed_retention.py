"""The feed at scale: every outbox query uses an index, and retention keeps what /feed list shows.

Retention deletes sent and dropped deliveries once they and their paper's latest listing are
older than HISTORY_KEPT; /feed list must show the same counts before and after, after a restart
too, and nothing may be posted again.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Awaitable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.feed import HISTORY_KEPT, PRUNE_EVERY, ChannelAccess, FeedService
from bot.ingest import MAX_CATCH_UP_DAYS, IngestService
from bot.models import DailyPage, Paper
from bot.store.db import Database, database_at, to_iso
from bot.store.feed import SubscriptionRepo, SubscriptionStats
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

GUILD = 1000
NEWS, ROBOTS, QUIET = 11, 12, 13
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
LATER = START + HISTORY_KEPT + timedelta(days=10)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Source:
    def __init__(self) -> None:
        self.days: dict[date, list[Paper]] = {}

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day=day, papers=tuple(self.days.get(day, ())))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def listed(papers: Sequence[Paper], day: date) -> list[Paper]:
    return [dataclasses.replace(paper, listed_on=(day,)) for paper in papers]


@dataclasses.dataclass
class World:
    db: Database
    feed: FeedService
    source: Source
    clock: Clock
    ingest: IngestService
    message_ids: int = 900_000  # the last message id Discord gave

    async def poll(self) -> None:
        await self.feed.on_poll(await self.ingest.poll())

    async def drain(self, channel: int) -> list[str]:
        """Pretend Discord accepts everything due for ``channel``."""
        sent: list[str] = []
        while outbox := await self.feed.outbox_for(channel):
            for notice in outbox.notices:
                assert await self.feed.begin(notice)
                self.message_ids += 1
                await self.feed.record_notice_sent(notice, self.message_ids)
            for delivery, paper in outbox.deliveries:
                assert await self.feed.begin(delivery)
                self.message_ids += 1
                await self.feed.record_sent(delivery, paper, self.message_ids)
                sent.append(paper.id)
        return sent


@pytest.fixture
async def world(db: Database) -> World:
    clock = Clock(START)
    source = Source()
    papers = PaperRepo(db)
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)
    return World(db, FeedService.open(db, papers, ingest, clock=clock), source, clock, ingest)


def shown(stats: Sequence[SubscriptionStats]) -> list[tuple[int, int, int, datetime | None]]:
    """What /feed list shows of each subscription's history."""
    return [(s.subscription.channel_id, s.delivered, s.pending, s.last_sent_at) for s in stats]


async def delivery_rows(db: Database) -> int:
    return int(await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'post'"))


def test_history_outlives_every_poll_window() -> None:
    # A pruned paper must never be planned again: planning reaches back at most a week.
    assert timedelta(days=MAX_CATCH_UP_DAYS + 2) < HISTORY_KEPT


async def test_pruning_keeps_the_counts_feed_list_shows_and_never_posts_again(
    world: World, tmp_path: Path
) -> None:
    feed = world.feed
    old_papers = listed(fixture_papers("daily_papers_2025-10-03"), START.date())
    world.source.days[START.date()] = old_papers
    for channel in (NEWS, ROBOTS, QUIET):
        await feed.subscribe(channel_id=channel, guild_id=GUILD, access=CAN_POST)
    await world.poll()
    first_sent = await world.drain(NEWS)
    await world.drain(QUIET)
    # ROBOTS: one delivery Discord refused, the rest still waiting (a paused channel, say).
    waiting = (await feed.outbox_for(ROBOTS, limit=len(old_papers))).deliveries
    (refused,) = [delivery for delivery, _ in waiting if delivery.paper_id == old_papers[0].id]
    await feed.outbox.drop(refused, error="refused")
    old_post = await feed.posts.get(900_001)
    assert old_post is not None

    # Forty days on: a new day is posted, and one old paper is listed again five days ago.
    world.clock.now = LATER
    today = LATER.date()
    world.source.days = {today: listed(fixture_papers("daily_papers_2026-06-12")[:5], today)}
    relisted = dataclasses.replace(old_papers[1], listed_on=(today - timedelta(days=5),))
    await feed.papers.upsert_papers([relisted], now=LATER)
    await world.poll()
    recent_sent = await world.drain(NEWS)
    assert await world.drain(QUIET) == recent_sent
    assert recent_sent and first_sent
    before = shown(await feed.list_for_guild(GUILD))
    rows_before = await delivery_rows(world.db)

    deleted = await feed.prune_history()

    # NEWS and QUIET's sent rows but the relisted paper's, and ROBOTS' dropped one.
    assert deleted == 2 * (len(old_papers) - 1) + 1
    assert await delivery_rows(world.db) == rows_before - deleted
    assert shown(await feed.list_for_guild(GUILD)) == before
    status = await feed.status(GUILD)
    assert status.pending == sum(pending for _, _, pending, _ in before) > 0
    # Kept: what may still be planned or sent, and the posts that reactions resolve through.
    news = await feed.outbox.states_for(NEWS, [p.id for p in old_papers] + recent_sent)
    assert set(news) == {relisted.id, *recent_sent}
    robots = await feed.outbox.states_for(ROBOTS, [p.id for p in old_papers])
    assert set(robots) == {p.id for p in old_papers[1:]}  # pending, however old
    assert {state.state for state in robots.values()} == {"pending"}
    assert await feed.posts.get(old_post.message_id) == old_post

    # Nothing pruned comes back: polls plan the window only, and the walk is done.
    await world.poll()
    assert await world.drain(NEWS) == []
    assert await world.drain(QUIET) == []
    assert await feed.prune_history() == 0  # too soon: at most every PRUNE_EVERY
    world.clock.now += PRUNE_EVERY
    assert await feed.prune_history() == 0  # nothing left to prune
    assert shown(await feed.list_for_guild(GUILD)) == before

    # A restart reads the same counts from the file (PostgreSQL's server keeps its own).
    if world.db.dialect == "sqlite":
        async with database_at(tmp_path / "papers.db") as reopened:
            assert shown(await SubscriptionRepo(reopened).stats_for_guild(GUILD)) == before


async def test_old_thread_rows_are_pruned_with_their_posts_and_never_reopened(
    world: World,
) -> None:
    feed = world.feed
    papers = listed(fixture_papers("daily_papers_2025-10-03")[:3], START.date())
    world.source.days[START.date()] = papers
    await feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST, thread=True)
    await world.poll()
    opened = 0
    while outbox := await feed.outbox_for(NEWS):
        for delivery, paper in outbox.deliveries:
            assert await feed.begin(delivery)
            world.message_ids += 1
            await feed.record_sent(delivery, paper, world.message_ids)
        for thread, _ in outbox.threads:
            assert await feed.begin(thread)
            await feed.record_thread_created(thread, thread.message_id)
            opened += 1
    assert opened == len(papers)
    before = shown(await feed.list_for_guild(GUILD))

    world.clock.now = LATER
    world.source.days = {}
    await world.poll()
    assert await feed.prune_history() == 2 * len(papers)  # each post and its thread's row
    assert await world.db.fetchval("SELECT count(*) FROM outbox") == 0
    assert shown(await feed.list_for_guild(GUILD)) == before  # threads are not deliveries
    await world.poll()
    assert not await feed.outbox_for(NEWS)


async def test_unsubscribing_and_subscribing_again_keeps_the_pruned_count(world: World) -> None:
    feed = world.feed
    papers = listed(fixture_papers("daily_papers_2024-08-01"), START.date())
    world.source.days[START.date()] = papers
    await feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
    await world.poll()
    sent = await world.drain(NEWS)
    world.clock.now = LATER
    await feed.unsubscribe(NEWS)
    assert await feed.prune_history() == len(sent)

    await feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)

    (stats,) = await feed.list_for_guild(GUILD)
    assert stats.delivered == len(sent)
    assert stats.last_sent_at == START


# --- query plans ------------------------------------------------------------------------------

CHANNELS = 20
DAYS = 60
PAPERS_PER_DAY = 10
TODAY = date(2026, 6, 12)
FEED_TABLE = re.compile(r"^(SCAN|SEARCH) (o|outbox)\b")


async def large_history(db: Database, *, analyzed: bool) -> list[str]:
    """CHANNELS subscriptions with DAYS days of history (mostly sent; a few dropped, some still
    pending), written directly: the repositories would take minutes to build it row by row."""
    moment = to_iso(datetime(2026, 6, 12, 9, tzinfo=UTC))
    ids: list[str] = []
    listings: list[tuple[str, str]] = []
    for day_index in range(DAYS):
        day = TODAY - timedelta(days=day_index)
        for n in range(PAPERS_PER_DAY):
            paper_id = f"26{day_index // 30 + 1:02d}.{day_index * 100 + n:05d}"
            ids.append(paper_id)
            listings.append((paper_id, day.isoformat()))
    await db.conn.executemany(
        "INSERT INTO papers (id, title, abstract, first_seen_at, updated_at)"
        " VALUES (?, 'A title', 'An abstract.', ?, ?)",
        [(paper_id, moment, moment) for paper_id in ids],
    )
    await db.conn.executemany("INSERT INTO paper_listings VALUES (?, ?)", listings)
    await db.conn.executemany(
        "INSERT INTO subscriptions (channel_id, guild_id, since_day, created_at, updated_at)"
        " VALUES (?, ?, '2026-01-01', ?, ?)",
        [(channel, GUILD, moment, moment) for channel in range(1, CHANNELS + 1)],
    )
    rows = []
    for channel in range(1, CHANNELS + 1):
        for index, paper_id in enumerate(ids):
            state = "pending" if index < 5 else "dropped" if index % 50 == 0 else "sent"
            sent_at = moment if state == "sent" else None
            rows.append((channel, paper_id, state, f"{channel}-{paper_id}", moment, sent_at))
    await db.conn.executemany(
        "INSERT INTO outbox (kind, channel_id, paper_id, state, nonce, created_at, sent_at)"
        " VALUES ('post', ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if analyzed:
        await db.conn.execute("ANALYZE")  # plans as they are once PRAGMA optimize has run
    return ids


@pytest.mark.parametrize("analyzed", [False, True], ids=["fresh", "analyzed"])
async def test_every_feed_query_reads_the_outbox_through_an_index(
    sqlite_db: Database, analyzed: bool
) -> None:
    db = sqlite_db
    ids = await large_history(db, analyzed=analyzed)
    clock = Clock(datetime(2026, 6, 12, 9, tzinfo=UTC))
    papers = PaperRepo(db)
    ingest = IngestService(Source(), papers, StateRepo(db), clock=clock)
    feed = FeedService.open(db, papers, ingest, clock=clock)
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)

    async def traced(call: Awaitable[object]) -> list[str]:
        start = len(statements)
        await call
        return [sql for sql in statements[start:] if "outbox" in sql]

    listing = await traced(feed.list_for_guild(GUILD))
    status = await traced(feed.status(GUILD))
    others = [
        *await traced(feed.outbox.queued(ids[:300])),
        *await traced(feed.outbox.queued(ids[:300], channel_id=3)),
        *await traced(feed.due_channels()),
        *await traced(feed.next_due_at(busy=[1, 2])),
        *await traced(feed.outbox_for(3)),
        *await traced(feed.outbox.pending_for_channel(3)),
        *await traced(feed.outbox.states_for(3, ids[:30])),
        *await traced(feed.on_poll(await ingest.poll())),
        *await traced(feed.prune_history()),
        *await traced(feed.unsubscribe(4)),
        *await traced(feed.subscribe(channel_id=5, guild_id=GUILD, access=CAN_POST, keywords="x")),
    ]
    await db.conn.set_trace_callback(None)
    assert listing and status and len(others) >= 10

    async def plan(sql: str) -> list[str]:
        rows = await db.fetchall("EXPLAIN QUERY PLAN " + sql)
        return [row["detail"] for row in rows if FEED_TABLE.match(row["detail"])]

    for sql in listing + status + others:
        for step in await plan(sql):
            assert step.startswith("SEARCH"), f"full scan of the outbox: {step} in {sql[:300]}"
    # /feed list and /feed status count from the index alone, never reading outbox rows.
    for sql in listing + status:
        for step in await plan(sql):
            assert "COVERING INDEX" in step, f"{step} in {sql[:300]}"


async def test_a_prune_that_failed_is_tried_again_at_the_next_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = world.feed
    world.source.days[START.date()] = listed(
        fixture_papers("daily_papers_2025-10-03")[:3], START.date()
    )
    await feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
    await world.poll()
    assert len(await world.drain(NEWS)) == 3
    world.clock.now = LATER
    prune = feed.outbox.prune_history

    async def locked(**_: object) -> object:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(feed.outbox, "prune_history", locked)
    with pytest.raises(sqlite3.OperationalError):
        await feed.prune_history()
    monkeypatch.setattr(feed.outbox, "prune_history", prune)
    assert await feed.prune_history() == 3  # not held back for PRUNE_EVERY by the failure
