"""The delivery worker when the world moves under it, end to end through the fake Discord.

A delivery read a moment ago may no longer be wanted; a paper may fail for reasons that are not
Discord's; the database may refuse to record a post Discord accepted; an edit may fail. In every
case nothing is posted that should not be, nothing is posted twice, and nothing is retried in a
tight loop. (The bot, fakes and helpers are those of tests/e2e/test_feed.py.)
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.feed import MAX_ATTEMPTS_AFTER_ERROR, retry_delay
from bot.models import Paper
from bot.store.feed import DeliveryState, DueDelivery
from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import (
    FIXTURE_DAY,
    RAW_ITEMS,
    FeedBot,
    by_upvotes,
    items,
    key,
    quicken,
    text_of,
)
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.on(date.fromisoformat(FIXTURE_DAY), hour=9)  # the recorded day


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[FeedBot]:
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def posts_route(fake: FakeDiscord, channel: str) -> str:
    return rf"/channels/{fake.channel(channel)}/messages$"


async def delivery_state(bot: FeedBot, channel: str, paper_id: str) -> DeliveryState:
    deliveries = bot.running.services.feed.outbox
    states = await deliveries.states_for(bot.fake.channel(channel), [paper_id])
    return states[paper_id]


# --- 1. a delivery read earlier is sent only if it is still wanted ---------------------------


async def test_unsubscribing_during_a_fanout_stops_it_and_the_post_in_flight_is_recorded(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    chosen = items(5)
    feed_bot.serve(chosen)
    await feed_bot.poll()  # today's papers are stored before anyone subscribes
    feed_bot.worker.send_timeout = 30.0  # the worker waits for Discord, as in production
    held = fake.hold("POST", posts_route(fake, "papers"))

    await feed_bot.slash("subscribe", channel="papers")
    await fake.wait_for(lambda: held.hits == 1, describe="the first of five posts in flight")
    # The worker has read the channel's five deliveries; the admin changes their mind.
    await feed_bot.slash("unsubscribe", channel="papers")
    held.release()  # Discord creates the post that was in flight
    await feed_bot.idle()

    first, *others = by_upvotes(chosen)
    assert feed_bot.posted("papers") == [first]  # the other four are not posted
    assert (await delivery_state(feed_bot, "papers", first)).state == "sent"  # and is recorded

    # Subscribing again brings the other four, and never the first a second time.
    await feed_bot.subscribe("papers")
    assert feed_bot.posted("papers") == [first, *others]
    assert fake.stats["nonce_duplicates"] == 0
    assert fake.errors == []


# --- 2. a paper that fails for a reason of its own holds up nothing, and is not looped -------


def break_rendering(monkeypatch: pytest.MonkeyPatch, bot: FeedBot, paper_id: str) -> None:
    """Make the embed function the worker's sender uses raise for one paper."""
    module = sys.modules[type(bot.worker.sender).__module__]
    render = module.card_embed

    def card_embed(paper: Paper, *args: Any, **options: Any) -> discord.Embed:
        if paper.id == paper_id:
            raise RuntimeError(f"cannot render {paper.id}")
        return render(paper, *args, **options)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "card_embed", card_embed)


