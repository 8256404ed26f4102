"""FeedService on a real SQLite file: subscriptions, the outbox, failures, outages, live upvotes."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot import feed_filters
from bot.errors import InvalidInput, UpstreamError
from bot.feed import (
    EDIT_MIN_INTERVAL,
    FIRST_BATCH,
    MAX_ATTEMPTS_AFTER_ERROR,
    OUTAGE_NOTICE_AFTER,
    ChannelAccess,
    FeedService,
    MissingChannelAccess,
    NotSubscribed,
    changed_meaningfully,
    new_nonce,
    retry_delay,
)
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.outcomes import NOT_FOUND_ATTEMPTS, Action, Outcome, read_answer, transient
from bot.shards import ShardSet, shard_of
from bot.store.db import Database
from bot.store.feed import SubscriptionRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

TODAY = date(2026, 6, 12)
YESTERDAY = TODAY - timedelta(days=1)
GUILD = 1000
NEWS, ROBOTS, OTHER_GUILD_CHANNEL = 11, 12, 21
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Source:
    """A PaperSource that serves what the test put in ``days`` or fails with ``error``."""

    def __init__(self) -> None:
        self.days: dict[date, list[Paper]] = {}
        self.error: str | None = None

    async def fetch_daily(self, day: date) -> DailyPage:
        if self.error:
            raise UpstreamError(self.error)
        return DailyPage(day=day, papers=tuple(self.days.get(day, ())))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def listed(papers: Sequence[Paper], day: date) -> list[Paper]:
    return [dataclasses.replace(paper, listed_on=(day,)) for paper in papers]


TODAYS = fixture_papers("daily_papers_2026-06-12")  # 35 papers, many about agents
OLDER = listed(fixture_papers("daily_papers_2025-10-03"), YESTERDAY)


@dataclasses.dataclass
class World:
    feed: FeedService
    source: Source
    clock: Clock
    ingest: IngestService

    async def poll(self) -> None:
        await self.feed.on_poll(await self.ingest.poll())

    def set_today(self, papers: Sequence[Paper]) -> None:
        self.source.days[TODAY] = list(papers)


def make_world(db: Database) -> World:
    clock = Clock(datetime(2026, 6, 12, 9, 0, tzinfo=UTC))
    source = Source()
    papers = PaperRepo(db)
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)
    feed = FeedService.open(db, papers, ingest, clock=clock)
    return World(feed, source, clock, ingest)


@pytest.fixture
async def world(db: Database) -> World:
    return make_world(db)


async def subscribe(world: World, channel: int = NEWS, **options: object) -> None:
    await world.feed.subscribe(
        channel_id=channel,
        guild_id=GUILD if channel != OTHER_GUILD_CHANNEL else 2000,
        access=CAN_POST,
        **options,  # type: ignore[arg-type]
    )


async def drain(feed: FeedService, channel: int) -> list[str]:
    """Pretend Discord accepts everything due for ``channel``; the paper ids in send order."""
    sent: list[str] = []
    message_id = 900_000 + channel * 1000
    while outbox := await feed.outbox_for(channel):
        for notice in outbox.notices:
            assert await feed.begin(notice)
            message_id += 1
            await feed.record_notice_sent(notice, message_id)
        for delivery, paper in outbox.deliveries:
            assert await feed.begin(delivery)
            message_id += 1
            await feed.record_sent(delivery, paper, message_id)
            sent.append(paper.id)
    return sent


def test_nonces_fit_discords_limit_and_do_not_repeat() -> None:
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(len(nonce) <= 25 for nonce in nonces)


async def test_subscribing_refuses_a_channel_where_the_bot_cannot_post_embeds(
    world: World,
) -> None:
    no_embeds = ChannelAccess(view_channel=True, send_messages=True, embed_links=False)
    with pytest.raises(MissingChannelAccess, match="missing Embed Links there"):
        await world.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=no_embeds)
    blind = ChannelAccess(view_channel=False, send_messages=False, embed_links=False)
    with pytest.raises(MissingChannelAccess, match="View Channel, Send Messages and Embed Links"):
        await world.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=blind)
    assert await world.feed.list_for_guild(GUILD) == []


async def test_bad_filters_are_refused_before_anything_is_saved(world: World) -> None:
    with pytest.raises(InvalidInput):
        await subscribe(world, keywords="agents, -")
    assert await world.feed.list_for_guild(GUILD) == []


async def test_a_new_subscription_gets_todays_matching_papers_but_no_history(world: World) -> None:
    world.source.days[YESTERDAY] = OLDER
    world.set_today(TODAYS)
    await world.poll()  # papers stored before anyone subscribed

    await subscribe(world, keywords="agents", min_upvotes=30)

    expected = [p.id for p in sorted(TODAYS, key=lambda p: (-p.upvotes, p.id)) if p.upvotes >= 30]
    sent = await drain(world.feed, NEWS)
    wanted = world.feed.subscriptions.get
    subscription = await wanted(NEWS)
    assert subscription is not None
    assert subscription.since_day == TODAY
    assert sent  # some of today's agent papers…
    assert set(sent) <= set(expected)  # …only today's, only above the bar…
    assert [p for p in expected if p in sent] == sent  # …most upvoted first
    assert not set(sent) & {p.id for p in OLDER}  # and nothing from yesterday


async def test_each_poll_queues_each_matching_paper_once_per_channel(world: World) -> None:
    await subscribe(world, NEWS)
    await subscribe(world, ROBOTS, keywords="robot, embodied")
    world.set_today(TODAYS[:10])
    await world.poll()
    first_news = await drain(world.feed, NEWS)
    first_robots = await drain(world.feed, ROBOTS)
    assert sorted(first_news) == sorted(p.id for p in TODAYS[:10])
    assert set(first_robots) < set(first_news)

    world.set_today(TODAYS)  # the day fills in; the first ten are listed again
    await world.poll()
    await world.poll()
    second_news = await drain(world.feed, NEWS)
    second_robots = await drain(world.feed, ROBOTS)
    assert sorted(second_news) == sorted(p.id for p in TODAYS[10:])
    assert set(second_robots) <= set(second_news)
    assert not set(first_robots) & set(second_robots)


async def test_a_paper_that_reaches_min_upvotes_later_is_posted_then(world: World) -> None:
    quiet = dataclasses.replace(TODAYS[0], upvotes=3)
    world.set_today([quiet])
    await subscribe(world, min_upvotes=10)
    await world.poll()
    assert await drain(world.feed, NEWS) == []

    world.set_today([dataclasses.replace(quiet, upvotes=12)])
    await world.poll()
    assert await drain(world.feed, NEWS) == [quiet.id]

    world.set_today([dataclasses.replace(quiet, upvotes=40)])
    await world.poll()
    assert await drain(world.feed, NEWS) == []  # once is enough


async def test_subscribing_again_updates_filters_but_keeps_the_start_day(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, keywords="agents")
    world.clock.advance(timedelta(days=1))
    await subscribe(world, keywords="proof", min_upvotes=5)

    stats = await world.feed.list_for_guild(GUILD)
    assert len(stats) == 1
    subscription = stats[0].subscription
    assert (subscription.keywords, subscription.min_upvotes) == ("proof", 5)
    assert subscription.since_day == TODAY
    # What the old filters queued but never tried is re-decided by the new ones.
    sent = await drain(world.feed, NEWS)
    assert sent
    assert all(
        "proof" in paper.title.lower() + paper.abstract.lower()
        for paper in (await world.feed.papers.get_many(sent)).values()
    )


async def test_an_attempted_delivery_survives_a_filter_change_with_its_nonce(world: World) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world)
    outbox = await world.feed.outbox_for(NEWS)
    delivery, _ = outbox.deliveries[0]
    await world.feed.begin(delivery)  # …and then the process died mid-request

    await subscribe(world, keywords="nothing-matches-this")
    again = await world.feed.outbox_for(NEWS)
    assert [item.nonce for item, _ in again.deliveries] == [delivery.nonce]


async def test_unsubscribing_stops_deliveries_and_resubscribing_does_not_repost(
    world: World,
) -> None:
    world.set_today(TODAYS[:4])
    await world.poll()
    await subscribe(world)
    outbox = await world.feed.outbox_for(NEWS, limit=2)
    for delivery, paper in outbox.deliveries:
        await world.feed.begin(delivery)
        await world.feed.record_sent(delivery, paper, 1 + len(paper.id))
    await world.feed.unsubscribe(NEWS)
    assert await world.feed.due_channels() == []
    with pytest.raises(NotSubscribed):
        await world.feed.unsubscribe(NEWS)

    await subscribe(world)
    posted = {delivery.paper_id for delivery, _ in outbox.deliveries}
    assert set(await drain(world.feed, NEWS)) == {p.id for p in TODAYS[:4]} - posted


async def test_sent_posts_are_registered_for_bookmarks_and_edits(world: World) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world)
    outbox = await world.feed.outbox_for(NEWS)
    delivery, paper = outbox.deliveries[0]
    await world.feed.record_sent(delivery, paper, 4242)
    assert await world.feed.posts.paper_for_message(4242) == paper.id
    post = await world.feed.posts.get(4242)
    assert post is not None
    assert (post.channel_id, post.guild_id, post.kind) == (NEWS, GUILD, "feed")
    assert post.shown_upvotes == paper.upvotes
    assert not await world.feed.outbox_for(NEWS)

    # /papers show registers its public messages the same way.
    await world.feed.record_post(message_id=5151, channel_id=77, guild_id=GUILD, paper=paper)
    shown = await world.feed.posts.get(5151)
    assert shown is not None
    assert (shown.kind, shown.shown_upvotes) == ("show", paper.upvotes)
    assert await world.feed.posts.paper_for_message(5151) == paper.id
    assert await world.feed.posts.paper_for_message(1) is None


async def test_a_transient_failure_is_retried_after_a_growing_backoff(world: World) -> None:
    world.set_today(TODAYS[:2])
    await world.poll()
    await subscribe(world)
    outbox = await world.feed.outbox_for(NEWS)
    delivery, _ = outbox.deliveries[0]
    await world.feed.begin(delivery)
    retry_at = await world.feed.record_outcome(delivery, transient("503 Service Unavailable"))

    assert retry_at == world.clock() + retry_delay(1)
    assert await world.feed.next_due_at() == retry_at
    left = await world.feed.outbox_for(NEWS)
    assert [d.paper_id for d, _ in left.deliveries] == [outbox.deliveries[1][0].paper_id]

    world.clock.now = retry_at
    due = await world.feed.outbox_for(NEWS)
    assert delivery.paper_id in [d.paper_id for d, _ in due.deliveries]
    assert retry_delay(1) < retry_delay(2) < retry_delay(3) <= retry_delay(50) == timedelta(hours=1)


async def test_a_rejected_delivery_is_dropped_not_retried(world: World) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world)
    delivery, _ = (await world.feed.outbox_for(NEWS)).deliveries[0]
    await world.feed.record_outcome(delivery, Outcome(Action.DROP, "400 Invalid Form Body"))
    assert not await world.feed.outbox_for(NEWS)
    assert await world.feed.next_due_at() is None


async def test_a_403_pauses_the_channel_once_with_one_notice_until_resubscribed(
    world: World,
) -> None:
    world.set_today(TODAYS[:3])
    await world.poll()
    await subscribe(world)
    await subscribe(world, ROBOTS)

    assert await world.feed.record_forbidden(NEWS, ["Embed Links"])
    assert not await world.feed.record_forbidden(NEWS, ["Embed Links"])  # no second notice

    outbox = await world.feed.outbox_for(NEWS)
    assert outbox.deliveries == ()  # paused: papers wait…
    assert [n.kind for n in outbox.notices] == ["paused"]
    assert "missing Embed Links" in outbox.notices[0].body
    assert "/feed subscribe" in outbox.notices[0].body
    assert NEWS in await world.feed.due_channels()  # …but the notice goes out
    assert len(await drain(world.feed, ROBOTS)) == 3  # and the other channel is not held up

    status = await world.feed.status(GUILD)
    assert [s.channel_id for s in status.paused] == [NEWS]
    assert status.paused[0].paused_reason == "Discord refused to post (403): missing Embed Links"
    assert status.pending == 3

    await subscribe(world)  # the admin fixed the permission and subscribed again
    assert len(await drain(world.feed, NEWS)) == 3


async def test_a_404_removes_the_subscription(world: World) -> None:
    world.set_today(TODAYS[:3])
    await world.poll()
    await subscribe(world)
    await world.feed.record_channel_gone(NEWS)
    assert await world.feed.list_for_guild(GUILD) == []
    assert await world.feed.due_channels() == []


async def test_an_outage_is_announced_once_and_its_end_once(world: World) -> None:
    await subscribe(world, NEWS)
    await subscribe(world, ROBOTS)
    world.source.error = "Hugging Face answered 503"
    for _ in range(OUTAGE_NOTICE_AFTER - 1):
        await world.poll()
    assert await world.feed.due_channels() == []  # a blip is not worth a message

    for _ in range(5):
        world.clock.advance(timedelta(minutes=10))
        await world.poll()
    for channel in (NEWS, ROBOTS):
        notices = (await world.feed.outbox_for(channel)).notices
        assert [n.kind for n in notices] == ["outage"]
        assert "can't reach Hugging Face" in notices[0].body
        await drain(world.feed, channel)
    status = await world.feed.status(GUILD)
    assert status.poll.consecutive_failures == OUTAGE_NOTICE_AFTER + 4
    assert status.poll.last_error == "Hugging Face answered 503"
    assert status.outage_announced

    world.source.error = None
    world.set_today(TODAYS[:1])
    await world.poll()
    await world.poll()
    notices = (await world.feed.outbox_for(NEWS)).notices
    assert [n.kind for n in notices] == ["recovered"]
    assert not (await world.feed.status(GUILD)).outage_announced


async def test_a_recovery_without_an_announced_outage_says_nothing(world: World) -> None:
    await subscribe(world)
    world.source.error = "timeout"
    await world.poll()
    world.source.error = None
    await world.poll()
    assert not (await world.feed.outbox_for(NEWS)).notices


async def test_preview_explains_each_of_todays_papers(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, keywords="agents, -evoarena", min_upvotes=40)
    await drain(world.feed, NEWS)

    preview = await world.feed.preview(NEWS)
    assert preview.day == TODAY
    assert len(preview.entries) == len(TODAYS)
    assert preview.posted
    assert preview.would_post == ()  # everything that passes was posted already
    assert all(entry.verdict.passed for entry in preview.posted)
    reasons = {entry.verdict.reason for entry in preview.blocked}
    assert "excluded: mentions “evoarena” in the title" in reasons
    assert "mentions none of: agents" in reasons
    assert any(reason.endswith("needs 40") for reason in reasons)

    with pytest.raises(NotSubscribed):
        await world.feed.preview(ROBOTS)


async def test_preview_says_when_a_paper_predates_the_subscription(world: World) -> None:
    world.source.days[YESTERDAY] = OLDER
    await world.poll()
    await subscribe(world)
    preview = await world.feed.preview(NEWS, day=YESTERDAY)
    assert preview.entries
    assert all("before this subscription started" in e.verdict.reason for e in preview.entries)


async def test_list_and_status_count_per_server(world: World) -> None:
    world.set_today(TODAYS[:5])
    await world.poll()
    await subscribe(world, NEWS)
    await subscribe(world, OTHER_GUILD_CHANNEL)
    await drain(world.feed, NEWS)

    (stats,) = await world.feed.list_for_guild(GUILD)
    assert (stats.delivered, stats.pending) == (5, 0)
    assert stats.last_sent_at == world.clock()
    status = await world.feed.status(GUILD)
    assert (status.subscriptions, status.pending, status.papers_stored) == (1, 0, 5)
    assert status.poll.last_success_at == world.clock()
    assert (await world.feed.status(2000)).pending == 5


def test_only_meaningful_count_changes_are_worth_an_edit() -> None:
    assert changed_meaningfully(0, 2)
    assert not changed_meaningfully(0, 1)
    assert changed_meaningfully(10, 12)
    assert not changed_meaningfully(50, 54)  # +4 is under 10 %
    assert changed_meaningfully(50, 55)
    assert changed_meaningfully(55, 40)


async def test_live_upvote_edits_are_meaningful_recent_and_at_most_every_30_minutes(
    world: World,
) -> None:
    first, second = TODAYS[0], TODAYS[1]  # 90 and 69 upvotes
    world.set_today([first, second])
    await world.poll()
    await subscribe(world)
    await drain(world.feed, NEWS)
    assert await world.feed.edits_due() == []

    world.clock.advance(EDIT_MIN_INTERVAL - timedelta(minutes=1))
    world.set_today(
        [dataclasses.replace(first, upvotes=120), dataclasses.replace(second, upvotes=72)]
    )
    await world.poll()
    assert await world.feed.edits_due() == []  # too soon after posting

    world.clock.advance(timedelta(minutes=1))
    jobs = await world.feed.edits_due()
    assert [(job.paper.id, job.paper.upvotes) for job in jobs] == [(first.id, 120)]  # +3 of 69: no
    await world.feed.record_edited(jobs[0])
    assert await world.feed.edits_due() == []

    world.set_today(
        [dataclasses.replace(first, upvotes=200), dataclasses.replace(second, upvotes=72)]
    )
    await world.poll()
    assert await world.feed.edits_due() == []  # edited a moment ago
    world.clock.advance(EDIT_MIN_INTERVAL)
    assert [job.paper.upvotes for job in await world.feed.edits_due()] == [200]

    world.clock.advance(timedelta(days=2))
    assert await world.feed.edits_due() == []  # old posts are left alone


async def test_only_the_process_of_a_servers_shard_edits_its_posts(world: World) -> None:
    first = TODAYS[0]
    world.set_today([first])
    await world.poll()
    await subscribe(world)
    await drain(world.feed, NEWS)
    world.set_today([dataclasses.replace(first, upvotes=first.upvotes * 2)])
    await world.poll()
    world.clock.advance(EDIT_MIN_INTERVAL)
    papers = world.feed.papers

    def process_of(shard: int) -> FeedService:
        shards = ShardSet.of(2, [shard])
        db = world.feed.outbox.db
        return FeedService.open(db, papers, world.ingest, clock=world.clock, shards=shards)

    mine = shard_of(GUILD, 2)
    assert [job.paper.id for job in await process_of(mine).edits_due()] == [first.id]
    assert await process_of(1 - mine).edits_due() == []


# --- subscribing again ----------------------------------------------------------------------


async def test_omitted_options_keep_the_stored_filters_and_explicit_ones_clear_them(
    world: World,
) -> None:
    await subscribe(world, keywords="agents, -survey", min_upvotes=40)

    async def filters() -> tuple[str, int]:
        subscription = await world.feed.subscriptions.get(NEWS)
        assert subscription is not None
        return subscription.keywords, subscription.min_upvotes

    await subscribe(world)
    assert await filters() == ("agents, -survey", 40)
    await subscribe(world, min_upvotes=5)
    assert await filters() == ("agents, -survey", 5)
    await subscribe(world, keywords="robots")
    assert await filters() == ("robots", 5)
    await subscribe(world, keywords="*")
    assert await filters() == ("", 5)
    await subscribe(world, min_upvotes=0)
    assert await filters() == ("", 0)
    with pytest.raises(InvalidInput, match="names no keyword"):
        await subscribe(world, keywords=" , ")
    assert await filters() == ("", 0)


async def test_resuming_keeps_the_filters_and_every_waiting_paper_and_drops_the_notice(
    world: World,
) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, keywords="agents", min_upvotes=30)
    expected = await world.feed.outbox.pending_for_channel(NEWS)
    assert expected
    await world.feed.record_forbidden(NEWS, ["Embed Links"])
    world.clock.advance(timedelta(days=3))  # the admin takes a while: today's papers are old

    result = await world.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
    assert result.resumed and not result.changed and not result.created
    assert (result.subscription.keywords, result.subscription.min_upvotes) == ("agents", 30)
    assert result.waiting == expected
    outbox = await world.feed.outbox_for(NEWS)
    assert outbox.notices == ()  # "paused" no longer true: never sent
    assert len(await drain(world.feed, NEWS)) == expected
    assert not result.filter.matches(dataclasses.replace(TODAYS[0], upvotes=0))


async def test_changing_the_filters_redecides_waiting_papers_even_old_ones(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world)
    await world.feed.record_forbidden(NEWS, ["Embed Links"])
    world.clock.advance(timedelta(days=3))
    result = await world.feed.subscribe(
        channel_id=NEWS, guild_id=GUILD, access=CAN_POST, min_upvotes=50
    )
    assert result.changed and result.resumed
    sent = await drain(world.feed, NEWS)
    # Back from a 3-day pause: the new filters decide among the first batch of the most upvoted.
    first_batch = sorted(TODAYS, key=lambda p: (-p.upvotes, p.id))[:FIRST_BATCH]
    assert sorted(sent) == sorted(p.id for p in first_batch if p.upvotes >= 50)


# --- planning after each poll ---------------------------------------------------------------


class NormaliseCounter:
    """Counts how many texts the filters normalise (the per-paper cost of planning)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = feed_filters._normalise

        def counting(text: str) -> str:
            self.calls += 1
            return original(text)

        monkeypatch.setattr(feed_filters, "_normalise", counting)

    def take(self) -> int:
        calls, self.calls = self.calls, 0
        return calls


