"""The delivery engine's one policy, through a fake ``Sender`` (a small class implementing the
protocol) and a real store: retry with backoff, drop after N, pause and remove, stop when the
token is refused, claim before send, and one channel's trouble never holding up another."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery import DeliveryEngine, ForumPost, RecentPost, SendFailed, SentMessage
from bot.feed import ChannelAccess, FeedService
from bot.ingest import IngestService
from bot.models import CardStyle, Paper
from bot.outcomes import Action, Outcome, transient
from bot.store.db import Database
from bot.store.feed import DeliveryState
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers
from tests.unit.test_feed_retention import Clock, Source, listed

GUILD = 1000
NEWS, ROBOTS = 11, 12
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)
STOP = Outcome(Action.STOP, "401 Unauthorized")


class FakeSender:
    """Accepts every request unless told otherwise: ``failures[paper id]``, else
    ``failures[channel]``, are raised in order by the next posts of that paper or channel.
    ``attempts_seen``: the row's attempt count in the store as each post was made; ``styles``:
    the card style each post was asked for."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.failures: dict[int | str, list[Outcome]] = {}
        self.posted: list[tuple[int, str]] = []
        self.notices: list[tuple[int, str]] = []
        self.attempts_seen: list[int] = []
        self.styles: list[CardStyle] = []
        self.next_id = 500

    async def wait_until_ready(self) -> None:
        return None

    def access(self, channel_id: int) -> ChannelAccess | None:
        return None

    async def post(
        self,
        channel_id: int,
        paper: Paper,
        nonce: str,
        style: CardStyle,
        mentions: Sequence[int] = (),
    ) -> SentMessage:
        self.attempts_seen.append(
            await self.db.fetchval("SELECT attempts FROM outbox WHERE nonce = ?", (nonce,))
        )
        for key in (paper.id, channel_id):
            if self.failures.get(key):
                raise SendFailed(self.failures[key].pop(0))
        # Side by side, after the await: channels drain concurrently.
        self.posted.append((channel_id, paper.id))
        self.styles.append(style)
        self.next_id += 1
        return SentMessage(self.next_id)

    async def notice(self, channel_id: int, text: str, nonce: str) -> SentMessage:
        self.notices.append((channel_id, text))
        self.next_id += 1
        return SentMessage(self.next_id)

    async def edit(self, channel_id: int, message_id: int, paper: Paper, style: CardStyle) -> None:
        return None

    async def recent_posts(self, channel_id: int) -> Sequence[RecentPost]:
        return []

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        return None

    async def create_thread(self, channel_id: int, message_id: int, name: str) -> SentMessage:
        return SentMessage(message_id)

    def forum_tags(self, channel_id: int) -> list[str]:
        return []

    async def forum_post(
        self, channel_id: int, paper: Paper, name: str, tags: Sequence[str], style: CardStyle
    ) -> SentMessage:
        raise AssertionError("no forum here")

    async def forum_posts(self, channel_id: int) -> list[ForumPost]:
        return []


class Rig:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = Clock(START)
        self.source = Source()
        papers = PaperRepo(db)
        self.ingest = IngestService(self.source, papers, StateRepo(db), clock=self.clock)
        self.feed = FeedService.open(db, papers, self.ingest, clock=self.clock)
        self.sender = FakeSender(db)
        self.refused = asyncio.Event()
        self.engine = DeliveryEngine(
            self.feed,
            self.sender,
            bookmark_emoji="🔖",
            requests_per_second=10_000.0,
            on_token_refused=self.refused.set,
        )
        self.papers = listed(fixture_papers("daily_papers_2025-10-03")[:3], START.date())
        self.source.days[START.date()] = self.papers

    async def start(self, *channels: int) -> None:
        for channel in channels:
            await self.feed.subscribe(channel_id=channel, guild_id=GUILD, access=CAN_POST)
        await self.feed.on_poll(await self.ingest.poll())
        self.engine.start()

    async def settle(self) -> None:
        """Let the engine send whatever is due now."""
        self.engine.wake()
        await asyncio.wait_for(self.engine.wait_until_idle(), 10)

    async def later(self, hours: float) -> None:
        self.clock.now += timedelta(hours=hours)
        await self.settle()

    async def states(self, channel: int) -> dict[str, DeliveryState]:
        return await self.feed.outbox.states_for(channel, [p.id for p in self.papers])

    def posted(self, channel: int) -> list[str]:
        return [paper for target, paper in self.sender.posted if target == channel]


@pytest.fixture
async def rig(db: Database) -> Iterator[Rig]:
    made = Rig(db)
    yield made  # type: ignore[misc]
    await made.engine.stop()


async def test_each_send_is_claimed_before_it_is_made(rig: Rig) -> None:
    await rig.start(NEWS)
    await rig.settle()
    assert len(rig.posted(NEWS)) == 3
    assert rig.sender.attempts_seen == [1, 1, 1]  # counted in the store before the request


