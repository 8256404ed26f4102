"""Leases (``leases``: one row per name) and poll ticks claimed once (``poll_slots``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.store.db import Database, from_iso, to_iso

# Poll slots older than this many ticks are deleted when a newer one is claimed.
SLOTS_KEPT = 100


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    holder: str
    expires_at: datetime


class LeaseRepo:
    """The SQL of leases and poll slots; the same statements on SQLite and PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, name: str, holder: str, *, now: datetime, period: timedelta) -> bool:
        """Take or renew ``name`` for ``period`` from ``now``: True if ``holder`` holds it now
        (it was free, expired, or already its own), False if another process holds it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE"
                " SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (name, holder, to_iso(now + period), to_iso(now)),
            )
            return cursor.rowcount == 1

    async def release(self, name: str, holder: str) -> None:
        """Give ``name`` up at once (a clean shutdown), if ``holder`` still holds it."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def holder_of(self, name: str, *, now: datetime) -> LeaseHolder | None:
        """Who holds ``name`` at ``now`` (None: nobody, or its holder let it expire)."""
        row = await self.db.fetchone(
            "SELECT holder, expires_at FROM leases WHERE name = ? AND expires_at >= ?",
            (name, to_iso(now)),
        )
        return None if row is None else LeaseHolder(row[0], from_iso(row[1]))

    async def claim_slot(self, slot: int, holder: str, *, now: datetime) -> bool:
        """Claim poll tick ``slot``: True for the one claim that inserted it, False after."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO poll_slots (slot, claimed_by, claimed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (slot) DO NOTHING",
                (slot, holder, to_iso(now)),
            )
            won = cursor.rowcount == 1
            if won:
                await conn.execute("DELETE FROM poll_slots WHERE slot < ?", (slot - SLOTS_KEPT,))
            return won
