"""The server's time zone: stored per server, UTC by default, and what "today" means there."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.catalog import Catalog
from bot.errors import InvalidInput
from bot.guilds import GuildSettings
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.store.db import Database, database_at
from bot.store.guilds import GuildSettingsRepo
from bot.store.papers import FetchedDay, PaperRepo
from bot.store.state import StateRepo
from bot.timezones import (
    COMMON_ZONES,
    ZONE_CHOICES,
    discord_timestamp,
    local_day,
    zone_choices,
    zone_named,
)
from tests.conftest import fixture_papers

GUILD = 1001
OTHER_GUILD = 1002
# Friday 2026-06-12, half an hour before UTC midnight: already Saturday in Tokyo, still Friday
# evening in New York.
LATE_FRIDAY = datetime(2026, 6, 12, 23, 30, tzinfo=UTC)
FRIDAY = date(2026, 6, 12)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings_on(db: Database, clock: Clock) -> GuildSettings:
    return GuildSettings(GuildSettingsRepo(db), clock=clock)


# --- the pure parts -----------------------------------------------------------------------------


def test_the_local_day_around_utc_midnight() -> None:
    assert local_day(LATE_FRIDAY, ZoneInfo("Asia/Tokyo")) == date(2026, 6, 13)
    assert local_day(LATE_FRIDAY, ZoneInfo("America/New_York")) == FRIDAY
    assert local_day(LATE_FRIDAY, ZoneInfo("UTC")) == FRIDAY
    early = datetime(2026, 6, 13, 2, 0, tzinfo=UTC)  # Saturday in UTC, Friday in New York
    assert local_day(early, ZoneInfo("America/New_York")) == FRIDAY
    assert local_day(early.replace(tzinfo=None), ZoneInfo("UTC")) == date(2026, 6, 13)


def test_zone_names_are_read_leniently_and_unknown_ones_refused_with_an_example() -> None:
    assert zone_named("Asia/Tokyo").key == "Asia/Tokyo"
    assert zone_named(" asia/tokyo ").key == "Asia/Tokyo"
    assert zone_named("america/new york").key == "America/New_York"
    assert zone_named("utc").key == "UTC"
    for bad in ("Mars/Olympus_Mons", "Tokyo", "", "../../etc/passwd"):
        with pytest.raises(InvalidInput) as refused:
            zone_named(bad)
        assert "Europe/Berlin" in refused.value.user_message  # names an example


def test_autocomplete_offers_common_zones_first_then_matches_by_substring() -> None:
    assert zone_choices("") == list(COMMON_ZONES[:ZONE_CHOICES])
    assert len(COMMON_ZONES) <= ZONE_CHOICES
    assert all(zone_named(name).key == name for name in COMMON_ZONES)
    tokyo = zone_choices("tok")
    assert tokyo[0] == "Asia/Tokyo"
    york = zone_choices("YORK")
    assert york[0] == "America/New_York"
    assert all("york" in name.lower() for name in york)
    america = zone_choices("america/")
    assert len(america) == ZONE_CHOICES  # many more exist: capped at Discord's 25
    assert america[0] == "America/Los_Angeles"  # the common ones lead
    assert zone_choices("new york") == zone_choices("new_york")
    assert zone_choices("no such zone") == []


def test_moments_become_discord_timestamps() -> None:
    assert discord_timestamp(LATE_FRIDAY) == "<t:1781307000:f>"
    assert discord_timestamp(LATE_FRIDAY, "R") == "<t:1781307000:R>"
    assert discord_timestamp(LATE_FRIDAY.replace(tzinfo=None), "D") == "<t:1781307000:D>"


# --- stored per server --------------------------------------------------------------------------


async def test_a_server_is_on_utc_until_an_admin_sets_its_zone(db: Database) -> None:
    settings = settings_on(db, Clock(LATE_FRIDAY))
    assert (await settings.timezone(GUILD)).key == "UTC"
    assert (await settings.timezone(None)).key == "UTC"  # a DM
    assert await settings.local_today(GUILD) == FRIDAY

    chosen = await settings.set_timezone(GUILD, "asia/tokyo")
    assert chosen.key == "Asia/Tokyo"
    assert (await settings.timezone(GUILD)).key == "Asia/Tokyo"
    assert await settings.local_today(GUILD) == date(2026, 6, 13)
    assert (await settings.timezone(OTHER_GUILD)).key == "UTC"  # other servers keep theirs

    await settings.set_timezone(GUILD, "America/New_York")
    assert await settings.local_today(GUILD) == FRIDAY


async def test_an_unknown_zone_is_refused_and_the_old_one_kept(db: Database) -> None:
    settings = settings_on(db, Clock(LATE_FRIDAY))
    await settings.set_timezone(GUILD, "Europe/Berlin")
    with pytest.raises(InvalidInput, match="not a time zone I know"):
        await settings.set_timezone(GUILD, "Europe/Atlantis")
    assert (await settings.timezone(GUILD)).key == "Europe/Berlin"


async def test_the_zone_survives_a_restart(database_target: Path | str) -> None:
    async with database_at(database_target) as first:
        await settings_on(first, Clock(LATE_FRIDAY)).set_timezone(GUILD, "Asia/Tokyo")
    async with database_at(database_target) as second:
        assert (await settings_on(second, Clock(LATE_FRIDAY)).timezone(GUILD)).key == "Asia/Tokyo"


async def test_a_zone_the_database_no_longer_knows_falls_back_to_utc(db: Database) -> None:
    await GuildSettingsRepo(db).set_timezone(GUILD, "Old/Renamed", now=LATE_FRIDAY)
    assert (await settings_on(db, Clock(LATE_FRIDAY)).timezone(GUILD)).key == "UTC"


# --- what /papers today means in the server -----------------------------------------------------


class FridayOnly:
    """Hugging Face with Friday's recorded list and nothing else."""

    def __init__(self) -> None:
        self.friday = fixture_papers("daily_papers_2026-06-12")
        self.days: list[date] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        self.days.append(day)
        return DailyPage(day=day, papers=tuple(self.friday if day == FRIDAY else ()))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