async def test_every_poll_plans_the_window_each_text_normalised_once_for_all_subscriptions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for channel in range(100, 140):
        await subscribe(world, channel, keywords="agents, reasoning, -survey")
    world.set_today(TODAYS)
    await world.poll()
    queued = await world.feed.outbox.queued([p.id for p in TODAYS])
    counter = NormaliseCounter(monkeypatch)

    await world.poll()  # Hugging Face changed nothing: the window is planned again, from the store
    # title, keywords, abstract: once per paper for all 40 subscriptions, not once per pair
    assert counter.take() == 3 * len(TODAYS)
    assert await world.feed.outbox.queued([p.id for p in TODAYS]) == queued


async def test_a_paper_stored_but_never_planned_before_a_crash_is_planned_after_restart(
    world: World, db: Database
) -> None:
    await subscribe(world)
    world.set_today(TODAYS[:3])
    await world.ingest.poll()  # stored… and the process dies before planning
    assert await world.feed.outbox.pending_for_channel(NEWS) == 0

    restarted = FeedService.open(db, world.feed.papers, world.ingest, clock=world.clock)
    await restarted.on_poll(await world.ingest.poll())  # nothing new on Hugging Face
    assert len(await drain(restarted, NEWS)) == 3


async def test_papers_another_process_stored_are_planned_at_the_next_poll(
    world: World, db: Database
) -> None:
    await subscribe(world)
    await world.poll()  # nothing listed yet
    # `python -m bot fetch` beside the bot: another IngestService on the same database.
    fetcher_source = Source()
    fetcher_source.days[TODAY] = TODAYS[:3]
    fetcher = IngestService(fetcher_source, PaperRepo(db), StateRepo(db), clock=world.clock)
    await fetcher.ingest_day(TODAY)
    world.set_today(TODAYS[:3])
    await world.poll()  # Hugging Face lists what the fetch stored: this poll changes nothing
    assert sorted(await drain(world.feed, NEWS)) == sorted(p.id for p in TODAYS[:3])


