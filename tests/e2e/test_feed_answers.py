"""Discord's answers read by status and JSON error code, end to end through the fake Discord.

401 (the token was reset while the bot ran) stops every send, keeps every delivery pending and
closes the bot with exit status 1; 403 pauses only for missing access or permissions; 404 removes
a subscription only for an unknown channel; 400/50035 drops the one message, with the reason in
/feed preview; other 4xx are retried a bounded number of times. The look-back before a resend
finds only the feed's own post, never a /papers show card of the same paper. (The bot, fakes and
helpers are those of tests/e2e/test_feed.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import EXIT_TOKEN_REFUSED
from bot.outcomes import CLIENT_ERROR_ATTEMPTS, NOT_FOUND_ATTEMPTS
from bot.store.feed import DeliveryState
from tests.e2e.bot_fixtures import BotProcess, FakeClock, eventually, start_bot
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
from tests.e2e.test_feed_crash import recorded_items, serve_around_now
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.faults import Fault
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

REFUSED_LINE = "Discord refused DISCORD_TOKEN (401"


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


async def states(bot: FeedBot, channel: str) -> dict[str, DeliveryState]:
    """paper id → the channel's delivery of it, for every paper served today."""
    deliveries = bot.running.services.feed.outbox
    ids = [item["paper"]["id"] for item in RAW_ITEMS]
    return await deliveries.states_for(bot.fake.channel(channel), ids)


# --- 401: the token was reset while the bot runs ---------------------------------------------


