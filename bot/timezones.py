"""Time zones and moments as members see them: IANA zone names, a zone's local day, and
Discord's timestamp markup (``<t:UNIX:STYLE>``), which each reader's client shows in their own
time zone. Pure functions; the zone database is the standard library's ``zoneinfo`` (with the
``tzdata`` package where the system has none)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from bot.errors import InvalidInput

DEFAULT_ZONE = "UTC"
ZONE_CHOICES = 25  # Discord's autocomplete limit
# Offered first (and alone, for empty input): where most research servers are.
COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "Europe/Moscow",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
# Discord's timestamp styles: D a date, f a date and time, R relative ("3 hours ago").
TimestampStyle = Literal["t", "T", "d", "D", "f", "F", "R"]


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def zone_named(text: str) -> ZoneInfo:
    """The IANA zone ``text`` names (case-insensitive, spaces for underscores), or InvalidInput
    with an example."""
    wanted = text.strip().replace(" ", "_").casefold()
    name = _zones_by_folded_name().get(wanted)
    if name is None:
        shown = text.strip()[:60]
        raise InvalidInput(
            f"{shown!r} is not a time zone I know. Use an IANA name like Europe/Berlin, "
            "America/New_York or Asia/Tokyo (pick one from the suggestions), or UTC."
        )
    return ZoneInfo(name)


def zone_choices(text: str, *, limit: int = ZONE_CHOICES) -> list[str]:
    """Zone names for autocomplete: the common ones for empty input, else the names containing
    ``text`` (case-insensitive), common ones first, then those starting with it, then A–Z."""
    wanted = text.strip().replace(" ", "_").casefold()
    if not wanted:
        return list(COMMON_ZONES[:limit])
    common = {name: rank for rank, name in enumerate(COMMON_ZONES)}
    found = [name for folded, name in _zones_by_folded_name().items() if wanted in folded]

    def order(name: str) -> tuple[int, int, str]:
        folded = name.casefold()
        starts = folded.startswith(wanted) or folded.split("/")[-1].startswith(wanted)
        return (common.get(name, len(common)), 0 if starts else 1, name)

    return sorted(found, key=order)[:limit]


def _aware(moment: datetime) -> datetime:
    # A naive datetime is UTC by the store's convention.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day ``moment`` falls on in ``zone``."""
    return _aware(moment).astimezone(zone).date()


def discord_timestamp(moment: datetime, style: TimestampStyle = "f") -> str:
    """``<t:UNIX:STYLE>``: Discord shows it in each reader's own time zone (the same text as
    ``discord.utils.format_dt``, for the parts of the bot that do not import discord)."""
    return f"<t:{int(_aware(moment).timestamp())}:{style}>"