async def catalog_at(db: Database, clock: Clock) -> tuple[Catalog, GuildSettings, FridayOnly]:
    source = FridayOnly()
    repo = PaperRepo(db)
    await repo.upsert_papers(
        source.friday, now=clock(), fetched_day=FetchedDay(FRIDAY, "api", len(source.friday))
    )
    settings = settings_on(db, clock)
    ingest = IngestService(source, repo, StateRepo(db), clock=clock)
    return Catalog(repo, ingest, guilds=settings), settings, source


async def test_today_is_the_servers_local_day(db: Database) -> None:
    clock = Clock(datetime(2026, 6, 13, 2, 0, tzinfo=UTC))  # Saturday in UTC
    catalog, settings, _ = await catalog_at(db, clock)
    utc = await catalog.day_listing(guild_id=GUILD)
    assert utc.day == date(2026, 6, 13) and not utc.papers

    await settings.set_timezone(GUILD, "America/New_York")  # still Friday evening there
    for text in (None, "today", " Today "):
        local = await catalog.day_listing(text, guild_id=GUILD)
        assert local.day == FRIDAY
        assert len(local.papers) == len(fixture_papers("daily_papers_2026-06-12"))
    assert (await catalog.day_listing("yesterday", guild_id=GUILD)).day == date(2026, 6, 11)
    digest = await catalog.digest(guild_id=GUILD)
    assert digest.day == FRIDAY
    # Other servers, and DMs, keep the UTC day.
    assert (await catalog.day_listing(guild_id=OTHER_GUILD)).day == date(2026, 6, 13)
    assert (await catalog.day_listing()).day == date(2026, 6, 13)


async def test_a_local_day_not_yet_begun_in_utc_says_so_and_points_to_the_latest(
    db: Database,
) -> None:
    catalog, settings, source = await catalog_at(db, Clock(LATE_FRIDAY))
    await settings.set_timezone(GUILD, "Asia/Tokyo")  # Saturday 08:30 there
    for text in (None, "2026-06-13"):
        listing = await catalog.day_listing(text, guild_id=GUILD)
        assert listing.day == date(2026, 6, 13)
        assert not listing.papers
        reason = listing.empty_reason or ""
        assert "Hugging Face lists papers by UTC day" in reason
        midnight = int(datetime(2026, 6, 13, tzinfo=UTC).timestamp())
        assert f"<t:{midnight}:R>" in reason
        assert listing.latest_day == FRIDAY
    assert date(2026, 6, 13) not in source.days  # not asked of Hugging Face: it cannot exist
    with pytest.raises(InvalidInput, match="future"):
        await catalog.day_listing("2026-06-14", guild_id=GUILD)
    assert (await catalog.day_listing("yesterday", guild_id=GUILD)).day == FRIDAY


async def test_an_empty_day_says_when_it_was_last_looked_at_as_a_discord_timestamp(
    db: Database,
) -> None:
    thursday = date(2026, 6, 11)
    looked = datetime(2026, 6, 11, 22, 0, tzinfo=UTC)
    clock = Clock(datetime(2026, 6, 12, 1, 0, tzinfo=UTC))
    catalog, _, _ = await catalog_at(db, clock)
    await catalog.papers.upsert_papers([], now=looked, fetched_day=FetchedDay(thursday, "api", 0))
    listing = await catalog.day_listing("2026-06-11", guild_id=GUILD)
    assert not listing.papers
    assert f"when I last looked (<t:{int(looked.timestamp())}:f>)" in (listing.empty_reason or "")
