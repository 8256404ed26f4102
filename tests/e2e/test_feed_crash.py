"""Exactly once across a crash: SIGKILL ``python -m bot`` in the middle of a 30-paper fan-out.

The kill lands in the worst place on purpose: Discord has accepted a post, but the bot has not
recorded its message id yet. The test holds the database's write lock while that post is in
flight, so the bot cannot record it, and kills the process once Discord shows the message.
The restart comes "hours later": the fake has forgotten the nonce, as Discord does after a few
minutes, so a resend would create a second message. The bot reads the channel's latest messages
before resending a delivery it had attempted, finds its post there and records it; every paper
is in the channel once. (Without Read Message History it relies on the nonce alone:
tests/e2e/test_feed_history.py.)
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HF_API
from tests.e2e.bot_fixtures import BotProcess
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

PAPERS = 30
PAPER_URL = re.compile(r"/papers/(?P<id>[^/?#]+)$")


def recorded_items(count: int) -> list[dict[str, Any]]:
    recorded = json.loads((HF_API / "daily_papers_2026-06-12.json").read_text(encoding="utf-8"))
    recorded += json.loads((HF_API / "daily_papers_2025-10-03.json").read_text(encoding="utf-8"))
    return recorded[:count]


def serve_around_now(hf: FakeHF, chosen: list[dict[str, Any]]) -> None:
    """Serve ``chosen`` whatever day the bot in its own process believes it is.

    That bot runs on the real clock, and the UTC date may change while the test runs: before
    its first poll, or between that poll and the subscription. So every day it may ask for
    (yesterday, today and tomorrow as the test sees them) serves the papers, each copy listed
    on the day *after* the one asked for. A bot whose today is B fetches B-1 and B and finds
    them listed on B and B+1: among the recent papers it plans from, and on or after the first
    day of a subscription made on B or B+1. No midnight can make them "history".
    """
    today = datetime.now(UTC).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        served = copy.deepcopy(chosen)
        for item in served:
            item["paper"]["submittedOnDailyAt"] = f"{day + timedelta(days=1)}T06:00:00.000Z"
        hf.set_day(day, served)


def posted(fake: FakeDiscord, channel: str) -> list[str]:
    return [
        match["id"]
        for message in fake.messages(channel)
        for embed in message["embeds"]
        if (match := PAPER_URL.search(embed.get("url") or ""))
    ]


@contextlib.contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Hold SQLite's write lock (another process's writes wait, up to their busy timeout)."""
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def delivery_states(db: Path) -> Counter[str]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return Counter(
            state for (state,) in conn.execute("SELECT state FROM outbox WHERE kind = 'post'")
        )


def maybe_sent(db: Path) -> list[tuple[str, str]]:
    """(paper, nonce) of deliveries attempted but not recorded as sent."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(
            conn.execute(
                "SELECT paper_id, nonce FROM outbox"
                " WHERE kind = 'post' AND state = 'pending' AND attempts > 0"
            )
        )


async def test_sigkill_mid_fanout_posts_every_paper_exactly_once(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake = fake_discord
    chosen = recorded_items(PAPERS)
    serve_around_now(fake_hf, chosen)
    db = tmp_path / "papers.db"
    # A whole fan-out of 30, not a new subscription's first batch of 5.
    bot = BotProcess(fake, fake_hf, tmp_path, FEED_FIRST_BATCH="100")
    await bot.start()
    try:
        record = await fake.slash("feed subscribe", options={"channel": "papers"})
        await record.answer(timeout=10)
        await fake.wait_for_messages("papers", 10, timeout=20)

        # Hold the next post in Discord for a while; lock the database while it is in flight.
        channel = fake.channel("papers")
        held = fake.slow("POST", rf"/channels/{channel}/messages$", seconds=1.0)
        await fake.wait_for(lambda: held.hits == 1, 10, "the next post held in flight")
        before = len(fake.messages("papers"))
        with write_lock(db):
            # Discord accepts the post; the bot, blocked on the lock, cannot record it: kill.
            await fake.wait_for_messages("papers", before + 1, timeout=10)
            await bot.kill()
        assert len(posted(fake, "papers")) < PAPERS, "the fan-out had already finished"
        (unrecorded,) = maybe_sent(db)
        accepted = fake.messages("papers")[-1]
        assert accepted["nonce"] == unrecorded[1]  # Discord has it; the database does not know
        fake.forget_nonces()  # the nonce's few minutes are over: it no longer prevents a repeat

        await bot.start()
        await fake.wait_for(
            lambda: (
                len(set(posted(fake, "papers"))) == PAPERS
                and all(m.get("reactions") for m in fake.messages("papers"))
            ),
            timeout=30,
            describe="every paper posted (and its bookmark reaction added) after the restart",
        )
        assert delivery_states(db) == Counter({"sent": PAPERS})
    finally:
        if bot.process is not None:
            await bot.stop()

    counts = Counter(posted(fake, "papers"))
    assert sorted(counts) == sorted(item["paper"]["id"] for item in chosen)
    assert set(counts.values()) == {1}, f"duplicated: {[p for p, n in counts.items() if n > 1]}"
    assert len(fake.messages("papers")) == PAPERS
    assert fake.requests_to("GET", rf"/channels/{channel}/messages$")  # it looked first
    assert fake.stats["nonce_duplicates"] == 0  # and did not resend
