"""What members and servers keep (bookmarks, alerts, a server's zone), as the store gives it back
on either database: Discord's 64-bit ids intact, the user's text taken literally, caps kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store.alerts import AlertRepo
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database, database_at
from bot.store.guilds import GuildSettingsRepo

NOW = datetime(2026, 6, 12, 12, tzinfo=UTC)
# Snowflakes use all 63 bits: past 2**53 a float (or a 32-bit column) would change them.
MEMBER = 2**63 - 1
SERVER = 2**62 + 12345


async def test_discord_ids_come_back_exactly(db: Database) -> None:
    bookmarks = BookmarkRepo(db)
    assert await bookmarks.add(MEMBER, "2606.00001", now=NOW, guild_id=SERVER)
    assert await bookmarks.most_bookmarked_in(SERVER, since=NOW, limit=5) == [("2606.00001", 1)]
    await GuildSettingsRepo(db).set_timezone(SERVER, "Asia/Tokyo", now=NOW)
    assert await GuildSettingsRepo(db).timezone(SERVER) == "Asia/Tokyo"
    alert = await AlertRepo(db).add(MEMBER, "sparse attention", now=NOW, cap=10)
    assert alert is not None and alert.user_id == MEMBER
    assert [a.id for a in await AlertRepo(db).for_user(MEMBER)] == [alert.id]


async def test_a_bookmark_search_takes_percent_and_underscore_literally(db: Database) -> None:
    bookmarks = BookmarkRepo(db)
    await bookmarks.add(1, "2606.00001", now=NOW)
    await bookmarks.add(1, "2606.00002", now=NOW + timedelta(seconds=1))
    assert [m.paper_id for m in await bookmarks.search(1, "")] == ["2606.00002", "2606.00001"]
    assert [m.paper_id for m in await bookmarks.search(1, "00001")] == ["2606.00001"]
    assert await bookmarks.search(1, "%") == [] and await bookmarks.search(1, "_") == []


async def test_the_whole_list_and_its_pages_are_newest_first(db: Database) -> None:
    bookmarks = BookmarkRepo(db)
    for n in range(5):
        await bookmarks.add(7, f"2606.0000{n}", now=NOW + timedelta(minutes=n))
    everything = [row.paper_id for row in await bookmarks.newest_first(7)]
    assert everything == [f"2606.0000{n}" for n in reversed(range(5))]
    assert [row.paper_id for row in await bookmarks.newest_first(7, offset=3)] == everything[3:]
    page = await bookmarks.newest_first(7, limit=2, offset=2)
    assert [row.paper_id for row in page] == everything[2:4]


async def test_quick_adds_never_pass_the_alert_cap(db: Database) -> None:
    alerts = AlertRepo(db)
    added = await asyncio.gather(
        *(alerts.add(MEMBER, f"query {n}", now=NOW, cap=3) for n in range(6))
    )
    assert sum(alert is not None for alert in added) == 3
    assert len(await alerts.for_user(MEMBER)) == 3


async def test_adds_from_two_processes_at_once_never_pass_the_alert_cap(
    database_target: Path | str,
) -> None:
    # Two stores on one database: two processes' connections, each with its own write lock.
    async with database_at(database_target) as one, database_at(database_target) as other:
        stores = [AlertRepo(one), AlertRepo(other)]
        for round_ in range(5):
            member = 1000 + round_
            added = await asyncio.gather(
                *(stores[n % 2].add(member, f"query {n}", now=NOW, cap=3) for n in range(8))
            )
            assert sum(alert is not None for alert in added) == 3
            assert len(await stores[0].for_user(member)) == 3
