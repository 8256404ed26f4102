"""The one-outbox migration: the rows of the old deliveries and notices tables move into
``outbox`` with every state, nonce and attempt count, and the feed goes on from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feed import FeedService
from bot.ingest import IngestService
from bot.store import sqlite as db_module
from bot.store.db import load_migrations, open_database, to_iso
from bot.store.feed import SubscriptionRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.unit.test_feed_retention import Clock, Source

GUILD = 1000
NEWS, PAUSED = 11, 12
NOW = datetime(2026, 6, 12, 9, tzinfo=UTC)


async def test_deliveries_and_notices_move_into_the_outbox_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = load_migrations()
    (outbox_step,) = [i for i, (_, name, _) in enumerate(steps) if name.endswith("_outbox.sql")]
    monkeypatch.setattr(db_module, "load_migrations", lambda: steps[:outbox_step])
    db = await open_database(tmp_path / "bot.db")
    moment = to_iso(NOW)
    try:
        conn = db.conn
        await conn.executemany(
            "INSERT INTO papers (id, title, abstract, first_seen_at, updated_at, upvotes)"
            " VALUES (?, 'A title', 'An abstract.', ?, ?, ?)",
            [(pid, moment, moment, n) for n, pid in enumerate(("2606.1", "2606.2", "2606.3"))],
        )
        await conn.executemany(
            "INSERT INTO subscriptions (channel_id, guild_id, since_day, created_at, updated_at,"
            " paused_reason) VALUES (?, ?, '2026-01-01', ?, ?, ?)",
            [(NEWS, GUILD, moment, moment, None), (PAUSED, GUILD, moment, moment, "403")],
        )
        await conn.executemany(
            "INSERT INTO deliveries (channel_id, paper_id, state, nonce, attempts, message_id,"
            " last_error, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (NEWS, "2606.1", "sent", "n-sent", 1, 501, None, moment, moment),
                (NEWS, "2606.2", "pending", "n-maybe", 2, None, "timed out", moment, None),
                (NEWS, "2606.3", "dropped", "n-drop", 5, None, "400", moment, None),
            ],
        )
        await conn.execute(
            "INSERT INTO delivery_history (channel_id, sent_pruned, last_sent_at) VALUES (?, 7, ?)",
            (NEWS, moment),
        )
        await conn.executemany(
            "INSERT INTO notices (channel_id, kind, body, state, nonce, attempts, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (PAUSED, "paused", "⏸️ paused", "pending", "n-paused", 1, moment),
                (NEWS, "outage", "down", "sent", "n-outage", 1, moment),
            ],
        )
        monkeypatch.setattr(db_module, "load_migrations", lambda: steps)
        # The outbox and every later migration (the store the feed below runs on).
        assert await db.migrate() == [name for _, name, _ in steps[outbox_step:]]

        tables = {row[0] for row in await db.fetchall("SELECT name FROM sqlite_master")}
        assert not tables & {"deliveries", "notices"}
        rows = await db.fetchall(
            "SELECT kind, channel_id, paper_id, topic, body, state, nonce, attempts, message_id,"
            " last_error FROM outbox ORDER BY id"
        )
        assert [tuple(row) for row in rows] == [
            ("post", NEWS, "2606.1", None, None, "sent", "n-sent", 1, 501, None),
            ("post", NEWS, "2606.2", None, None, "pending", "n-maybe", 2, None, "timed out"),
            ("post", NEWS, "2606.3", None, None, "dropped", "n-drop", 5, None, "400"),
            ("notice", PAUSED, None, "paused", "⏸️ paused", "pending", "n-paused", 1, None, None),
            ("notice", NEWS, None, "outage", "down", "sent", "n-outage", 1, None, None),
        ]

        # Later migrations (the current code's tables) apply on top.
        monkeypatch.setattr(db_module, "load_migrations", lambda: steps)
        await db.migrate()
        papers = PaperRepo(db)
        ingest = IngestService(Source(), papers, StateRepo(db), clock=Clock(NOW))
        feed = FeedService.open(db, papers, ingest, clock=Clock(NOW))
        # The "maybe sent" post is due again with its nonce and attempts (so the look-back runs).
        ((delivery, paper),) = (await feed.outbox_for(NEWS)).deliveries
        assert (paper.id, delivery.nonce, delivery.attempts) == ("2606.2", "n-maybe", 2)
        (notice,) = (await feed.outbox_for(PAUSED)).notices
        assert (notice.kind, notice.body, notice.nonce) == ("paused", "⏸️ paused", "n-paused")
        # Retention's counters still add up: 7 pruned + 1 sent row.
        stats = {
            s.subscription.channel_id: s for s in await SubscriptionRepo(db).stats_for_guild(GUILD)
        }
        assert (stats[NEWS].delivered, stats[NEWS].pending) == (8, 1)
        # A paper is still queued once per channel.
        assert await feed.outbox.queued(["2606.1", "2606.2", "2606.3"]) == {
            (NEWS, "2606.1"),
            (NEWS, "2606.2"),
            (NEWS, "2606.3"),
        }
    finally:
        await db.close()