async def test_a_poll_replans_papers_for_filters_another_process_changed(
    world: World, db: Database
) -> None:
    await subscribe(world, keywords="no such topic anywhere")
    world.set_today(TODAYS[:3])
    await world.poll()
    assert await drain(world.feed, NEWS) == []
    # Another process of the bot (a second shard) changes the filters: this one never hears.
    world.clock.advance(timedelta(minutes=1))
    await SubscriptionRepo(db).save(
        channel_id=NEWS,
        guild_id=GUILD,
        min_upvotes=None,
        keywords="",  # every paper
        since_day=TODAY,
        created_by=None,
        now=world.clock(),
    )
    await world.poll()  # the papers did not change; the filters did
    assert sorted(await drain(world.feed, NEWS)) == sorted(p.id for p in TODAYS[:3])


async def test_papers_a_failed_plan_left_unqueued_are_planned_at_the_next_poll(
    sqlite_db: Database, tmp_path: Path
) -> None:
    # SQLite's own failure: another process holds the file's write lock.
    db, world = sqlite_db, make_world(sqlite_db)
    await subscribe(world)
    world.set_today(TODAYS[:3])
    report = await world.ingest.poll()
    await db.conn.execute("PRAGMA busy_timeout = 0")
    writer = sqlite3.connect(tmp_path / "papers.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await world.feed.on_poll(report)
    finally:
        writer.close()
    await world.poll()  # nothing changed on Hugging Face
    assert len(await drain(world.feed, NEWS)) == 3


async def test_papers_of_a_catch_up_day_stored_on_demand_are_planned(world: World) -> None:
    three_days_ago = TODAY - timedelta(days=3)
    world.clock.advance(timedelta(days=-3))
    await subscribe(world)  # subscribed three days ago
    await world.poll()
    world.clock.advance(timedelta(days=3))  # the bot was down since: this poll catches up
    late = listed(TODAYS[:2], three_days_ago)
    world.source.days[three_days_ago] = late
    await world.ingest.ingest_day(three_days_ago, interactive=True)  # someone asked for it
    await world.poll()
    assert sorted(await drain(world.feed, NEWS)) == sorted(p.id for p in late)


async def test_a_decision_is_not_queued_for_a_subscription_changed_or_removed_meanwhile(
    world: World,
) -> None:
    world.set_today(TODAYS[:2])
    await world.poll()
    await subscribe(world, NEWS, keywords="agents")
    await subscribe(world, ROBOTS)
    stale = await world.feed.subscriptions.all()
    await subscribe(world, NEWS, keywords="robots")  # changed since ``stale`` was read
    await world.feed.unsubscribe(ROBOTS)  # and this one is gone
    await drain(world.feed, NEWS)

    decisions = [(subscription, TODAYS[0].id, TODAYS[0].latest_listing) for subscription in stale]
    queued = await world.feed.outbox.queue_posts(decisions, now=world.clock(), nonce=new_nonce)
    assert queued == 0
    assert await world.feed.due_channels() == []


# --- the worker's bookkeeping: claims, recording what Discord holds, errors, edits --------------


async def test_a_delivery_is_claimed_only_while_it_is_still_due_as_it_was_read(
    world: World,
) -> None:
    world.set_today(TODAYS[:3])
    await world.poll()
    await subscribe(world)
    first, second, third = [d for d, _ in (await world.feed.outbox_for(NEWS)).deliveries]

    assert await world.feed.begin(first)
    assert not await world.feed.begin(first)  # read before that claim: stale

    await world.feed.record_forbidden(NEWS, ["Embed Links"])
    assert not await world.feed.begin(second)  # paused since it was read
    await subscribe(world)  # resumed
    assert await world.feed.begin(second)

    await subscribe(world, keywords="agents")  # new filters re-plan the untried paper…
    assert not await world.feed.begin(third)  # …so the old read (and nonce) is stale
    await world.feed.unsubscribe(NEWS)
    fresh = await world.feed.outbox_for(NEWS)
    assert not fresh
    assert not await world.feed.begin(third)  # unsubscribed since it was read


async def test_a_message_discord_accepted_is_recorded_whatever_became_of_its_row(
    world: World,
) -> None:
    world.set_today(TODAYS[:2])
    await world.poll()
    await subscribe(world)
    (first, paper), (second, other) = (await world.feed.outbox_for(NEWS)).deliveries
    assert await world.feed.begin(first)
    assert await world.feed.begin(second)

    await world.feed.unsubscribe(NEWS)  # while both posts were being created
    await world.feed.record_sent(first, paper, 7001)
    # A row that vanished altogether (here by hand) is written again as sent.
    async with world.feed.outbox.db.transaction() as conn:
        await conn.execute("DELETE FROM outbox WHERE kind = 'post' AND paper_id = ?", (other.id,))
    await world.feed.record_sent(second, other, 7002)

    states = await world.feed.outbox.states_for(NEWS, [paper.id, other.id])
    assert {paper_id: state.state for paper_id, state in states.items()} == {
        paper.id: "sent",
        other.id: "sent",
    }
    assert await world.feed.posts.paper_for_message(7002) == other.id
    await subscribe(world)  # subscribing again does not post them a second time
    assert await drain(world.feed, NEWS) == []


async def test_a_notice_dropped_since_it_was_read_is_not_sent(world: World) -> None:
    await subscribe(world)
    await world.feed.record_forbidden(NEWS, ["Embed Links"])
    (notice,) = (await world.feed.outbox_for(NEWS)).notices
    await world.feed.unsubscribe(NEWS)
    assert not await world.feed.begin(notice)


async def test_an_unexpected_error_is_retried_with_backoff_then_dropped_with_the_reason(
    world: World,
) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world)
    for attempt in range(1, MAX_ATTEMPTS_AFTER_ERROR):
        ((delivery, _),) = (await world.feed.outbox_for(NEWS)).deliveries
        assert delivery.attempts == attempt - 1
        assert await world.feed.begin(delivery)
        retry_at = await world.feed.record_error(delivery, "RuntimeError: cannot render")
        assert retry_at == world.clock() + retry_delay(attempt)
        assert not await world.feed.outbox_for(NEWS)  # not before its time
        world.clock.now = retry_at

    ((delivery, paper),) = (await world.feed.outbox_for(NEWS)).deliveries
    assert await world.feed.begin(delivery)
    assert await world.feed.record_error(delivery, "RuntimeError: cannot render") is None
    assert await world.feed.next_due_at() is None
    state = (await world.feed.outbox.states_for(NEWS, [paper.id]))[paper.id]
    assert (state.state, state.attempts) == ("dropped", MAX_ATTEMPTS_AFTER_ERROR)
    assert state.error == (
        f"gave up after {MAX_ATTEMPTS_AFTER_ERROR} attempts: RuntimeError: cannot render"
    )
    (entry,) = (await world.feed.preview(NEWS)).dropped
    assert entry.paper.id == paper.id


