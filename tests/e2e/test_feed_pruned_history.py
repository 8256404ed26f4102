"""Retention end to end: a restart long after the posts prunes them, and nothing a user sees
changes: /feed list counts the same, the 🔖 on an old post still bookmarks, nothing is reposted."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bot.feed import HISTORY_KEPT
from tests.e2e.bot_fixtures import FakeClock, eventually, start_bot
from tests.e2e.test_feed import FeedBot, items, quicken, text_of
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

DAY = date(2026, 6, 12)  # the recorded day (tests/e2e/test_feed.py)
POSTED = 6
COUNTS = re.compile(r"\d+ delivered \(last [^)]*\) · \d+ waiting")


async def feed_list(bot: FeedBot) -> list[str]:
    return COUNTS.findall(text_of(await bot.slash("list")))


async def test_a_restart_long_after_prunes_the_outbox_and_shows_the_same_counts(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    db = tmp_path / "papers.db"
    clock = FakeClock.on(DAY, hour=9)
    # A whole day's fan-out (feed_first_batch=100), not a new subscription's first batch.
    fake_hf.set_day(DAY, items(POSTED))
    async with start_bot(fake_discord, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        bot = FeedBot(running)
        quicken(bot)
        await bot.subscribe("papers")
        await bot.idle()
        posted = bot.posted("papers")
        assert len(posted) == POSTED
        before = await feed_list(bot)
        assert before and before[0].startswith(f"{POSTED} delivered")

    clock.advance(days=HISTORY_KEPT.days + 10)
    fake_hf.set_day(DAY, [])  # Hugging Face has long moved on
    async with start_bot(fake_discord, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        bot = FeedBot(running)
        feed = running.services.feed
        # The start-up poll pruned every row: the papers' listing is far outside any poll window.
        assert await feed.outbox.states_for(fake_discord.channel("papers"), posted) == {}
        assert await feed_list(bot) == before
        # The post still resolves to its paper: a 🔖 on it bookmarks.
        oldest = int(fake_discord.messages("papers")[0]["id"])
        assert await fake_discord.react("papers", oldest, "🔖", user="alice") is not None
        alice = fake_discord.user("alice")
        bookmarks = running.services.bookmarks
        assert await eventually(lambda: bookmarks.count(alice)) == 1
        await bot.poll()
        assert len(bot.posted("papers")) == POSTED  # nothing was posted again
