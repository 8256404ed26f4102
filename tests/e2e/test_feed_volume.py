"""Volume control end to end, through the fake Discord: the daily cap across polls, the first
batch of a new subscription, and the daily digest, posted once at its time in the server's time
zone across a restart just before it and a SIGKILL just after Discord accepted it."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_fixtures import BotProcess, FakeClock, eventually, start_bot
from tests.e2e.test_feed import RAW_ITEMS, FeedBot, by_upvotes, items, key, quicken, text_of
from tests.e2e.test_feed_crash import write_lock
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

DIGEST_FOOTER = "papers-bot daily digest for "


def listed_on(day: date, count: int) -> list[dict[str, Any]]:
    """The first ``count`` recorded items, listed on ``day``."""
    chosen = copy.deepcopy(RAW_ITEMS[:count])
    for item in chosen:
        item["paper"]["submittedOnDailyAt"] = f"{day.isoformat()}T06:00:00.000Z"
    return chosen


def digests(fake: FakeDiscord, channel: str) -> list[dict[str, Any]]:
    """The channel's digest messages (their embed's footer names the day)."""
    return [
        message
        for message in fake.messages(channel)
        if any(
            (embed.get("footer") or {}).get("text", "").startswith(DIGEST_FOOTER)
            for embed in message["embeds"]
        )
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 6, 12, 9, tzinfo=UTC))


async def test_max_per_day_holds_its_boundary_across_two_polls_with_upvotes_changing_order(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> None:
    first, second, third, fourth = (item["paper"]["id"] for item in RAW_ITEMS[:4])
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        reply = await bot.subscribe("papers", max_per_day=2)
        assert "at most 2 posts per listing day" in reply
        votes = {key(first): 30, key(second): 20, key(third): 10, key(fourth): 5}
        bot.serve(items(4, **votes))
        await bot.poll()
        assert bot.posted("papers") == [first, second]  # the day's top 2

        # The third climbs to the top: it would be in the top 2 now, but 2 were posted today.
        votes |= {key(third): 90, key(fourth): 80}
        bot.serve(items(4, **votes))
        await bot.poll()
        assert bot.posted("papers") == [first, second]
        preview = text_of(await bot.slash("preview", channel="papers"))
        assert "day's cap of 2 reached" in preview
        assert "**0** would be posted" in preview
        listing = text_of(await bot.slash("list"))
        assert "Volume: at most 2 posts per listing day, the most upvoted" in listing


async def test_a_new_subscription_posts_its_first_batch_and_points_to_papers_today(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> None:
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        bot.serve(items(12))
        await bot.poll()
        reply = await bot.subscribe("papers")
        assert "only the 5 most upvoted are posted at once" in reply
        assert "7 other paper(s) are not posted; `/papers today` lists them" in reply
        assert bot.posted("papers") == by_upvotes(items(12))[:5]
        await bot.poll()
        assert len(bot.posted("papers")) == 5
        preview = text_of(await bot.slash("preview", channel="papers"))
        assert "starts with its 5 most upvoted papers at once" in preview


async def test_a_digest_posts_once_at_its_time_in_tokyo_across_restarts(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    db = tmp_path / "papers.db"
    covered = date(2026, 6, 11)
    fake_hf.set_day(covered, listed_on(covered, 8))
    # 08:50 in Tokyo on the 12th.
    clock = FakeClock(datetime(2026, 6, 11, 23, 50, tzinfo=UTC))
    async with start_bot(fake, fake_hf, db, clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        await bot.slash("timezone", zone="Asia/Tokyo")
        reply = await bot.subscribe("papers", mode="digest", at="09:00")
        assert "one digest a day at 09:00 (server time)" in reply
        await bot.poll()
        assert fake.messages("papers") == []  # no posts in digest mode, and not 09:00 yet
        preview = text_of(await bot.slash("preview", channel="papers"))
        assert "goes in the digest at 09:00" in preview
    # The bot restarts just before 09:00 Tokyo and comes back just after.
    clock.now = datetime(2026, 6, 12, 0, 1, tzinfo=UTC)
    for _restart in range(2):
        async with start_bot(fake, fake_hf, db, clock=clock) as running:
            bot = FeedBot(running)
            quicken(bot)
            await fake.wait_for_messages("papers", 1)
            await bot.poll()
            await bot.poll()
            (digest,) = fake.messages("papers")
        clock.advance(minutes=30)
    (embed,) = digest["embeds"]
    assert embed["title"] == "Daily Papers · Thu 2026-06-11"
    assert embed["footer"]["text"] == f"{DIGEST_FOOTER}2026-06-12"
    lines = embed["description"].split("\n")
    assert lines[0] == "The 8 most upvoted of 8 papers matching this channel's filters:"
    assert sum("▲" in line for line in lines) == 8
    assert [field["name"] for field in embed["fields"]] == ["Filters"]


def outbox_digests(db: Path) -> list[tuple[str, int]]:
    """(state, attempts) of every digest row."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(conn.execute("SELECT state, attempts FROM outbox WHERE kind = 'digest'"))


async def away_from_midnight(margin: float = 60.0) -> None:
    """Wait out the last ``margin`` seconds of the UTC day: the bot process below runs on the
    real clock, and a new day would make its next digest due in the middle of the test."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    left = (midnight - now).total_seconds()
    if left < margin:
        await asyncio.sleep(left + 1)


@pytest.mark.timeout(150)  # up to a minute of it may be spent waiting for midnight to pass
async def test_a_sigkill_just_after_discord_accepted_a_digest_does_not_post_it_twice(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    db = tmp_path / "papers.db"
    await away_from_midnight()
    today = datetime.now(UTC).date()
    # Whatever day the bot (on the real clock) thinks it is, the day before it has papers.
    for day in (today - timedelta(days=2), today - timedelta(days=1), today, today + timedelta(1)):
        fake_hf.set_day(day, listed_on(day, 6))
    bot = BotProcess(fake, fake_hf, tmp_path)
    await bot.start()
    try:
        channel = fake.channel("papers")
        held = fake.slow("POST", rf"/channels/{channel}/messages$", seconds=1.0)
        # 00:00 UTC has always passed: the digest is due as soon as the subscription is saved.
        record = await fake.slash(
            "feed subscribe", options={"channel": "papers", "mode": "digest", "at": "00:00"}
        )
        await record.answer(timeout=10)
        await fake.wait_for(lambda: held.hits == 1, 10, "the digest held in flight")
        with write_lock(db):
            # Discord accepts the digest; the bot, blocked on the lock, cannot record it: kill.
            await fake.wait_for_messages("papers", 1, timeout=10)
            await bot.kill()
        assert outbox_digests(db) == [("pending", 1)]  # "maybe sent"
        fake.forget_nonces()  # hours later: the nonce no longer prevents a repeat

        await bot.start()
        assert await eventually(lambda: _sent(db), within=20), bot.log()
        assert len(fake.messages("papers")) == 1
    finally:
        if bot.process is not None:
            await bot.stop()
    assert len(digests(fake, "papers")) == 1
    assert fake.requests_to("GET", rf"/channels/{channel}/messages$")  # it looked first
    assert fake.stats["nonce_duplicates"] == 0  # and did not resend


async def _sent(db: Path) -> bool:
    return [state for state, _ in outbox_digests(db)] == ["sent"]
