"""A post's thread, and a forum post, are created once across a crash: SIGKILL ``python -m bot``
after Discord created it but before the bot recorded it.

As in tests/e2e/test_feed_crash.py, the test holds the database's write lock while the thread
request is in flight, so the bot cannot record the answer, and kills the process once Discord
shows the thread. After the restart the thread's row is "maybe sent"; the bot asks again, Discord
answers 400/160004 (a thread has already been created for this message), and the bot records
the thread as opened. Every post has exactly one thread. A forum post has no nonce: after the
restart the bot finds it among the forum's active posts and records it instead of posting again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.bot_fixtures import BotProcess, eventually
from tests.e2e.test_feed_crash import recorded_items, serve_around_now, write_lock
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

PAPERS = 3


def thread_rows(db: Path) -> list[tuple[str, int, int | None, int | None]]:
    """(state, attempts, thread id, its post's message id) of every thread row."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(
            conn.execute(
                "SELECT t.state, t.attempts, t.message_id, p.message_id FROM outbox AS t"
                " JOIN outbox AS p ON p.kind = 'post' AND p.channel_id = t.channel_id"
                " AND p.paper_id = t.paper_id WHERE t.kind = 'thread' ORDER BY t.id"
            )
        )


async def test_sigkill_between_a_thread_and_its_record_opens_it_once(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    serve_around_now(fake_hf, recorded_items(PAPERS))
    db = tmp_path / "papers.db"
    channel = fake.channel("papers")
    threads_route = rf"/channels/{channel}/messages/\d+/threads$"
    # The first thread request takes a while in Discord; the database is locked meanwhile.
    slowed = fake.slow("POST", threads_route, seconds=1.0)
    bot = BotProcess(fake, fake_hf, tmp_path)
    await bot.start()
    try:
        record = await fake.slash("feed subscribe", options={"channel": "papers"}, thread=True)
        await record.answer(timeout=10)
        await fake.wait_for(lambda: slowed.hits == 1, 20, "the first thread request in flight")
        with write_lock(db):
            # Discord opens the thread; the bot, blocked on the lock, cannot record it: kill.
            await fake.wait_for(lambda: len(fake.threads("papers")) == 1, 10, "the thread")
            await bot.kill()
        assert len(fake.messages("papers")) == PAPERS
        maybe = [row for row in thread_rows(db) if row[0] == "pending" and row[1] > 0]
        assert len(maybe) == 1, thread_rows(db)  # Discord has it; the database does not know

        await bot.start()
        await fake.wait_for(
            lambda: len(fake.threads("papers")) == PAPERS, 30, "a thread on every post"
        )
        assert await eventually(lambda: _all_sent(db), within=10), (
            f"thread rows after the restart: {thread_rows(db)}"
        )
    finally:
        if bot.process is not None:
            await bot.stop()

    posts = {int(m["id"]) for m in fake.messages("papers")}
    threads = fake.threads("papers")
    assert len(posts) == PAPERS
    assert sorted(int(t["id"]) for t in threads) == sorted(posts)  # one thread on each post
    rows = thread_rows(db)
    assert all(thread == post for _, _, thread, post in rows)
    # The retry of the thread Discord had opened was answered 160004 and recorded as done.
    assert [(e.status, e.code) for e in fake.errors] == [(400, 160004)]
    assert len(fake.requests_to("POST", threads_route)) == PAPERS + 1


async def _all_sent(db: Path) -> bool:
    rows = thread_rows(db)
    return len(rows) == PAPERS and all(state == "sent" for state, *_ in rows)


def post_rows(db: Path) -> list[tuple[str, int]]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(conn.execute("SELECT state, attempts FROM outbox WHERE kind = 'post'"))


async def test_sigkill_between_a_forum_post_and_its_record_posts_it_once(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    forum = fake.add_forum("paper-forum", ["Agents"])
    serve_around_now(fake_hf, recorded_items(PAPERS))
    db = tmp_path / "papers.db"
    posts_route = rf"/channels/{forum}/threads$"
    slowed = fake.slow("POST", posts_route, seconds=1.0)
    bot = BotProcess(fake, fake_hf, tmp_path)
    await bot.start()
    try:
        record = await fake.slash("feed subscribe", options={"channel": "paper-forum"})
        await record.answer(timeout=10)
        await fake.wait_for(lambda: slowed.hits == 1, 20, "the first forum post in flight")
        with write_lock(db):
            await fake.wait_for(lambda: len(fake.forum_posts(forum)) == 1, 10, "the post")
            await bot.kill()
        assert post_rows(db).count(("pending", 1)) == 1  # Discord has it; the database not

        await bot.start()
        await fake.wait_for(
            lambda: len(fake.forum_posts(forum)) == PAPERS, 30, "every paper in the forum"
        )
        assert await eventually(lambda: _posts_sent(db), within=10), (
            f"post rows after the restart: {post_rows(db)}"
        )
    finally:
        if bot.process is not None:
            await bot.stop()

    papers = [p["message"]["embeds"][0]["url"] for p in fake.forum_posts(forum)]
    assert len(set(papers)) == PAPERS == len(papers)  # each paper posted once
    assert len(fake.requests_to("POST", posts_route)) == PAPERS  # the first one not again
    assert fake.requests_to("GET", rf"/guilds/{fake.guild_id}/threads/active$")


async def _posts_sent(db: Path) -> bool:
    rows = post_rows(db)
    return len(rows) == PAPERS and all(state == "sent" for state, _ in rows)
