"""The server's time zone end to end: /feed timezone, /feed status, and /papers today there.

The recorded list is Friday 2026-06-12's. Half an hour before UTC midnight it is already
Saturday morning in Tokyo; two hours after it, it is still Friday evening in New York.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_fixtures import FakeClock, RunningBot, start_bot
from tests.fakes.fake_discord import CommandNotAvailable, FakeDiscord
from tests.fakes.fake_hf import FakeHF

FRIDAY = date(2026, 6, 12)
LATE_FRIDAY = datetime(2026, 6, 12, 23, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(LATE_FRIDAY)


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[RunningBot]:
    fake_hf.load_fixture_day("daily_papers_2026-06-12.json")
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as bot:
        yield bot


def text_of(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
    return "\n".join(parts)


async def feed(running: RunningBot, command: str, *, user: str = "alice", **options: Any) -> str:
    record = await running.fake.slash(f"feed {command}", user=user, **options)
    answer = await record.answer()
    assert record.ephemeral
    return text_of(answer)


async def test_an_admin_sets_the_zone_and_status_shows_it(running: RunningBot) -> None:
    status = await feed(running, "status")
    assert "Server time zone: UTC" in status
    # The last poll is a moment: a Discord timestamp each reader sees in their own time zone.
    assert f"<t:{int(LATE_FRIDAY.timestamp())}:R>" in status

    answer = await feed(running, "timezone", zone="Asia/Tokyo")
    assert "now **Asia/Tokyo**" in answer
    assert "today is 2026-06-13" in answer
    assert "Server time zone: Asia/Tokyo" in await feed(running, "status")


async def test_an_unknown_zone_is_refused_with_an_example(running: RunningBot) -> None:
    answer = await feed(running, "timezone", zone="Tokyo")
    assert "'Tokyo' is not a time zone I know" in answer
    assert "Asia/Tokyo" in answer
    assert "Server time zone: UTC" in await feed(running, "status")


async def test_members_without_manage_server_cannot_change_the_zone(running: RunningBot) -> None:
    fake = running.fake
    with pytest.raises(CommandNotAvailable):
        await fake.slash("feed timezone", user="bob", zone="Asia/Tokyo")
    command, _ = fake.commands.find("feed timezone", fake.guild_id)
    command["default_member_permissions"] = None  # a server admin unhid /feed for everyone
    answer = await feed(running, "timezone", user="bob", zone="Asia/Tokyo")
    assert "You need the Manage Server permission" in answer
    assert "Server time zone: UTC" in await feed(running, "status")


async def test_zone_names_are_autocompleted(running: RunningBot) -> None:
    fake = running.fake
    offered = await fake.autocomplete("feed timezone", focused="zone", value="")
    assert [c["value"] for c in offered][:2] == ["UTC", "America/Los_Angeles"]
    assert len(offered) <= 25
    tokyo = await fake.autocomplete("feed timezone", focused="zone", value="tok")
    assert tokyo[0] == {"name": "Asia/Tokyo", "value": "Asia/Tokyo"}
    many = await fake.autocomplete("feed timezone", focused="zone", value="europe")
    assert len(many) == 25 and all("Europe" in c["value"] for c in many)


def day_title(record: Any) -> str:
    return str(record.embeds[0]["title"])


async def test_papers_today_means_the_servers_local_day(
    running: RunningBot, clock: FakeClock
) -> None:
    fake = running.fake
    # UTC: still Friday, and Friday's papers.
    utc = await fake.slash("papers today", user="alice")
    await utc.answer()
    assert day_title(utc) == "Daily Papers — Fri 2026-06-12"

    # Tokyo: Saturday morning, a day Hugging Face (listing by UTC day) has not begun.
    await feed(running, "timezone", zone="Asia/Tokyo")
    tokyo = await fake.slash("papers today", user="bob")
    embed = (await tokyo.answer())["embeds"][0]
    assert embed["title"] == "No papers for Sat 2026-06-13"
    midnight = int(datetime(2026, 6, 13, tzinfo=UTC).timestamp())
    assert "Hugging Face lists papers by UTC day" in embed["description"]
    assert f"<t:{midnight}:R>" in embed["description"]
    shown = await fake.click(tokyo, label="Show 2026-06-12", user="bob")
    await shown.response()
    assert day_title(tokyo) == "Daily Papers — Fri 2026-06-12"
    yesterday = await fake.slash("papers today", user="bob", date="yesterday")
    await yesterday.answer()
    assert day_title(yesterday) == "Daily Papers — Fri 2026-06-12"

    # Two hours later Saturday has begun in UTC too (nothing listed: a weekend)…
    clock.now = datetime(2026, 6, 13, 1, 30, tzinfo=UTC)
    saturday = await fake.slash("papers digest", user="alice")
    weekend = (await saturday.answer())["embeds"][0]
    assert weekend["title"] == "No papers for Sat 2026-06-13"
    assert "weekend" in weekend["description"]
    # …while New York is still on Friday evening.
    await feed(running, "timezone", zone="America/New_York")
    new_york = await fake.slash("papers digest", user="alice")
    digest = (await new_york.answer())["embeds"][0]
    assert digest["title"] == "Daily Papers digest · Fri 2026-06-12"
    today = await fake.slash("papers today", user="alice")
    await today.answer()
    assert day_title(today) == "Daily Papers — Fri 2026-06-12"
