"""The named-subscriptions migration: every subscription becomes its channel's ``default`` one
with its filters, start day and pause, and every outbox row keeps working from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.feed import ChannelAccess, FeedService
from bot.ingest import IngestService
from bot.store import sqlite as db_module
from bot.store.db import load_migrations, open_database, to_iso
from bot.store.feed import DEFAULT_NAME
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.unit.test_feed_retention import Clock, Source

GUILD = 1000
NEWS, PAUSED = 11, 12
NOW = datetime(2026, 6, 12, 9, tzinfo=UTC)
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)


async def test_subscriptions_become_default_ones_and_the_outbox_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = load_migrations()
    (step,) = [
        i for i, (_, name, _) in enumerate(steps) if name.endswith("_named_subscriptions.sql")
    ]
    monkeypatch.setattr(db_module, "load_migrations", lambda: steps[:step])
    db = await open_database(tmp_path / "bot.db")
    moment = to_iso(NOW)
    try:
        conn = db.conn
        await conn.executemany(
            "INSERT INTO papers (id, title, abstract, first_seen_at, updated_at, upvotes)"
            " VALUES (?, 'Agents at work', 'An abstract.', ?, ?, ?)",
            [(pid, moment, moment, n) for n, pid in enumerate(("2606.1", "2606.2", "2606.3"))],
        )
        await conn.executemany(
            "INSERT INTO subscriptions (channel_id, guild_id, min_upvotes, keywords, since_day,"
            " created_at, created_by, updated_at, paused_reason, paused_at, style, thread)"
            " VALUES (?, ?, ?, ?, '2026-01-01', ?, 7, ?, ?, ?, ?, ?)",
            [
                (NEWS, GUILD, 3, "agents", moment, moment, None, None, "full", 1),
                (PAUSED, GUILD, 0, "", moment, moment, "403", moment, "compact", 0),
            ],
        )
        await conn.executemany(
            "INSERT INTO outbox (kind, channel_id, paper_id, topic, body, state, nonce, attempts,"
            " message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("post", NEWS, "2606.1", None, None, "sent", "n-sent", 1, 501, moment),
                ("post", NEWS, "2606.2", None, None, "pending", "n-maybe", 2, None, moment),
                ("post", PAUSED, "2606.3", None, None, "pending", "n-wait", 0, None, moment),
                ("notice", PAUSED, None, "paused", "⏸️", "pending", "n-paused", 0, None, moment),
            ],
        )
        monkeypatch.setattr(db_module, "load_migrations", lambda: steps)
        assert await db.migrate() == [name for _, name, _ in steps[step:]]

        papers = PaperRepo(db)
        ingest = IngestService(Source(), papers, StateRepo(db), clock=Clock(NOW))
        feed = FeedService.open(db, papers, ingest, clock=Clock(NOW))
        news, paused = await feed.subscriptions.all()
        assert (news.channel_id, news.name, news.min_upvotes, news.keywords) == (
            NEWS,
            DEFAULT_NAME,
            3,
            "agents",
        )
        assert (
            news.since_day,
            news.created_by,
            news.mention_role_id,
            news.style,
            news.thread,
        ) == (date(2026, 1, 1), 7, None, "full", True)
        assert (paused.channel_id, paused.name, paused.paused_reason) == (
            PAUSED,
            DEFAULT_NAME,
            "403",
        )
        # The "maybe sent" post is due again with its nonce and attempts; the paused channel's
        # post waits, and its notice goes out.
        ((delivery, paper),) = (await feed.outbox_for(NEWS)).deliveries
        assert (paper.id, delivery.nonce, delivery.attempts) == ("2606.2", "n-maybe", 2)
        waiting = await feed.outbox_for(PAUSED)
        assert waiting.deliveries == () and [n.nonce for n in waiting.notices] == ["n-paused"]
        assert await feed.begin(delivery)

        # Subscribing without a name updates the old subscription, and resumes its channel.
        result = await feed.subscribe(channel_id=PAUSED, guild_id=GUILD, access=CAN_POST)
        assert result.resumed and not result.created
        assert result.subscription.id == paused.id
        ((resumed, _),) = (await feed.outbox_for(PAUSED)).deliveries
        assert resumed.nonce == "n-wait"
        # A second, named subscription of the same channel is a new row beside it.
        second = await feed.subscribe(
            channel_id=NEWS, guild_id=GUILD, access=CAN_POST, name="Vision", keywords="vision"
        )
        assert second.created and second.subscription.name == "vision"
        assert [s.name for s in await feed.subscriptions.for_channel(NEWS)] == [
            DEFAULT_NAME,
            "vision",
        ]
    finally:
        await db.close()
