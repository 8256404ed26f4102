"""Volume control per subscription on a real SQLite file: the daily cap (max_per_day), the first
batch of a new or long-paused subscription, and the daily digest's schedule."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.delivery import SendFailed, SentMessage
from bot.embeds import channel_digest_embed, digest_day_of
from bot.errors import InvalidInput
from bot.feed import (
    FIRST_BATCH,
    ChannelDigest,
    DigestPlan,
    FeedService,
    parse_at,
)
from bot.ingest import IngestService
from bot.models import Paper
from bot.outcomes import Action, Outcome, transient
from bot.store.db import Database
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.unit.test_delivery_engine import FakeSender, Rig
from tests.unit.test_feed_retention import listed as listed_on
from tests.unit.test_feed_service import (
    CAN_POST,
    GUILD,
    NEWS,
    TODAY,
    TODAYS,
    YESTERDAY,
    Clock,
    Source,
    World,
    drain,
    listed,
    subscribe,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def build(db: Database, clock: Clock, source: Source, zone: ZoneInfo | None = None) -> World:
    papers = PaperRepo(db)
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)

    async def lookup(guild_id: int) -> ZoneInfo:
        return zone or ZoneInfo("UTC")

    return World(
        FeedService.open(db, papers, ingest, clock=clock, zone=lookup), source, clock, ingest
    )


@pytest.fixture
async def world(db: Database) -> World:
    return build(db, Clock(datetime(2026, 6, 12, 9, 0, tzinfo=UTC)), Source())


def voted(paper: Paper, upvotes: int) -> Paper:
    return dataclasses.replace(paper, upvotes=upvotes)


A, B, C, D = TODAYS[:4]


# --- max_per_day ----------------------------------------------------------------------------


async def test_the_cap_holds_across_polls_when_upvotes_change_order(world: World) -> None:
    await subscribe(world, max_per_day=2)  # before any paper: no first batch involved
    world.set_today([voted(A, 30), voted(B, 20), voted(C, 10)])
    await world.poll()
    assert await drain(world.feed, NEWS) == [A.id, B.id]  # the day's top 2

    # C overtakes both: it is now in the day's top 2, but 2 were posted for the day already.
    world.set_today([voted(A, 31), voted(B, 21), voted(C, 90), voted(D, 80)])
    await world.poll()
    assert await drain(world.feed, NEWS) == []
    preview = await world.feed.preview(NEWS)
    reasons = {entry.paper.id: entry.verdict.reason for entry in preview.blocked}
    assert reasons[C.id] == f"day's cap of 2 reached: 2 posted or on their way for {TODAY}"
    assert {entry.paper.id for entry in preview.posted} == {A.id, B.id}
    assert preview.would_post == ()


async def test_a_paper_posts_once_it_enters_the_top_n_while_the_cap_has_room(world: World) -> None:
    await subscribe(world, max_per_day=2, min_upvotes=10)
    world.set_today([voted(A, 30), voted(B, 5), voted(C, 4)])  # only A reaches min_upvotes
    await world.poll()
    assert await drain(world.feed, NEWS) == [A.id]
    preview = await world.feed.preview(NEWS)
    assert [entry.paper.id for entry in preview.would_post] == []

    # C climbs above B and over min_upvotes: it is the day's second; B never gets in.
    world.set_today([voted(A, 30), voted(B, 12), voted(C, 40), voted(D, 1)])
    await world.poll()
    assert await drain(world.feed, NEWS) == [C.id]
    world.set_today([voted(A, 30), voted(B, 99), voted(C, 40)])
    await world.poll()
    assert await drain(world.feed, NEWS) == []  # the cap is the outbox's count, not the ranking


async def test_a_queued_post_counts_against_the_cap(world: World) -> None:
    await subscribe(world, max_per_day=1)
    world.set_today([voted(A, 30), voted(B, 20)])
    await world.poll()
    preview = await world.feed.preview(NEWS)  # A is queued, not sent yet
    (would,) = preview.would_post
    assert would.paper.id == A.id
    (blocked,) = [entry for entry in preview.blocked if entry.paper.id == B.id]
    assert blocked.verdict.reason == f"day's cap of 1 reached: 1 posted or on their way for {TODAY}"


async def test_the_cap_is_per_listing_day(world: World) -> None:
    await subscribe(world, max_per_day=1)
    world.set_today([voted(A, 30), voted(B, 20)])
    await world.poll()
    assert await drain(world.feed, NEWS) == [A.id]
    tomorrow = TODAY + timedelta(days=1)
    world.clock.advance(timedelta(days=1))
    world.source.days[tomorrow] = listed([voted(C, 7), voted(D, 3)], tomorrow)
    await world.poll()
    assert await drain(world.feed, NEWS) == [C.id]  # a new listing day, a new allowance


async def test_max_per_day_is_kept_on_resubscribe_and_zero_clears_it(world: World) -> None:
    await subscribe(world, max_per_day=3)
    await subscribe(world, keywords="agents")
    subscription = await world.feed.subscriptions.get(NEWS)
    assert subscription is not None and subscription.max_per_day == 3
    await subscribe(world, max_per_day=0)
    subscription = await world.feed.subscriptions.get(NEWS)
    assert subscription is not None and subscription.max_per_day is None


# --- the first batch ------------------------------------------------------------------------


async def test_a_new_subscription_posts_only_its_first_batch_the_rest_never(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    result = await world.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
    top = sorted(TODAYS, key=lambda p: (-p.upvotes, p.id))[:FIRST_BATCH]
    assert (result.waiting, result.held_back) == (FIRST_BATCH, len(TODAYS) - FIRST_BATCH)
    assert await drain(world.feed, NEWS) == [paper.id for paper in top]
    await world.poll()  # the others are not planned again
    assert await drain(world.feed, NEWS) == []
    preview = await world.feed.preview(NEWS)
    assert len(preview.dropped) == len(TODAYS) - FIRST_BATCH
    assert all("/papers today" in (e.delivery.error or "") for e in preview.dropped if e.delivery)

    # A paper listed later is posted as usual.
    late = dataclasses.replace(TODAYS[0], id="2606.99999", title="A late paper")
    world.set_today([*TODAYS, late])
    await world.poll()
    assert await drain(world.feed, NEWS) == [late.id]


async def test_a_long_pause_resumes_with_the_first_batch_a_short_one_with_everything(
    world: World,
) -> None:
    await subscribe(world)
    await subscribe(world, channel=12)
    world.set_today(TODAYS[:12])  # planned by a poll: not a first batch
    await world.poll()
    for channel in (NEWS, 12):
        await world.feed.record_forbidden(channel, ["Embed Links"])
    world.clock.advance(timedelta(minutes=30))
    await subscribe(world, channel=12)  # a short pause: all 12 waited and go out
    world.clock.advance(timedelta(hours=7))
    result = await world.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
    assert result.resumed and result.waiting == FIRST_BATCH
    top = sorted(TODAYS[:12], key=lambda p: (-p.upvotes, p.id))[:FIRST_BATCH]
    assert await drain(world.feed, NEWS) == [paper.id for paper in top]
    assert len(await drain(world.feed, 12)) == 12


# --- digests --------------------------------------------------------------------------------


async def digest_rows(world: World) -> list[tuple[int, str, str]]:
    rows = await world.feed.outbox.db.fetchall(
        "SELECT channel_id, day, state FROM outbox WHERE kind = 'digest' ORDER BY id"
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_digest_is_queued_once_when_its_time_passes_covering_the_settled_day(
    world: World,
) -> None:
    world.source.days[YESTERDAY] = listed([voted(A, 30), voted(B, 20), voted(C, 10)], YESTERDAY)
    world.set_today([voted(D, 99)])
    await world.poll()
    await subscribe(world, mode="digest", at="10:30", max_per_day=2)
    assert await drain(world.feed, NEWS) == []  # no posts in digest mode
    assert await world.feed.schedule_digests() == datetime(2026, 6, 12, 10, 30, tzinfo=UTC)
    assert await digest_rows(world) == []

    world.clock.advance(timedelta(hours=1, minutes=29))
    assert await world.feed.next_digest_at() == datetime(2026, 6, 12, 10, 30, tzinfo=UTC)
    assert await digest_rows(world) == []
    world.clock.advance(timedelta(minutes=1))  # 10:30: the engine's timer queues it
    tomorrow = datetime(2026, 6, 13, 10, 30, tzinfo=UTC)
    assert await world.feed.next_digest_at() == tomorrow
    assert await digest_rows(world) == [(NEWS, "2026-06-12", "pending")]
    assert await world.feed.schedule_digests() == tomorrow
    assert await world.feed.schedule_digests() == tomorrow
    await world.poll()
    assert await digest_rows(world) == [(NEWS, "2026-06-12", "pending")]

    (digest,) = (await world.feed.outbox_for(NEWS)).digests
    assert digest.plan.covers == YESTERDAY  # the latest day fetched whole before today
    assert [paper.id for paper, _ in digest.entries] == [A.id, B.id]
    assert digest.plan.matched == 3
    assert all(sentence for _, sentence in digest.entries)
    embed = channel_digest_embed(digest)
    assert digest_day_of(embed.footer.text) == TODAY
    assert "+1 more" in (embed.description or "")

    # Sent; a restart (a new service on the same file) queues nothing more that day.
    assert await world.feed.begin(digest.row)
    await world.feed.record_notice_sent(digest.row, 4242)
    restarted = build(world.feed.outbox.db, world.clock, world.source)
    await restarted.feed.schedule_digests()
    assert await digest_rows(restarted) == [(NEWS, "2026-06-12", "sent")]


async def test_a_digest_follows_the_servers_time_zone(db: Database) -> None:
    # 09:00 in Tokyo is midnight UTC: the digest is for Tokyo's new day.
    clock = Clock(datetime(2026, 6, 11, 23, 59, tzinfo=UTC))
    source = Source()
    source.days[YESTERDAY] = listed([voted(A, 30)], YESTERDAY)
    world = build(db, clock, source, zone=TOKYO)
    await world.poll()
    await subscribe(world, mode="digest", at="09:00")
    assert await digest_rows(world) == []
    clock.advance(timedelta(minutes=1))
    await world.feed.schedule_digests()
    assert await digest_rows(world) == [(NEWS, "2026-06-12", "pending")]
    (digest,) = (await world.feed.outbox_for(NEWS)).digests
    assert digest.plan.covers == YESTERDAY


async def test_an_empty_day_posts_one_line(world: World) -> None:
    world.source.days[YESTERDAY] = listed([voted(A, 30)], YESTERDAY)
    await world.poll()
    await subscribe(world, mode="digest", at="08:00", keywords="no-such-topic-anywhere")
    await world.feed.schedule_digests()
    (digest,) = (await world.feed.outbox_for(NEWS)).digests
    assert digest.entries == ()
    embed = channel_digest_embed(digest)
    assert embed.description == "No papers listed on Thu 2026-06-11 matched this channel's filters."


def test_digest_plans_round_trip_through_the_outbox_body() -> None:
    plan = DigestPlan(covers=YESTERDAY, paper_ids=("a", "b"), matched=7, filters="any paper")
    assert DigestPlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize("text", ["25:00", "9", "09:60", "noon", "09:00:30"])
def test_at_must_be_a_time_of_day(text: str) -> None:
    with pytest.raises(InvalidInput, match="HH:MM"):
        parse_at(text)


def test_at_accepts_a_short_hour() -> None:
    assert parse_at("9:05") == "09:05"


async def test_at_needs_digest_mode(world: World) -> None:
    with pytest.raises(InvalidInput, match="mode: digest"):
        await subscribe(world, at="09:00")
    await subscribe(world, mode="digest")
    subscription = await world.feed.subscriptions.get(NEWS)
    assert subscription is not None and subscription.digest_at == "09:00"
    await subscribe(world, at="18:30")  # digest mode is kept
    subscription = await world.feed.subscriptions.get(NEWS)
    assert subscription is not None and (subscription.mode, subscription.digest_at) == (
        "digest",
        "18:30",
    )


async def test_switching_from_a_digest_to_posts_starts_with_the_first_batch(world: World) -> None:
    await subscribe(world, mode="digest", at="23:00")  # not due today yet
    world.set_today(TODAYS)
    await world.poll()
    assert await drain(world.feed, NEWS) == []
    result = await world.feed.subscribe(
        channel_id=NEWS, guild_id=GUILD, access=CAN_POST, mode="posts"
    )
    assert (result.waiting, result.held_back) == (FIRST_BATCH, len(TODAYS) - FIRST_BATCH)


# --- digests through the engine -----------------------------------------------------------


class DigestSender(FakeSender):
    """The engine tests' fake Sender, taking digests too (``digest_failures`` in order)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.digests: list[tuple[int, date, str, tuple[str, ...]]] = []
        self.digest_failures: list[Outcome] = []

    async def digest(self, channel_id: int, digest: ChannelDigest, nonce: str) -> SentMessage:
        if self.digest_failures:
            raise SendFailed(self.digest_failures.pop(0))
        entries = tuple(paper.id for paper, _ in digest.entries)
        self.digests.append((channel_id, digest.day, nonce, entries))
        self.next_id += 1
        return SentMessage(self.next_id)