async def test_an_overdue_retry_of_a_channel_being_sent_to_is_no_reason_to_wake(
    world: World,
) -> None:
    world.set_today(TODAYS[:2])
    await world.poll()
    await subscribe(world)
    await subscribe(world, ROBOTS)
    delivery, _ = (await world.feed.outbox_for(NEWS)).deliveries[0]
    assert await world.feed.begin(delivery)
    retry_at = await world.feed.record_outcome(delivery, transient("503 Service Unavailable"))
    world.clock.now = retry_at + timedelta(minutes=5)  # overdue

    assert await world.feed.next_due_at() == retry_at
    assert await world.feed.next_due_at(busy={NEWS}) is None
    assert await world.feed.next_due_at(busy={ROBOTS}) == retry_at


async def test_a_failed_edit_keeps_the_shown_counts_and_waits_the_usual_interval(
    world: World,
) -> None:
    top = TODAYS[0]
    world.set_today([top])
    await world.poll()
    await subscribe(world)
    await drain(world.feed, NEWS)
    world.clock.advance(EDIT_MIN_INTERVAL)
    world.set_today([dataclasses.replace(top, upvotes=top.upvotes * 2)])
    await world.poll()
    (job,) = await world.feed.edits_due()

    await world.feed.record_edit_failed(job)
    post = await world.feed.posts.get(job.post.message_id)
    assert post is not None
    assert post.shown_upvotes == top.upvotes  # what the message still shows
    assert await world.feed.edits_due() == []  # not again at once…
    world.clock.advance(EDIT_MIN_INTERVAL)
    assert [j.paper.upvotes for j in await world.feed.edits_due()] == [top.upvotes * 2]  # …later


