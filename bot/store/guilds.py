"""``guild_settings``: what each server's admins chose (today: the server's time zone)."""

from __future__ import annotations

from datetime import datetime

from bot.store.db import Database, to_iso


class GuildSettingsRepo:
    """One row per server that changed a setting; no row means the defaults."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def timezone(self, guild_id: int) -> str | None:
        """The server's stored IANA zone name, or None when it never chose one."""
        value = await self.db.fetchval(
            "SELECT timezone FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return None if value is None else str(value)

    async def set_timezone(self, guild_id: int, name: str, *, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, timezone, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET"
                " timezone = excluded.timezone, updated_at = excluded.updated_at",
                (guild_id, name, to_iso(now)),
            )