async def closed_for_the_token(bot: FeedBot, caplog: pytest.LogCaptureFixture) -> None:
    """The bot closed itself, exit status 1, after saying so in exactly one line."""
    fake = bot.fake
    await fake.wait_for(lambda: fake.gateway.close_codes != [], describe="the bot closing")
    assert bot.running.bot.fatal_exit_status == EXIT_TOKEN_REFUSED
    refused = [r for r in caplog.records if REFUSED_LINE in r.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.ERROR
    assert "pending deliveries are kept" in refused[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a refused token"


async def test_a_reset_token_stops_every_send_keeps_every_delivery_and_closes_the_bot(
    feed_bot: FeedBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake = feed_bot.fake
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    caplog.set_level(logging.INFO)
    fake.reset_token()  # the owner resets the token in the developer portal

    feed_bot.serve(items(12))
    await feed_bot.running.poll()
    await closed_for_the_token(feed_bot, caplog)

    assert fake.messages("papers") == fake.messages("agents") == []
    for channel in ("papers", "agents"):
        found = await states(feed_bot, channel)
        assert len(found) == 12
        # Nothing dropped, nothing marked as tried: every paper goes out with the new token.
        assert {(s.state, s.attempts, s.error) for s in found.values()} == {("pending", 0, None)}
    assert 1 <= [e.status for e in fake.errors].count(401) <= 2  # one per channel at most
    listing = await feed_bot.running.services.feed.list_for_guild(fake.guild_id)
    assert [(s.subscription.paused, s.pending) for s in listing] == [(False, 12), (False, 12)]


async def test_a_reset_token_during_a_notice_stops_everything_and_keeps_the_notice(
    feed_bot: FeedBot, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    fake = feed_bot.fake
    feed = feed_bot.running.services.feed
    await feed_bot.subscribe("papers")
    feed_bot.serve(items(3))
    caplog.set_level(logging.INFO)
    fake.reset_token()
    # The bot learns it lost Embed Links: the channel pauses and gets one notice.
    await feed.record_forbidden(fake.channel("papers"), ["Embed Links"])
    await closed_for_the_token(feed_bot, caplog)

    (notice,) = await feed.outbox.due_notices(fake.channel("papers"), clock())
    assert (notice.kind, notice.attempts) == ("paused", 0)  # still to be sent, never tried
    assert fake.messages("papers") == []


async def test_a_reset_token_during_an_upvote_edit_stops_everything(
    feed_bot: FeedBot, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    fake = feed_bot.fake
    top = RAW_ITEMS[0]["paper"]["id"]
    await feed_bot.subscribe("papers")
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (message,) = fake.messages("papers")
    caplog.set_level(logging.INFO)
    fake.reset_token()

    clock.advance(minutes=31)
    feed_bot.serve(items(1, **{key(top): 140}))
    await feed_bot.running.poll()
    await closed_for_the_token(feed_bot, caplog)
    assert [e.status for e in fake.errors] == [401]  # the edit, and nothing after it
    post = await feed_bot.running.services.feed.posts.get(int(message["id"]))
    assert post is not None
    assert (post.shown_upvotes, post.edited_at) == (90, None)  # due again at the next start


async def test_the_bot_process_exits_with_status_1_and_one_line_when_its_token_is_reset(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    chosen = recorded_items(5)
    serve_around_now(fake_hf, chosen)
    db = tmp_path / "papers.db"
    bot = BotProcess(fake, fake_hf, tmp_path)
    await bot.start()
    try:

        async def stored() -> bool:
            with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
                return bool(conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 5)

        assert await eventually(stored, within=20), "the first poll never stored the papers"
        held = fake.hold("POST", posts_route(fake, "papers"))
        record = await fake.slash("feed subscribe", options={"channel": "papers"})
        assert "5 paper(s) are on their way now" in text_of(await record.answer(timeout=10))
        await fake.wait_for(lambda: held.hits == 1, 10, "the first post in flight")
        fake.reset_token()
        held.release()  # Discord now answers it 401
        assert bot.process is not None
        status = await asyncio.wait_for(bot.process.wait(), 30)
    finally:
        if bot.process is not None and bot.process.returncode is None:
            await bot.stop()

    assert status == 1, bot.log()
    log = bot.log()
    assert log.count(REFUSED_LINE) == 1, log
    assert "Traceback" not in log
    assert fake.messages("papers") == []
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        rows = Counter(conn.execute("SELECT state, attempts FROM outbox WHERE kind = 'post'"))
    assert rows == Counter({("pending", 0): 5})


async def test_a_token_reset_the_gateway_reports_first_exits_1_with_one_line(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    bot = BotProcess(fake_discord, fake_hf, tmp_path)
    await bot.start()
    try:
        fake_discord.reset_token()
        await fake_discord.drop_connection()  # discord.py resumes with the old token: 4004
        assert bot.process is not None
        status = await asyncio.wait_for(bot.process.wait(), 30)
    finally:
        if bot.process is not None and bot.process.returncode is None:
            await bot.stop()
    log = bot.log()
    assert status == EXIT_TOKEN_REFUSED, log
    assert log.count("Discord's gateway refused DISCORD_TOKEN (4004)") == 1, log
    assert "Traceback" not in log


# --- 403: pause only when Discord says the bot lacks access or permissions ------------------


@pytest.mark.parametrize("code", [50001, 50013])
async def test_a_403_for_missing_access_or_permissions_pauses(feed_bot: FeedBot, code: int) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    fake.fail("POST", posts_route(fake, "papers"), 403, code=code)
    feed_bot.serve(items(3))
    await feed_bot.poll()
    assert feed_bot.posted("papers") == []
    (notice,) = feed_bot.notices("papers")
    assert "paused posting papers here" in notice
    assert "⏸️ paused" in text_of(await feed_bot.slash("list"))


async def test_a_403_with_another_code_is_retried_and_the_papers_go_out(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    fake.fail("POST", posts_route(fake, "papers"), 403, times=2, code=40333)
    chosen = items(3)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == by_upvotes(chosen)  # each once, in order
    assert feed_bot.notices("papers") == []
    listing = text_of(await feed_bot.slash("list"))
    assert "▶️ active" in listing
    assert [(e.status, e.code) for e in fake.errors] == [(403, 40333), (403, 40333)]


# --- 404: remove the subscription only when the channel is unknown ---------------------------


async def test_a_404_unknown_channel_removes_the_subscription(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    fake.fail("POST", posts_route(fake, "papers"), 404, code=10003)
    feed_bot.serve(items(2))
    await feed_bot.poll()
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))


async def test_another_404_is_retried_a_few_times_then_dropped_with_the_reason(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    route = posts_route(fake, "papers")
    await feed_bot.subscribe("papers")
    (lost,) = by_upvotes(items(1))
    refusing = fake.fail("POST", route, 404, times=None)
    feed_bot.serve(items(1))
    await feed_bot.poll()

    assert feed_bot.posted("papers") == []
    assert len(fake.requests_to("POST", route)) == NOT_FOUND_ATTEMPTS  # then it gave up
    state = (await states(feed_bot, "papers"))[lost]
    assert (state.state, state.attempts) == ("dropped", NOT_FOUND_ATTEMPTS)
    preview = text_of(await feed_bot.slash("preview", channel="papers"))
    assert (
        f"{lost}) — ⚠️ dropped: gave up after {NOT_FOUND_ATTEMPTS} attempts: 404 Not Found"
    ) in preview

    # The channel itself is fine: it stays subscribed and gets the next paper.
    fake.faults.active.remove(refusing)
    assert "▶️ active" in text_of(await feed_bot.slash("list"))
    chosen = items(2)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == [p for p in by_upvotes(chosen) if p != lost]


# --- 400 and other 4xx ----------------------------------------------------------------------


async def test_an_invalid_form_body_drops_that_message_with_the_reason_in_preview(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    chosen = items(3)
    refused, *sent = by_upvotes(chosen)
    fake.fail(
        "POST",
        posts_route(fake, "papers"),
        400,
        code=50035,
        message="Invalid Form Body",
    )
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == sent
    state = (await states(feed_bot, "papers"))[refused]
    assert (state.state, state.attempts) == ("dropped", 1)  # not retried: it would fail again
    preview = text_of(await feed_bot.slash("preview", channel="papers"))
    assert f"{refused}) — ⚠️ dropped: 400 Invalid Form Body (code 50035)" in preview


async def test_another_4xx_is_retried_a_bounded_number_of_times_and_logged_with_its_code(
    feed_bot: FeedBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake = feed_bot.fake
    route = posts_route(fake, "papers")
    await feed_bot.subscribe("papers")
    caplog.set_level(logging.WARNING)
    (stubborn,) = by_upvotes(items(1))
    fake.fail("POST", route, 400, times=None, code=50006)
    feed_bot.serve(items(1))
    await feed_bot.poll()

    assert feed_bot.posted("papers") == []
    state = (await states(feed_bot, "papers"))[stubborn]
    assert (state.state, state.attempts) == ("dropped", CLIENT_ERROR_ATTEMPTS)
    assert state.error is not None
    assert state.error.startswith(f"gave up after {CLIENT_ERROR_ATTEMPTS} attempts: 400 ")
    assert "(code 50006)" in state.error
    logged = [r.getMessage() for r in caplog.records if stubborn in r.getMessage()]
    assert len(logged) == CLIENT_ERROR_ATTEMPTS  # each attempt, with its status and code
    assert all(re.search(r"\b400 .*\(code 50006\)", line) for line in logged)
    assert len(fake.requests_to("POST", route)) == CLIENT_ERROR_ATTEMPTS


async def test_another_4xx_that_passes_is_posted_once(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    fake.fail("POST", posts_route(fake, "papers"), 400, times=2, code=50006)
    chosen = items(3)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert sorted(feed_bot.posted("papers")) == sorted(by_upvotes(chosen))
    assert len(fake.messages("papers")) == 3


# --- the look-back before a resend finds only the feed's own post ---------------------------


def feed_posts(fake: FakeDiscord, channel: str) -> list[dict[str, Any]]:
    """The channel's messages that are not a command's answer."""
    return [m for m in fake.messages(channel) if not m.get("interaction_metadata")]


async def test_a_show_card_of_the_paper_does_not_count_as_the_feeds_post(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> None:
    fake = fake_discord
    db = tmp_path / "papers.db"
    chosen = items(3)
    top = by_upvotes(chosen)[0]
    fake_hf.set_day(clock().date(), chosen)
    async with start_bot(fake, fake_hf, db, clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        bot.worker.send_timeout = 30.0  # the bot waits for Discord; it is stopped instead
        # A member shows the top paper in the channel, publicly.
        card = await fake.slash("papers show", user="bob", channel="papers", paper=top)
        await card.answer()
        # The feed's first post (the same paper) is in flight when the bot stops: Discord
        # never creates it (it answers 503 to a bot that is gone).
        in_flight = fake.faults.add(
            Fault(
                method="POST",
                pattern=re.compile(posts_route(fake, "papers")),
                status=503,
                gate=asyncio.Event(),
            )
        )
        await bot.slash("subscribe", channel="papers")
        await fake.wait_for(lambda: in_flight.hits == 1, describe="the first post in flight")
    in_flight.release()
    await fake.wait_for(lambda: any(e.status == 503 for e in fake.errors))
    assert feed_posts(fake, "papers") == []
    fake.forget_nonces()  # hours later

    async with start_bot(fake, fake_hf, db, clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        await fake.wait_for(lambda: len(feed_posts(fake, "papers")) == 3)
        await bot.idle()
        assert fake.requests_to("GET", r"/channels/\d+/messages$")  # it looked first
        delivered = await running.services.feed.outbox.states_for(fake.channel("papers"), [top])
        assert delivered[top].state == "sent"
    order = [m["embeds"][0]["url"].rsplit("/", 1)[-1] for m in feed_posts(fake, "papers")]
    assert order == by_upvotes(chosen)  # the top paper is posted by the feed, once
    assert len(fake.messages("papers")) == 4  # and the show card is still there, untouched