@pytest.fixture
async def digest_rig(db: Database) -> AsyncIterator[Rig]:
    rig = Rig(db)
    rig.sender = DigestSender(db)
    rig.engine.sender = rig.sender
    rig.feed.retry_base = timedelta(0)
    yesterday = rig.clock.now.date() - timedelta(days=1)
    rig.source.days[yesterday] = listed_on(rig.papers, yesterday)
    await rig.feed.subscribe(
        channel_id=NEWS, guild_id=GUILD, access=CAN_POST, mode="digest", at="10:00"
    )
    await rig.start()
    yield rig
    await rig.engine.stop()


async def test_the_engine_posts_a_due_digest_once_retrying_with_its_nonce(
    digest_rig: Rig,
) -> None:
    rig = digest_rig
    sender = rig.sender
    assert isinstance(sender, DigestSender)
    sender.digest_failures = [transient("503 Service Unavailable")]
    await rig.settle()
    assert sender.digests == [] and sender.posted == []  # 09:00: not yet, and never posts
    await rig.later(hours=1)  # 10:00: due; the first attempt fails and is retried
    ((channel, day, nonce, entries),) = sender.digests
    assert (channel, day) == (NEWS, rig.clock.now.date())
    assert entries == tuple(p.id for p in sorted(rig.papers, key=lambda p: (-p.upvotes, p.id)))
    assert await rig.db.fetchval("SELECT nonce FROM outbox WHERE kind = 'digest'") == nonce
    await rig.later(hours=5)
    assert len(sender.digests) == 1


async def test_a_digest_discord_rejects_is_dropped_not_made_again_that_day(
    digest_rig: Rig,
) -> None:
    rig = digest_rig
    sender = rig.sender
    assert isinstance(sender, DigestSender)
    sender.digest_failures = [Outcome(Action.DROP, "400 Bad Request (50035)")]
    await rig.later(hours=1)
    await rig.later(hours=1)
    assert sender.digests == []
    rows = await rig.db.fetchall("SELECT state, last_error FROM outbox WHERE kind = 'digest'")
    assert [tuple(row) for row in rows] == [("dropped", "400 Bad Request (50035)")]
    await rig.later(hours=24)  # the next day has its own digest
    assert len(sender.digests) == 1


async def test_a_forum_takes_no_digest(world: World) -> None:
    with pytest.raises(InvalidInput, match="text channel for `mode: digest`"):
        await subscribe(world, forum=True, mode="digest")
    assert await world.feed.subscriptions.get(NEWS) is None
