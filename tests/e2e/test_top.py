"""/papers top end to end: the real bot, fake Discord and Hugging Face, a real SQLite file.

The week is 2025-W40, served from the constructed week fixture (real recorded items of Monday 29
September to Friday 3 October 2025, see tests/fixtures/hf/README.md); the bot's clock stands on
that Friday, whose own daily list is polled at start as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HF_API
from tests.e2e.bot_fixtures import FakeClock, RunningBot, eventually, start_bot
from tests.fakes.fake_discord import FakeDiscord, InteractionRecord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

FRIDAY = date(2025, 10, 3)
WEEK_FILE = "daily_papers_week_2025-W40.json"
WEEK_ITEMS: list[dict[str, Any]] = json.loads((HF_API / WEEK_FILE).read_text(encoding="utf-8"))
TITLE = {item["paper"]["id"]: " ".join(item["paper"]["title"].split()) for item in WEEK_ITEMS}
LEADER = "2509.22622"  # 100 upvotes, listed on Monday 29 September
FRIDAY_IDS = [
    item["paper"]["id"]
    for item in WEEK_ITEMS
    if item["paper"]["submittedOnDailyAt"].startswith(FRIDAY.isoformat())
]


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    fake_hf.load_fixture_day("daily_papers_2025-10-03.json")
    async with start_bot(
        fake_discord, fake_hf, tmp_path / "papers.db", clock=FakeClock.on(FRIDAY)
    ) as bot:
        yield bot


def ranked(embed: dict[str, Any]) -> list[tuple[int, str]]:
    """(rank, title) of each line of a list embed, as a member reads it."""
    found = re.findall(r"\*\*(\d+)\.\*\* \[([^\]]+)\]", str(embed.get("description", "")))
    return [(int(rank), title) for rank, title in found]


async def top(
    running: RunningBot, *, user: str = "alice", channel: int | None = None, **options: Any
) -> InteractionRecord:
    record = await running.fake.slash("papers top", user=user, channel=channel, **options)
    await record.answer()
    return record


# --- week -------------------------------------------------------------------------------------


async def test_the_weeks_top_papers_by_upvotes_ten_a_page(running: RunningBot) -> None:
    running.hf.load_fixture_period(WEEK_FILE)
    record = await top(running, period="week")

    assert not record.ephemeral
    first = record.embeds[0]
    assert first["title"] == "Top papers — week 2025-W40 (29 Sep – 5 Oct 2025)"
    assert ranked(first)[0] == (1, TITLE[LEADER])
    assert "▲ 100" in first["description"]
    assert len(ranked(first)) == 10
    assert "The 50 most upvoted of 181 papers" in first["description"]
    assert first["footer"]["text"] == "Page 1/5 · 181 papers"
    assert running.hf.queries_for("daily")[-2:] == [
        {"week": "2025-W40", "limit": "100"},
        {"week": "2025-W40", "limit": "100", "p": "1"},
    ]

    turned = await running.fake.click(record, label="Next", user="alice")
    await turned.response()
    assert [rank for rank, _ in ranked(record.embeds[0])] == list(range(11, 21))


async def test_week_is_the_default_and_is_not_refetched_within_half_an_hour(
    running: RunningBot,
) -> None:
    running.hf.load_fixture_period(WEEK_FILE)
    await top(running, period="week")
    asked = running.hf.requests_for("daily")
    running.clock.advance(minutes=20)

    again = await top(running)  # no option: the week

    assert ranked(again.embeds[0])[0] == (1, TITLE[LEADER])
    assert running.hf.requests_for("daily") == asked


async def test_hugging_face_down_shows_the_stored_list_and_says_so(running: RunningBot) -> None:
    running.hf.load_fixture_period(WEEK_FILE)
    await top(running, period="week")
    running.hf.outage = True
    running.clock.advance(hours=2)

    record = await top(running, period="week", user="bob")

    description = record.embeds[0]["description"]
    assert "Hugging Face is not answering right now" in description
    assert ranked(record.embeds[0])[0] == (1, TITLE[LEADER])


async def test_hugging_face_down_before_any_fetch_shows_the_stored_days(
    running: RunningBot,
) -> None:
    running.hf.outage = True
    record = await top(running, period="week")
    embed = record.embeds[0]
    assert "was never fetched" in embed["description"]
    assert embed["footer"]["text"] == "Page 1/4 · 39 papers"  # Friday, polled at start
    shown = {title for _, title in ranked(embed)}
    assert shown <= {TITLE[paper_id] for paper_id in FRIDAY_IDS}


async def test_the_months_top_papers(running: RunningBot) -> None:
    month = running.hf.load_fixture_period("daily_papers_month_2026-07.json")
    running.clock.set_day(date(2026, 7, 31))
    record = await top(running, period="month")
    embed = record.embeds[0]
    assert embed["title"] == "Top papers — July 2026"
    assert embed["footer"]["text"] == "Page 1/3 · 30 papers"
    assert "30 papers, most upvoted first" in embed["description"]
    assert "▲ 59" in embed["description"].split("\n\n")[1]  # the month's most upvoted
    assert running.hf.queries_for("daily")[-1] == {"month": month, "limit": "100"}


# --- server -----------------------------------------------------------------------------------


async def show_card(running: RunningBot, paper_id: str, channel: int) -> InteractionRecord:
    record = await running.fake.slash("papers show", paper=paper_id, channel=channel)
    await record.answer()
    message_id = int(record.final()["id"])
    posts = running.services.feed.posts
    assert await eventually(lambda: posts.paper_for_message(message_id)) == paper_id
    return record


async def bookmark_by_button(running: RunningBot, card: InteractionRecord, user: str) -> None:
    clicked = await running.fake.click(card, label="Bookmark", user=user)
    assert (await clicked.answer())["content"].startswith("Saved")


async def test_each_server_sees_its_own_most_bookmarked_papers_counts_only(
    running: RunningBot,
) -> None:
    fake = running.fake
    lab = fake.default_channel_id
    club_guild = fake.add_guild("reading-club", channels=("reading",))
    club = fake.channel("reading")
    await fake.settle()
    x, y, z = FRIDAY_IDS[:3]

    empty = await top(running, period="server", channel=club)
    assert empty.embeds[0]["title"] == "Nothing bookmarked here yet"
    assert "react with 🔖" in empty.embeds[0]["description"]

    card_x = await show_card(running, x, lab)
    await bookmark_by_button(running, card_x, "alice")
    await bookmark_by_button(running, card_x, "bob")
    await bookmark_by_button(running, await show_card(running, y, lab), "bob")
    card_z = await show_card(running, z, club)
    await bookmark_by_button(running, card_z, "alice")
    bob = fake.user("bob")
    assert await fake.react("reading", int(card_z.final()["id"]), "🔖", user="bob") is not None
    saved = running.services.bookmarks.bookmarks
    assert await eventually(lambda: saved.has(bob, z))

    in_lab = (await top(running, period="server")).embeds[0]
    in_club = (await top(running, period="server", channel=club)).embeds[0]

    assert in_lab["title"] == "Most bookmarked in this server"
    assert ranked(in_lab) == [(1, TITLE[x]), (2, TITLE[y])]
    assert "🔖 2 bookmarks" in in_lab["description"]
    assert "🔖 1 bookmark ·" in in_lab["description"]
    assert ranked(in_club) == [(1, TITLE[z])]
    assert "🔖 2 bookmarks" in in_club["description"]  # one by the button, one by the reaction
    for embed in (in_lab, in_club):
        text = json.dumps(embed)
        assert "alice" not in text and "bob" not in text
        assert str(bob) not in text and str(fake.user("alice")) not in text
    assert club_guild != fake.guild_id