async def test_a_paper_that_cannot_be_rendered_is_retried_with_backoff_and_holds_up_nothing(
    feed_bot: FeedBot,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = feed_bot.fake
    feed = feed_bot.running.services.feed
    feed.retry_base = timedelta(minutes=1)  # the clock stands still until the test moves it
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    chosen = items(5)
    order = by_upvotes(chosen)
    broken = order[1]
    break_rendering(monkeypatch, feed_bot, broken)
    caplog.set_level(logging.ERROR)

    def tracebacks() -> int:
        return sum(1 for r in caplog.records if r.exc_info and broken in r.getMessage())

    feed_bot.serve(chosen)
    await feed_bot.poll()
    rest = [paper_id for paper_id in order if paper_id != broken]
    assert feed_bot.posted("papers") == rest  # the papers after it went out…
    assert feed_bot.posted("agents") == rest  # …and so did the other channel's
    for channel in ("papers", "agents"):
        state = await delivery_state(feed_bot, channel, broken)
        assert (state.state, state.attempts) == ("pending", 1)  # tried once, not in a loop
        assert state.error == f"RuntimeError: cannot render {broken}"
    assert tracebacks() == 2  # one per attempt, with its traceback
    preview = text_of(await feed_bot.slash("preview", channel="papers"))
    assert f"last attempt failed: RuntimeError: cannot render {broken}" in preview

    # Each retry waits for its backoff; after the last one the paper is given up, visibly.
    for attempt in range(2, MAX_ATTEMPTS_AFTER_ERROR + 1):
        await feed_bot.poll()  # a wake-up before the retry is due changes nothing
        assert (await delivery_state(feed_bot, "papers", broken)).attempts == attempt - 1
        clock.advance(seconds=retry_delay(attempt - 1, feed.retry_base).total_seconds())
        await feed_bot.poll()
        assert (await delivery_state(feed_bot, "papers", broken)).attempts == attempt
    for channel in ("papers", "agents"):
        state = await delivery_state(feed_bot, channel, broken)
        assert (state.state, state.attempts) == ("dropped", MAX_ATTEMPTS_AFTER_ERROR)
    assert tracebacks() == 2 * MAX_ATTEMPTS_AFTER_ERROR
    preview = text_of(await feed_bot.slash("preview", channel="papers"))
    assert (
        f"{broken}) — ⚠️ dropped: gave up after {MAX_ATTEMPTS_AFTER_ERROR} attempts: "
        f"RuntimeError: cannot render {broken}"
    ) in preview
    assert feed_bot.posted("papers") == rest
    assert fake.errors == []


async def test_a_post_the_database_could_not_record_is_not_resent_and_its_channel_rests(
    feed_bot: FeedBot,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = feed_bot.fake
    feed = feed_bot.running.services.feed
    papers = fake.channel("papers")
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    chosen = items(3)
    first = by_upvotes(chosen)[0]
    record_sent = feed.record_sent
    recorded: list[int] = []  # message ids the worker tried to record for (papers, first)

    async def flaky(
        delivery: DueDelivery, paper: Paper, message_id: int, **where: int | None
    ) -> None:
        if delivery.channel_id == papers and paper.id == first:
            recorded.append(message_id)
            if len(recorded) <= 2:
                raise sqlite3.OperationalError("database is locked")
        await record_sent(delivery, paper, message_id, **where)

    monkeypatch.setattr(feed, "record_sent", flaky)
    rest = feed_bot.worker.cooldowns.base

    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("agents") == by_upvotes(chosen)  # other channels carry on
    assert feed_bot.posted("papers") == [first]  # Discord has it; the database does not know
    assert len(recorded) == 1  # and the channel rests instead of trying again at once

    clock.advance(seconds=rest.total_seconds())
    await feed_bot.poll()
    # Found among the channel's latest messages, not posted again; recording fails again.
    assert len(recorded) == 2
    assert feed_bot.posted("papers") == [first]
    clock.advance(seconds=rest.total_seconds())
    await feed_bot.poll()
    assert len(recorded) == 2  # the second rest is twice as long
    clock.advance(seconds=rest.total_seconds())
    await feed_bot.poll()

    assert feed_bot.posted("papers") == by_upvotes(chosen)
    (message_id,) = set(recorded)
    assert message_id == int(fake.messages("papers")[0]["id"])
    assert (await delivery_state(feed_bot, "papers", first)).state == "sent"
    assert fake.stats["nonce_duplicates"] == 0
    assert fake.errors == []


# --- 3. a failed edit does not pretend the message shows the new counts -----------------------


def shown_upvotes(fake: FakeDiscord, message: dict[str, Any]) -> str:
    fields = fake.message(int(message["id"]))["embeds"][0]["fields"]
    (value,) = [field["value"] for field in fields if field["name"] == "Upvotes"]
    return str(value)


async def test_a_failed_edit_is_tried_again_later_with_the_counts_it_could_not_show(
    feed_bot: FeedBot, clock: FakeClock
) -> None:
    fake = feed_bot.fake
    top = RAW_ITEMS[0]["paper"]["id"]  # 90 upvotes in the recording
    await feed_bot.subscribe("papers", style="full")  # the card with an "Upvotes" field
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (message,) = fake.messages("papers")
    assert "90" in shown_upvotes(fake, message)

    clock.advance(minutes=31)
    # A 503 comes straight back to the worker (discord.py retries only 500, 502, 504 itself).
    fake.fail("PATCH", r"/channels/\d+/messages/\d+$", 503)
    feed_bot.serve(items(1, **{key(top): 140}))
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 1
    assert "90" in shown_upvotes(fake, message)  # the edit failed: the message is behind
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 1  # not retried in a loop

    clock.advance(minutes=30)
    await feed_bot.poll()  # the upvotes did not move since; the message is still behind
    assert len(fake.requests_to("PATCH", r"/messages/")) == 2
    assert "140" in shown_upvotes(fake, message)
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 2


# --- 4. the dispatcher sleeps while a channel with an overdue retry is being sent to ---------


async def test_the_dispatcher_does_not_poll_while_an_overdue_retry_is_being_sent(
    feed_bot: FeedBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = feed_bot.fake
    feed = feed_bot.running.services.feed
    route = posts_route(fake, "papers")
    await feed_bot.subscribe("papers")
    # The first try fails; its retry is due at once (and overdue, as the clock stands still)
    # and takes Discord a while.
    fake.fail("POST", route, 503)
    slow = fake.slow("POST", route, seconds=0.3)
    due_channels = feed.due_channels
    polls = 0

    async def counted() -> list[int]:
        nonlocal polls
        polls += 1
        return await due_channels()

    monkeypatch.setattr(feed, "due_channels", counted)
    feed_bot.serve(items(1))
    await feed_bot.running.poll()
    await fake.wait_for(lambda: slow.hits == 1, describe="the retry in flight")
    polls = 0
    await fake.wait_for_messages("papers", 1)
    await feed_bot.idle()
    # At most the look after the send ends (and one after a wake-up racing it); polling every
    # 50 ms through the 0.3 s send would be six or more.
    assert polls <= 2
    assert len(fake.messages("papers")) == 1


# --- 5. a worker that stopped no longer listens to the outbox ---------------------------------


async def test_unloading_the_feed_stops_its_worker_listening_and_reloading_resumes_delivery(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    bot = feed_bot.running.bot
    await feed_bot.subscribe("papers")
    stopped = feed_bot.worker
    await bot.unload_extension("cogs.feed")

    chosen = items(2)
    feed_bot.serve(chosen)
    await feed_bot.running.poll()  # queues two deliveries: the outbox changed
    # A stopped worker still listening would be woken, and wait for work it never does.
    await asyncio.wait_for(stopped.wait_until_idle(), 1)
    assert fake.messages("papers") == []

    await bot.load_extension("cogs.feed")  # a new worker: it sends what waited, once
    quicken(feed_bot)
    await fake.wait_for_messages("papers", 2)
    await feed_bot.idle()
    assert feed_bot.posted("papers") == by_upvotes(chosen)