async def test_a_refused_token_gives_a_claimed_delivery_and_notice_back_untried(
    world: World,
) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world, ROBOTS)
    await subscribe(world)
    await world.feed.record_forbidden(ROBOTS, ["Embed Links"])  # queues a notice for ROBOTS
    ((delivery, paper),) = (await world.feed.outbox_for(NEWS)).deliveries
    (notice,) = (await world.feed.outbox_for(ROBOTS)).notices
    assert await world.feed.begin(delivery)
    assert await world.feed.begin(notice)

    refused = read_answer(401, 0, "401: Unauthorized")
    assert await world.feed.record_outcome(delivery, refused) is None
    await world.feed.record_outcome(notice, refused)

    # Due again at once, exactly as read: same nonce, no attempt counted, no error.
    assert (await world.feed.outbox_for(NEWS)).deliveries == ((delivery, paper),)
    assert (await world.feed.outbox_for(ROBOTS)).notices == (notice,)
    state = (await world.feed.outbox.states_for(NEWS, [paper.id]))[paper.id]
    assert (state.state, state.attempts, state.error) == ("pending", 0, None)


async def test_a_bounded_retry_drops_the_delivery_and_the_notice_with_the_reason(
    world: World,
) -> None:
    world.set_today(TODAYS[:1])
    await world.poll()
    await subscribe(world)
    (paper,) = TODAYS[:1]
    refused = read_answer(404, 0, "404: Not Found")
    assert refused.attempts == NOT_FOUND_ATTEMPTS
    for attempt in range(1, NOT_FOUND_ATTEMPTS + 1):
        ((delivery, _),) = (await world.feed.outbox_for(NEWS)).deliveries
        assert await world.feed.begin(delivery)
        retry_at = await world.feed.record_outcome(delivery, refused)
        if attempt < NOT_FOUND_ATTEMPTS:
            assert retry_at == world.clock() + retry_delay(attempt)
            world.clock.now = retry_at
    assert retry_at is None
    state = (await world.feed.outbox.states_for(NEWS, [paper.id]))[paper.id]
    assert (state.state, state.error) == (
        "dropped",
        f"gave up after {NOT_FOUND_ATTEMPTS} attempts: 404 Not Found",
    )
    assert (await world.feed.subscriptions.get(NEWS)) is not None  # the channel stays

    # A notice is retried the same way, then dropped.
    await world.feed.record_forbidden(NEWS, ["Embed Links"])
    for attempt in range(1, NOT_FOUND_ATTEMPTS + 1):
        world.clock.advance(timedelta(hours=2))
        (notice,) = (await world.feed.outbox_for(NEWS)).notices
        assert notice.attempts == attempt - 1
        assert await world.feed.begin(notice)
        await world.feed.record_outcome(notice, refused)
    world.clock.advance(timedelta(hours=2))
    assert not (await world.feed.outbox_for(NEWS)).notices
