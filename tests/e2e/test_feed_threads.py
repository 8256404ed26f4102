"""``thread: true`` end to end: a public thread on each post, named after its paper, opened once.

The thread's outbox row is queued in the transaction that records the post, and Discord allows
one thread per message (a second is answered 400/160004), so a retry after Discord created the
thread records it as done instead of failing. The crash between the post and its thread is in
tests/e2e/test_feed_thread_crash.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.feed import thread_name
from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import FIXTURE_DAY, FeedBot, items, quicken, text_of
from tests.fakes.fake_discord import FakeDiscord, Permission
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

LONG_TITLE = "A Very Long Title\nthat spans lines: " + "scaling laws for everything " * 6


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> AsyncIterator[FeedBot]:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY), hour=9)  # the recorded day
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def outbox_threads(db: Path) -> list[tuple[str, str, int | None, int | None]]:
    """(paper, state, thread id, its post's message id) of every thread row."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(
            conn.execute(
                "SELECT t.paper_id, t.state, t.message_id, p.message_id FROM outbox AS t"
                " JOIN outbox AS p ON p.kind = 'post' AND p.channel_id = t.channel_id"
                " AND p.paper_id = t.paper_id WHERE t.kind = 'thread' ORDER BY t.paper_id"
            )
        )


async def test_each_post_gets_one_thread_named_after_its_paper(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    chosen = items(3)
    chosen[1]["paper"]["title"] = chosen[1]["title"] = LONG_TITLE
    feed_bot.serve(chosen)
    await feed_bot.poll()

    text = await feed_bot.subscribe("papers", thread=True)
    assert "🧵 a thread on each post" in text
    await feed_bot.idle()

    fake = feed_bot.fake
    posts = {m["id"]: m for m in fake.messages("papers")}
    threads = fake.threads("papers")
    assert len(posts) == 3 and len(threads) == 3
    # Each thread is opened on one of the posts (it takes the message's id), by the bot.
    assert {t["id"] for t in threads} == set(posts)
    assert {t["owner_id"] for t in threads} == {str(fake.bot_user_id)}
    names = {t["name"] for t in threads}
    long_name = " ".join(LONG_TITLE.split())[:99].rstrip() + "…"
    assert long_name in names and len(long_name) == 100
    assert "\n" not in "".join(names)
    assert names - {long_name} == {item["paper"]["title"] for item in chosen} - {LONG_TITLE}
    assert thread_name(LONG_TITLE) == long_name
    rows = outbox_threads(tmp_path / "papers.db")
    assert [state for _, state, _, _ in rows] == ["sent"] * 3
    assert all(thread == post for _, _, thread, post in rows)

    # Re-subscribing with other options keeps threads on; /feed list and preview say so.
    text = await feed_bot.subscribe("papers", min_upvotes=1)
    assert "🧵 a thread on each post" in text
    assert "🧵 a thread on each post" in text_of(await feed_bot.slash("list"))
    assert "🧵 a thread on each post" in text_of(await feed_bot.slash("preview", channel="papers"))
    assert len(fake.threads("papers")) == 3  # nothing opened twice

    # thread: false stops them for later posts; /feed list no longer shows it.
    text = await feed_bot.subscribe("papers", thread=False)
    assert "🧵" not in text_of(await feed_bot.slash("list"))


async def test_a_thread_that_already_exists_is_recorded_as_done(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    """A member opens a thread on the post first: Discord answers the bot's request 160004,
    which means the post has its thread. Recorded as sent, not retried, not an error."""
    fake = feed_bot.fake
    feed_bot.serve(items(1))
    await feed_bot.poll()
    channel = fake.channel("papers")
    held = fake.hold("POST", rf"/channels/{channel}/messages/\d+/threads$")
    await feed_bot.slash("subscribe", channel="papers", thread=True)
    await fake.wait_for(lambda: held.hits == 1, 10, "the bot's thread request in flight")
    (post,) = fake.messages("papers")
    await fake.open_thread("papers", post, "alice's thoughts", user="alice")
    held.release()
    await feed_bot.idle()

    (thread,) = fake.threads("papers")
    assert thread["name"] == "alice's thoughts"
    assert [(e.status, e.code) for e in fake.errors] == [(400, 160004)]
    assert len(fake.requests_to("POST", rf"/channels/{channel}/messages/\d+/threads$")) == 1
    ((_, state, thread_id, post_id),) = outbox_threads(tmp_path / "papers.db")
    assert state == "sent" and thread_id == post_id == int(post["id"])


async def test_subscribe_with_threads_says_which_thread_permission_is_missing(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    fake.deny_bot("papers", Permission.CREATE_PUBLIC_THREADS)
    await fake.settle()
    text = await feed_bot.subscribe("papers", thread=True)
    assert "I can't open a thread on each paper in" in text
    assert "I'm missing Create Public Threads there" in text
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))

    fake.deny_bot("papers", Permission.CREATE_PUBLIC_THREADS, Permission.SEND_MESSAGES_IN_THREADS)
    await fake.settle()
    text = await feed_bot.subscribe("papers", thread=True)
    assert "missing Create Public Threads and Send Messages in Threads there" in text

    # Without threads the channel can be subscribed; asking for them later is refused too.
    assert "Subscribed" in await feed_bot.subscribe("papers")
    text = await feed_bot.subscribe("papers", thread=True)
    assert "missing Create Public Threads and Send Messages in Threads there" in text
    assert "🧵" not in text_of(await feed_bot.slash("list"))


async def test_threads_taken_away_later_pause_the_channel_until_it_is_fixed(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    """Create Public Threads removed after subscribing: the post goes out, its thread cannot,
    so the subscription pauses with a notice naming the permission; once it is granted again,
    subscribing again opens the thread that waited."""
    fake = feed_bot.fake
    await feed_bot.subscribe("papers", thread=True)
    fake.deny_bot("papers", Permission.CREATE_PUBLIC_THREADS)
    await fake.settle()
    feed_bot.serve(items(1))
    await feed_bot.poll()

    assert len(feed_bot.posted("papers")) == 1 and fake.threads("papers") == []
    (notice,) = feed_bot.notices("papers")
    assert "I'm missing Create Public Threads in this channel" in notice
    assert "paused" in text_of(await feed_bot.slash("list"))
    assert fake.requests_to("POST", r"/threads$") == []  # known from the gateway: not tried

    fake.set_overwrite("papers", user=fake.bot_user_id, deny=[])
    await fake.settle()
    assert "Resumed" in await feed_bot.subscribe("papers")
    await feed_bot.idle()
    (thread,) = fake.threads("papers")
    assert thread["id"] == fake.messages("papers")[0]["id"]
    ((_, state, _, _),) = outbox_threads(tmp_path / "papers.db")
    assert state == "sent"
