"""A server's most bookmarked papers: its own bookmarks of the last 7 days, counts only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.bookmarks import BookmarkService
from bot.errors import InvalidInput
from bot.ingest import IngestService
from bot.models import DailyPage, Paper, PeriodPage
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database, database_at, load_migrations
from bot.store.feed import PostRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from bot.store.top import TopListRepo
from bot.top import TopLists
from tests.conftest import fixture_papers

LAB, CLUB = 111, 222  # two servers
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4
NOW = datetime(2026, 6, 12, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class NoHF:
    """Nothing here may ask Hugging Face: every paper the tests bookmark is stored."""

    async def fetch_daily(self, day: date) -> DailyPage:
        raise AssertionError("the server list never fetches days")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None

    async def fetch_period(self, kind: str, period: str) -> PeriodPage:
        raise AssertionError("the server list never asks Hugging Face")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def stored(db: Database) -> list[Paper]:
    papers = fixture_papers("daily_papers_2026-06-12")
    await PaperRepo(db).upsert_papers(papers)
    return papers


def services(db: Database, clock: Clock) -> tuple[BookmarkService, TopLists]:
    papers = PaperRepo(db)
    bookmarks = BookmarkRepo(db)
    ingest = IngestService(NoHF(), papers, StateRepo(db), clock=clock)
    saving = BookmarkService(bookmarks, papers, ingest, PostRepo(db), clock=clock)
    return saving, TopLists(NoHF(), papers, TopListRepo(db), bookmarks, clock=clock)


def ids_and_counts(entries: tuple[tuple[Paper, int], ...]) -> list[tuple[str, int]]:
    return [(paper.id, saves) for paper, saves in entries]


async def test_each_server_sees_only_its_own_bookmarks(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    x, y, z = stored[5].id, stored[6].id, stored[7].id
    await saving.add(ALICE, x, guild_id=LAB)
    await saving.toggle(BOB, x, guild_id=LAB)  # the Bookmark button
    await saving.add(BOB, y, guild_id=LAB)
    await saving.add(CAROL, z, guild_id=CLUB)
    await saving.add(ALICE, z, guild_id=CLUB)  # alice is in both servers
    await saving.add(DAVE, y)  # in a DM: counts for no server

    lab = await top.server_top(LAB)
    club = await top.server_top(CLUB)

    assert ids_and_counts(lab.entries) == [(x, 2), (y, 1)]
    assert ids_and_counts(club.entries) == [(z, 2)]
    assert await top.server_top(333) == type(lab)((), since=lab.since)  # a third server: none
    assert lab.entries[0][0].title == stored[5].title  # the stored paper, shown by title


async def test_only_the_last_seven_days_count(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    old, recent = stored[0].id, stored[1].id
    await saving.add(ALICE, old, guild_id=LAB)
    clock.now += timedelta(days=3)
    await saving.add(BOB, recent, guild_id=LAB)

    clock.now = NOW + timedelta(days=7) - timedelta(seconds=1)
    assert ids_and_counts((await top.server_top(LAB)).entries) == [(old, 1), (recent, 1)]

    clock.now = NOW + timedelta(days=7, seconds=1)
    assert ids_and_counts((await top.server_top(LAB)).entries) == [(recent, 1)]

    clock.now = NOW + timedelta(days=10, seconds=1)
    assert (await top.server_top(LAB)).entries == ()


async def test_ties_go_to_more_upvotes_then_the_newer_paper(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    by_upvotes = sorted((paper for paper in stored if paper.upvotes), key=lambda p: p.upvotes)
    low, high = by_upvotes[0], by_upvotes[-1]
    unknown = "2606.99999"  # bookmarked before its details arrived: 0 upvotes as far as we know
    equal = [paper for paper in stored if paper.upvotes == low.upvotes and paper.id != low.id]
    for paper_id in [low.id, high.id, unknown, *(paper.id for paper in equal)]:
        await saving.bookmarks.add(ALICE, paper_id, now=clock(), guild_id=LAB)

    ranked = [paper.id for paper, _ in (await top.server_top(LAB)).entries]

    same_votes = sorted([low.id, *(paper.id for paper in equal)], reverse=True)
    assert ranked == [high.id, *same_votes, unknown]
    assert ranked == [paper.id for paper, _ in (await top.server_top(LAB)).entries]  # stable


async def test_a_paper_without_details_is_still_listed_by_its_id(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    await saving.bookmarks.add(ALICE, "2606.99999", now=clock(), guild_id=LAB)
    [(paper, saves)] = (await top.server_top(LAB)).entries
    assert paper.id == "2606.99999" and saves == 1 and "2606.99999" in paper.title


async def test_a_reaction_saves_the_server_it_was_made_in(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    await PostRepo(db).record_post(7001, 9, CLUB, stored[3].id, "feed", upvotes=0, comments=0)
    await saving.bookmark_message(CAROL, 7001, guild_id=CLUB)
    assert ids_and_counts((await top.server_top(CLUB)).entries) == [(stored[3].id, 1)]
    assert (await top.server_top(LAB)).entries == ()


async def test_saving_again_elsewhere_keeps_the_first_server(
    db: Database, stored: list[Paper], clock: Clock
) -> None:
    saving, top = services(db, clock)
    await saving.add(ALICE, stored[0].id, guild_id=LAB)
    await saving.add(ALICE, stored[0].id, guild_id=CLUB)  # already saved: nothing changes
    assert len((await top.server_top(LAB)).entries) == 1
    assert (await top.server_top(CLUB)).entries == ()


async def test_in_a_dm_the_server_list_explains_itself(db: Database, clock: Clock) -> None:
    _, top = services(db, clock)
    with pytest.raises(InvalidInput, match="run it in a server"):
        await top.server_top(None)


async def test_bookmarks_saved_before_the_migration_are_kept_and_belong_to_no_server(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path) as old:  # before bookmarks had a server
        for version, _, sql in load_migrations()[:3]:
            await old.executescript(f"{sql}\nPRAGMA user_version = {version};")
        await old.execute(
            "INSERT INTO bookmarks (user_id, paper_id, created_at)"
            " VALUES (1, '2606.00001', '2026-06-12T11:00:00.000000Z')"
        )
        await old.commit()

    async with database_at(path) as db:
        saving, top = services(db, clock)
        assert [row.paper_id for row in await saving.bookmarks.newest_first(ALICE)] == [
            "2606.00001"
        ]
        assert (await top.server_top(LAB)).entries == ()
