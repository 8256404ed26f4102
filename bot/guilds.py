"""Per-server settings: the server's time zone, which sets what "today" means there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.store.guilds import GuildSettingsRepo
from bot.timezones import DEFAULT_ZONE, local_day, zone_named

log = logging.getLogger(__name__)


class GuildSettings:
    """Reads and changes what a server's admins chose. Outside a server (a DM), and in a
    server that never chose, the time zone is UTC."""

    def __init__(self, repo: GuildSettingsRepo, *, clock: Callable[[], datetime]) -> None:
        self.repo = repo
        self.clock = clock

    async def timezone(self, guild_id: int | None) -> ZoneInfo:
        """The server's time zone (UTC by default)."""
        if guild_id is None:
            return ZoneInfo(DEFAULT_ZONE)
        name = await self.repo.timezone(guild_id)
        if name is None:
            return ZoneInfo(DEFAULT_ZONE)
        try:
            return zone_named(name)
        except InvalidInput:
            # The zone database no longer has it (renamed in a tzdata update): UTC until an
            # admin picks again, rather than failing every command in the server.
            log.warning("guild %s has an unknown time zone %r; using UTC", guild_id, name)
            return ZoneInfo(DEFAULT_ZONE)

    async def set_timezone(self, guild_id: int, name: str) -> ZoneInfo:
        """Store the server's time zone; InvalidInput (naming an example) for an unknown one."""
        zone = zone_named(name)
        await self.repo.set_timezone(guild_id, zone.key, now=self.clock())
        return zone

    async def local_today(self, guild_id: int | None) -> date:
        """Today's date in the server's time zone."""
        return local_day(self.clock(), await self.timezone(guild_id))
