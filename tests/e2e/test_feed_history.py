"""Exactly once after Discord has forgotten a nonce: the channel's history is checked first.

Discord honours ``enforce_nonce`` for a few minutes only. A delivery that was attempted but never
recorded (the bot died while Discord was creating the message) may be resent much later, when
the nonce no longer protects it; before resending, the bot looks for its post in the channel's
recent messages. The fake forgets nonces on demand (``forget_nonces``), so only that check can
prevent the duplicate here.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import BOOKMARK, FeedBot, by_upvotes, items, quicken
from tests.fakes.fake_discord import FakeDiscord, Permission
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

HISTORY = r"/channels/\d+/messages$"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.on(date(2026, 6, 12), hour=9)  # the recorded day (tests/e2e/test_feed.py)


# These tests are about whole fan-outs (feed_first_batch=100), not a first batch of 5.


async def crash_with_a_post_in_flight(
    fake: FakeDiscord, hf: FakeHF, db: Path, clock: FakeClock, papers: int
) -> str:
    """Subscribe #papers to ``papers`` papers and stop the bot while Discord is creating the
    first post; Discord then creates it, and the bot never learns its id. Returns its paper."""
    route = rf"/channels/{fake.channel('papers')}/messages$"
    hf.set_day(clock().date(), items(papers))
    async with start_bot(fake, hf, db, clock=clock, feed_first_batch=100) as running:
        bot = FeedBot(running)
        quicken(bot)
        bot.worker.send_timeout = 30.0  # the bot waits for Discord; it is stopped instead
        held = fake.slow("POST", route, seconds=0.5)
        await bot.slash("subscribe", channel="papers")
        await fake.wait_for(lambda: held.hits == 1, describe="the first post in flight")
    # The bot is gone; Discord finishes creating the message it was sent.
    await fake.wait_for_messages("papers", 1)
    assert len(fake.messages("papers")) == 1
    return bot.posted("papers")[0]


async def test_a_post_discord_created_before_a_crash_is_found_in_history_not_resent(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> None:
    fake = fake_discord
    db = tmp_path / "papers.db"
    first = await crash_with_a_post_in_flight(fake, fake_hf, db, clock, 8)
    (original,) = fake.messages("papers")
    assert fake.reaction_users(original, BOOKMARK) == []  # the bot died before reacting
    fake.forget_nonces()  # hours later: the nonce no longer protects the resend

    async with start_bot(fake, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        bot = FeedBot(running)
        quicken(bot)
        await fake.wait_for_messages("papers", 8)
        await bot.idle()
        assert bot.posted("papers") == by_upvotes(items(8))
        assert fake.messages("papers")[0]["id"] == original["id"]
        assert fake.stats["nonce_duplicates"] == 0  # nothing was resent
        assert fake.requests_to("GET", HISTORY)
        # The message found is recorded as the delivery and resolves to its paper.
        posts = running.services.feed.posts
        assert await posts.paper_for_message(int(original["id"])) == first
        assert fake.reaction_users(original["id"], BOOKMARK) == [fake.bot_user_id]
        listing = await running.services.feed.list_for_guild(fake.guild_id)
        assert [(s.delivered, s.pending) for s in listing] == [(8, 0)]
    counts = Counter(bot.posted("papers"))
    assert set(counts.values()) == {1}


@pytest.mark.parametrize("obstacle", ["no_read_message_history", "history_fails"])
async def test_without_the_history_the_nonce_still_prevents_a_duplicate(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock, obstacle: str
) -> None:
    fake = fake_discord
    db = tmp_path / "papers.db"
    if obstacle == "no_read_message_history":
        fake.deny_bot("papers", Permission.READ_MESSAGE_HISTORY)
    await crash_with_a_post_in_flight(fake, fake_hf, db, clock, 4)
    if obstacle == "history_fails":
        fake.fail("GET", HISTORY, 403, code=50001)

    async with start_bot(fake, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        bot = FeedBot(running)
        quicken(bot)
        await fake.wait_for_messages("papers", 4)
        await bot.idle()
        assert bot.posted("papers") == by_upvotes(items(4))
        assert len(fake.messages("papers")) == 4
        assert fake.stats["nonce_duplicates"] == 1  # Discord answered the resend with the post
        reads = fake.requests_to("GET", HISTORY)
        assert len(reads) == (0 if obstacle == "no_read_message_history" else 1)


async def test_the_fakes_message_history_is_newest_first_and_limited(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    for n in range(60):
        await fake.post_message("papers", f"message {n}", user="alice")
    url = f"{fake.api_base}/channels/{fake.channel('papers')}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url) as response:
            default = await response.json()
        async with http.get(url, params={"limit": "3"}) as response:
            newest = await response.json()
        async with http.get(url, params={"limit": "2", "before": newest[-1]["id"]}) as response:
            older = await response.json()
        async with http.get(url, params={"limit": "101"}) as response:
            assert response.status == 400
        fake.deny_bot("papers", Permission.READ_MESSAGE_HISTORY)
        async with http.get(url, params={"limit": "3"}) as response:
            hidden = await response.json()
    assert len(default) == 50
    assert default[0]["content"] == "message 59"
    assert [m["content"] for m in newest] == ["message 59", "message 58", "message 57"]
    assert [m["content"] for m in older] == ["message 56", "message 55"]
    assert hidden == []  # what Discord answers without Read Message History
    fake.errors.clear()
