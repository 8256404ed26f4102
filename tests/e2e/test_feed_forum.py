"""A forum as the feed's target, end to end: each paper becomes a forum post whose first message
is the card, tagged with up to 5 of the forum's own tags that match its keywords.

Discord takes no nonce when it creates a forum post, so a post whose first attempt may have
reached Discord is looked for among the forum's active posts before it is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.feed import forum_tags
from bot.models import Paper
from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import FIXTURE_DAY, PAPERS_BY_ID, FeedBot, items, quicken, text_of
from tests.fakes.fake_discord import FakeDiscord, Permission
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

TAGS = ["Agents", "LLM", "Reinforcement Learning", "Benchmark", "Diffusion", "Vision", "Robotics"]
KEYWORDS = "robotics, agents"


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> AsyncIterator[FeedBot]:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY), hour=9)  # the recorded day
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def forum_items() -> list[dict[str, object]]:
    """Three recorded papers whose Hugging Face keywords are set for the forum's tags."""
    chosen = items(3)
    keywords = [
        # Seven matching tags (one only moderators may apply): the first five by preference.
        [
            "reinforcement  learning",
            "agents",
            "LLM",
            "benchmark",
            "diffusion",
            "vision",
            "announcement",
            "robotics",
        ],
        ["agents"],
        ["Agents", "Vision", "quantum chemistry"],
    ]
    for item, words in zip(chosen, keywords, strict=True):
        item["paper"]["ai_keywords"] = words
    return chosen  # type: ignore[return-value]


def outbox_posts(db: Path) -> list[tuple[str, str, int | None, int | None]]:
    """(paper, state, message id, channel of the message in ``posts``) of every post row."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(
            conn.execute(
                "SELECT o.paper_id, o.state, o.message_id, p.channel_id FROM outbox AS o"
                " LEFT JOIN posts AS p ON p.message_id = o.message_id"
                " WHERE o.kind = 'post' ORDER BY o.paper_id"
            )
        )


async def test_each_paper_becomes_a_forum_post_with_matching_tags(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    fake = feed_bot.fake
    forum = fake.add_forum("paper-forum", TAGS, moderated=["Announcement"])
    await fake.settle()
    chosen = forum_items()
    feed_bot.serve(chosen)  # type: ignore[arg-type]
    await feed_bot.poll()

    text = await feed_bot.subscribe("paper-forum", keywords=KEYWORDS)
    assert "Subscribed" in text and "🗂️ a forum post for each paper" in text
    await feed_bot.idle()

    assert fake.messages(forum) == []  # nothing is posted in the forum itself
    posts = fake.forum_posts(forum)
    ids = [item["paper"]["id"] for item in chosen]  # type: ignore[index]
    by_paper = {post["message"]["embeds"][0]["url"].rsplit("/", 1)[1]: post for post in posts}
    assert sorted(by_paper) == sorted(ids)
    for post in posts:
        # The first message is the card, in the post (the thread), with the post's id.
        assert post["message"]["id"] == post["id"]
        assert post["message"]["channel_id"] == post["id"]
        assert post["owner_id"] == str(fake.bot_user_id)
        assert post["message"]["components"], "the card keeps its Bookmark button"
        assert [r["emoji"]["name"] for r in post["message"]["reactions"]] == ["🔖"]
    first, second, third = (by_paper[paper_id] for paper_id in ids)
    assert first["name"] == PAPERS_BY_ID[ids[0]].title
    # The subscription's keywords the paper matches first, then Hugging Face's; at most 5;
    # never a moderated tag; case and spacing ignored.
    assert first["tags"] == ["Robotics", "Agents", "Reinforcement Learning", "LLM", "Benchmark"]
    assert second["tags"] == ["Agents"]
    assert third["tags"] == ["Agents", "Vision"]

    # Edits and reactions go to the first message in its post: ``posts`` records the thread.
    rows = outbox_posts(tmp_path / "papers.db")
    assert [state for _, state, _, _ in rows] == ["sent"] * 3
    assert all(message == channel for _, _, message, channel in rows)
    listing = text_of(await feed_bot.slash("list"))
    assert "🗂️ a forum post for each paper, tagged by its keywords" in listing

    # Live upvotes: the card is edited where it is, in its post.
    chosen[0]["paper"]["upvotes"] = 500  # type: ignore[index]
    feed_bot.serve(chosen)  # type: ignore[arg-type]
    feed_bot.running.clock.advance(minutes=31)
    await feed_bot.poll()
    (edit,) = fake.requests_to("PATCH", r"/messages/")
    assert edit.path == f"/channels/{first['id']}/messages/{first['id']}"
    assert "500" in str(fake.message(int(first["id"]))["embeds"])


async def test_a_forum_post_that_may_have_reached_discord_is_not_posted_twice(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    """The first attempt times out while Discord creates the post anyway. The retry finds it
    among the forum's active posts (there is no nonce for forum posts) and records it."""
    fake = feed_bot.fake
    forum = fake.add_forum("paper-forum", TAGS)
    await fake.settle()
    feed_bot.serve(forum_items()[:1])  # type: ignore[arg-type]
    await feed_bot.poll()
    feed_bot.running.services.feed.retry_base = timedelta(minutes=1)
    slowed = fake.slow("POST", rf"/channels/{forum}/threads$", seconds=1.0)  # > send_timeout

    await feed_bot.slash("subscribe", channel="paper-forum")
    await fake.wait_for(lambda: slowed.hits == 1, 10, "the forum post in flight")
    await fake.wait_for(lambda: len(fake.forum_posts(forum)) == 1, 10, "Discord creates it")
    await asyncio.wait_for(feed_bot.worker.wait_until_idle(), 10)  # timed out, retry later
    ((_, state, _, _),) = outbox_posts(tmp_path / "papers.db")
    assert state == "pending"

    feed_bot.running.clock.advance(minutes=5)  # the retry is due
    feed_bot.worker.wake()
    await feed_bot.idle()

    (post,) = fake.forum_posts(forum)
    assert len(fake.requests_to("POST", rf"/channels/{forum}/threads$")) == 1
    assert fake.requests_to("GET", rf"/guilds/{fake.guild_id}/threads/active$")
    ((_, state, message_id, channel_id),) = outbox_posts(tmp_path / "papers.db")
    assert state == "sent" and message_id == channel_id == int(post["id"])