async def test_each_post_is_sent_and_recorded_in_its_subscriptions_card_style(rig: Rig) -> None:
    await rig.feed.subscribe(channel_id=ROBOTS, guild_id=GUILD, access=CAN_POST, style="full")
    await rig.start(NEWS)  # compact, the default
    await rig.settle()
    assert len(rig.sender.posted) == 6
    by_channel = {
        channel: {
            style
            for (target, _), style in zip(rig.sender.posted, rig.sender.styles, strict=True)
            if target == channel
        }
        for channel in (NEWS, ROBOTS)
    }
    assert by_channel == {NEWS: {"compact"}, ROBOTS: {"full"}}
    recorded = await rig.db.fetchall("SELECT channel_id, style FROM posts")
    assert {(row["channel_id"], row["style"]) for row in recorded} == {
        (NEWS, "compact"),
        (ROBOTS, "full"),
    }


async def test_a_transient_failure_is_retried_with_backoff_and_holds_up_no_other_channel(
    rig: Rig,
) -> None:
    rig.sender.failures[NEWS] = [transient("503 Service Unavailable")]
    await rig.start(NEWS, ROBOTS)
    await rig.settle()
    assert len(rig.posted(ROBOTS)) == 3  # the other channel carried on
    assert len(rig.posted(NEWS)) == 2  # only the failed post waits
    waiting = [s for s in (await rig.states(NEWS)).values() if s.state == "pending"]
    assert [(s.attempts, s.error) for s in waiting] == [(1, "503 Service Unavailable")]
    await rig.settle()
    assert len(rig.posted(NEWS)) == 2  # not before its time: no tight loop
    await rig.later(hours=1)
    assert len(rig.posted(NEWS)) == 3
    assert {s.state for s in (await rig.states(NEWS)).values()} == {"sent"}


async def test_a_bounded_retry_is_dropped_after_its_attempts(rig: Rig) -> None:
    refused = Outcome(Action.RETRY, "404 Not Found (code 10008)", attempts=3)
    rig.sender.failures[rig.papers[0].id] = [refused, refused, refused]
    await rig.start(NEWS)
    await rig.settle()
    await rig.later(hours=1)
    await rig.later(hours=1)
    states = await rig.states(NEWS)
    dropped = states[rig.papers[0].id]
    assert (dropped.state, dropped.attempts) == ("dropped", 3)
    assert dropped.error == "gave up after 3 attempts: 404 Not Found (code 10008)"
    assert len(rig.posted(NEWS)) == 2  # a message refused for itself holds up nothing


async def test_a_refusal_drops_only_that_message(rig: Rig) -> None:
    rig.sender.failures[NEWS] = [Outcome(Action.DROP, "400 Invalid Form Body (code 50035)")]
    await rig.start(NEWS)
    await rig.settle()
    assert len(rig.posted(NEWS)) == 2
    assert sorted(s.state for s in (await rig.states(NEWS)).values()) == [
        "dropped",
        "sent",
        "sent",
    ]


async def test_missing_permissions_pause_the_channel_and_tell_it_once(rig: Rig) -> None:
    rig.sender.failures[NEWS] = [Outcome(Action.PAUSE, "403 Missing Permissions (code 50013)")]
    await rig.start(NEWS, ROBOTS)
    await rig.settle()
    subscription = await rig.feed.subscriptions.get(NEWS)
    assert subscription is not None and subscription.paused
    assert rig.posted(NEWS) == [] and len(rig.posted(ROBOTS)) == 3
    ((channel, text),) = rig.sender.notices  # the pause notice goes out even though paused
    assert channel == NEWS and "/feed subscribe" in text
    await rig.later(hours=2)
    assert rig.posted(NEWS) == []  # paused: nothing more until re-subscribed


async def test_a_channel_that_is_gone_loses_its_subscription(rig: Rig) -> None:
    rig.sender.failures[NEWS] = [Outcome(Action.REMOVE, "404 Unknown Channel (code 10003)")]
    await rig.start(NEWS, ROBOTS)
    await rig.settle()
    assert await rig.feed.subscriptions.get(NEWS) is None
    assert len(rig.posted(ROBOTS)) == 3
    await rig.later(hours=2)
    assert rig.posted(NEWS) == []


async def test_a_refused_token_stops_everything_and_keeps_the_rows_as_they_were(
    rig: Rig,
) -> None:
    rig.sender.failures[NEWS] = [STOP]
    rig.sender.failures[ROBOTS] = [STOP]
    await rig.start(NEWS, ROBOTS)
    await asyncio.wait_for(rig.refused.wait(), 10)
    assert rig.engine.token_refused
    assert rig.sender.posted == []
    for channel in (NEWS, ROBOTS):
        states = (await rig.states(channel)).values()
        assert {(s.state, s.attempts) for s in states} == {("pending", 0)}  # claim given back
    await rig.later(hours=1)
    assert rig.sender.posted == []  # nothing more is sent


async def test_only_the_lease_holder_queues_digests_and_every_process_posts(rig: Rig) -> None:
    looked = 0
    next_digest_at = rig.feed.next_digest_at

    async def counting() -> datetime | None:
        nonlocal looked
        looked += 1
        return await next_digest_at()

    rig.feed.next_digest_at = counting  # type: ignore[method-assign]
    holds = False
    rig.engine.holds_lease = lambda: holds  # another process holds the lease
    await rig.start(NEWS)
    await rig.settle()
    assert len(rig.posted(NEWS)) == 3 and looked == 0
    holds = True  # this process took it over
    await rig.settle()
    assert looked >= 1