async def test_a_forum_needs_the_thread_permissions_at_subscribe(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    forum = fake.add_forum("paper-forum", TAGS)
    fake.deny_bot(forum, Permission.SEND_MESSAGES_IN_THREADS)
    await fake.settle()
    text = await feed_bot.subscribe("paper-forum")
    assert "I can't create forum posts in" in text
    assert "I'm missing Send Messages in Threads there" in text
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))


def test_the_tag_rule_prefers_the_subscriptions_keywords_and_stops_at_five() -> None:
    paper = Paper(
        id="2606.00001",
        title="Robots that read",
        abstract="We teach robots to read papers.",
        ai_keywords=("Vision", "llm", "Benchmark", "diffusion", "agents", "robots"),
    )
    available = [*TAGS, "robots"]
    assert forum_tags(available, paper, "") == ["Vision", "LLM", "Benchmark", "Diffusion", "Agents"]
    # "robots" is a keyword of the subscription the paper matches: it comes first.
    assert forum_tags(available, paper, "robots, quantum, -survey")[0] == "robots"
    assert forum_tags([], paper, "robots") == []


async def test_a_deleted_forum_loses_its_subscription(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    forum = fake.add_forum("paper-forum", TAGS)
    await fake.settle()
    await feed_bot.subscribe("paper-forum")
    fake.delete_channel(forum)
    await fake.settle()
    feed_bot.serve(forum_items()[:1])  # type: ignore[arg-type]
    await feed_bot.poll()

    # Not in discord.py's cache any more: Discord is asked, says 404/10003, the feed stops.
    assert fake.requests_to("GET", rf"/channels/{forum}$")
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))
