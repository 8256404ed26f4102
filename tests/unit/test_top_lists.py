"""Top lists of a week or month: fetched from the fake Hugging Face, stored, ranked, throttled.

The week and month responses are the constructed fixtures described in tests/fixtures/hf/README.md
(real recorded items, grouped as Hugging Face's `week=`/`month=` lists group them).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.errors import ParseError, UpstreamError
from bot.hf.client import HFClient
from bot.hf.parse import parse_period_json
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database, database_at
from bot.store.papers import PaperRepo
from bot.store.top import TopListRepo
from bot.top import Period, TopLists
from tests.conftest import HF_API, fixture_papers
from tests.fakes.fake_hf import FakeHF

WEEK = "2025-W40"  # Monday 29 September to Sunday 5 October 2025
WEEK_FILE = f"daily_papers_week_{WEEK}.json"
MONTH = "2026-07"
MONTH_FILE = f"daily_papers_month_{MONTH}.json"
FRIDAY = datetime(2025, 10, 3, 12, tzinfo=UTC)
WEEK_ITEMS: list[dict[str, Any]] = json.loads((HF_API / WEEK_FILE).read_text(encoding="utf-8"))


def ranked_ids(items: list[dict[str, Any]]) -> list[str]:
    """The fixture's paper ids as the top list must rank them: upvotes, then the newer id."""
    ranked = sorted(items, key=lambda item: (item["paper"]["upvotes"], item["paper"]["id"]))
    return [item["paper"]["id"] for item in reversed(ranked)]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def clock() -> Clock:
    return Clock(FRIDAY)


def top_lists(db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock) -> TopLists:
    client = HFClient(session, hf.base_url, backoff_base=0.001, max_backoff=0.01, max_attempts=2)
    papers = PaperRepo(db)
    return TopLists(client, papers, TopListRepo(db), BookmarkRepo(db), clock=clock)


# --- periods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "key", "first", "last"),
    [
        (date(2025, 10, 3), "2025-W40", date(2025, 9, 29), date(2025, 10, 5)),
        (date(2024, 12, 30), "2025-W01", date(2024, 12, 30), date(2025, 1, 5)),  # ISO year
        (date(2021, 1, 3), "2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
    ],
)
def test_a_week_is_the_iso_week_hugging_face_names(
    day: date, key: str, first: date, last: date
) -> None:
    assert Period.containing("week", day) == Period("week", key, first, last)


def test_a_month_runs_to_its_last_day() -> None:
    assert Period.containing("month", date(2024, 2, 10)) == Period(
        "month", "2024-02", date(2024, 2, 1), date(2024, 2, 29)
    )
    assert Period.containing("month", date(2025, 12, 31)).last == date(2025, 12, 31)
    assert Period.containing("month", date(2025, 10, 3)).label == "October 2025"
    assert Period.containing("week", date(2025, 10, 3)).label == (
        "week 2025-W40 (29 Sep – 5 Oct 2025)"
    )


# --- parsing and fetching ---------------------------------------------------------------------


def test_a_week_list_parses_with_each_papers_own_listing_day() -> None:
    page = parse_period_json((HF_API / WEEK_FILE).read_bytes(), WEEK)
    assert page.period == WEEK and page.skipped == 0
    assert len(page.papers) == 181
    by_id = {paper.id: paper for paper in page.papers}
    for item in WEEK_ITEMS:
        listed = date.fromisoformat(item["paper"]["submittedOnDailyAt"][:10])
        assert by_id[item["paper"]["id"]].listed_on == (listed,)
    assert {paper.listed_on[0] for paper in page.papers} == {
        date(2025, 9, 29) + timedelta(days=n) for n in range(5)
    }


def test_a_period_list_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(ParseError):
        parse_period_json(b'{"error": "Invalid week"}', WEEK)


async def test_the_week_is_fetched_with_week_and_limit_and_paged_while_full(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    hf.load_fixture_period(WEEK_FILE)
    page = await HFClient(session, hf.base_url).fetch_period("week", WEEK)
    assert len(page.papers) == 181
    assert hf.queries_for("daily") == [
        {"week": WEEK, "limit": "100"},
        {"week": WEEK, "limit": "100", "p": "1"},
    ]
    assert hf.unhandled == []


async def test_the_month_is_fetched_with_month(hf: FakeHF, session: aiohttp.ClientSession) -> None:
    hf.load_fixture_period(MONTH_FILE)
    page = await HFClient(session, hf.base_url).fetch_period("month", MONTH)
    assert len(page.papers) == 30
    assert {paper.listed_on for paper in page.papers} == {
        (date(2026, 7, 21),),
        (date(2026, 7, 31),),
    }
    assert hf.queries_for("daily") == [{"month": MONTH, "limit": "100"}]


async def test_an_unreadable_period_list_is_a_polite_error(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    hf.garbage("daily")
    with pytest.raises(ParseError, match="could not read"):
        await HFClient(session, hf.base_url).fetch_period("week", WEEK)


# --- the service: store, rank, throttle, outages ----------------------------------------------


async def test_the_week_list_is_stored_like_any_day_and_ranked_by_upvotes(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.load_fixture_period(WEEK_FILE)
    top = await top_lists(db, hf, session, clock).period_top("week")

    assert top.period.key == WEEK and top.total == 181
    assert top.fetched_at == FRIDAY and top.upstream_error is None
    assert [paper.id for paper in top.papers] == ranked_ids(WEEK_ITEMS)[:50]
    assert top.papers[0].id == "2509.22622" and top.papers[0].upvotes == 100
    # Every paper is stored, listed on its own day, so /papers today and search see them too.
    papers = PaperRepo(db)
    assert await papers.count() == 181
    monday = await papers.papers_listed_on(date(2025, 9, 29))
    assert len(monday) == 30 and monday[0].id == "2509.22622"


async def test_a_fresh_list_is_served_from_the_store_and_refetched_after_30_minutes(
    database_target: Path | str, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.load_fixture_period(WEEK_FILE)
    async with database_at(database_target) as db:
        service = top_lists(db, hf, session, clock)
        await service.period_top("week")
        assert hf.requests_for("daily") == 2

        clock.now += timedelta(minutes=29)
        again = await service.period_top("week")
        assert hf.requests_for("daily") == 2  # not asked again
        assert again.fetched_at == FRIDAY and len(again.papers) == 50

    # The fetch is recorded in the database: a restarted bot does not refetch either.
    async with database_at(database_target) as reopened:
        service = top_lists(reopened, hf, session, clock)
        restarted = await service.period_top("week")
        assert hf.requests_for("daily") == 2 and restarted.fetched_at == FRIDAY

        clock.now += timedelta(minutes=2)
        refreshed = await service.period_top("week")
        assert hf.requests_for("daily") == 4
        assert refreshed.fetched_at == clock.now


async def test_a_refetch_brings_new_upvotes_and_drops_what_left_the_list(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.set_week(WEEK, WEEK_ITEMS)
    service = top_lists(db, hf, session, clock)
    first = await service.period_top("week")
    leader, runner_up = first.papers[0].id, first.papers[1].id

    later = json.loads(json.dumps(WEEK_ITEMS[:60]))  # a shorter list, new counts
    for item in later:
        if item["paper"]["id"] == runner_up:
            item["paper"]["upvotes"] = 500
    hf.set_week(WEEK, [item for item in later if item["paper"]["id"] != leader])
    clock.now += timedelta(hours=1)

    second = await service.period_top("week")
    assert second.total == 59
    assert second.papers[0].id == runner_up and second.papers[0].upvotes == 500
    assert leader not in {paper.id for paper in second.papers}
    assert await PaperRepo(db).get(leader) is not None  # it stays stored, just not on this list


async def test_the_month_list(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.load_fixture_period(MONTH_FILE)
    clock.now = datetime(2026, 7, 31, 18, tzinfo=UTC)
    top = await top_lists(db, hf, session, clock).period_top("month")
    items = json.loads((HF_API / MONTH_FILE).read_text(encoding="utf-8"))
    assert top.period.key == MONTH and top.total == 30
    assert [paper.id for paper in top.papers] == ranked_ids(items)


async def test_hugging_face_down_shows_the_last_fetched_list_and_says_so(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.load_fixture_period(WEEK_FILE)
    service = top_lists(db, hf, session, clock)
    await service.period_top("week")
    hf.outage = True
    clock.now += timedelta(hours=2)

    top = await service.period_top("week")

    assert top.upstream_error is not None and "not answering" in top.upstream_error
    assert top.fetched_at == FRIDAY  # the reply can say how old the list is
    assert top.total == 181 and top.papers[0].id == "2509.22622"


async def test_hugging_face_down_before_any_fetch_shows_the_stored_days_of_the_week(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    friday = fixture_papers("daily_papers_2025-10-03")  # polled as usual before the outage
    await PaperRepo(db).upsert_papers(friday)
    hf.outage = True

    top = await top_lists(db, hf, session, clock).period_top("week")

    assert top.fetched_at is None and top.upstream_error is not None
    assert top.total == 39
    assert top.papers[0].upvotes == max(paper.upvotes for paper in friday)


async def test_hugging_face_down_with_nothing_stored_is_a_clear_error(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    hf.outage = True
    with pytest.raises(UpstreamError, match=r"not answering.*no papers are stored for week"):
        await top_lists(db, hf, session, clock).period_top("week")


async def test_an_empty_week_is_recorded_and_not_refetched_at_once(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    service = top_lists(db, hf, session, clock)  # Monday morning: nothing listed yet
    top = await service.period_top("week")
    assert top.papers == () and top.total == 0 and top.fetched_at == FRIDAY
    await service.period_top("week")
    assert hf.requests_for("daily") == 1


async def test_the_fake_refuses_what_hugging_face_would_not_understand(
    hf: FakeHF, session: aiohttp.ClientSession
) -> None:
    async def status(query: str) -> int:
        async with session.get(f"{hf.base_url}/api/daily_papers?{query}") as response:
            return response.status

    assert await status("week=2025-W40&limit=100") == 200
    assert await status("week=2025-W54") == 400
    assert await status("month=2025-13") == 400
    assert await status("date=2025-10-03&week=2025-W40") == 400
    assert hf.unhandled == []
    assert await status("week=2025-W40&sort=trending") == 400
    assert hf.unhandled == ["GET /api/daily_papers?week=2025-W40&sort=trending"]


async def test_an_answer_that_is_another_periods_list_does_not_pass_for_this_one(
    db: Database, hf: FakeHF, session: aiohttp.ClientSession, clock: Clock
) -> None:
    # The documented window starts early (the Friday before the week): those papers belong.
    friday_before = json.loads((HF_API / "daily_papers_2025-10-03.json").read_text("utf-8"))[:2]
    for item in friday_before:
        item["paper"]["submittedOnDailyAt"] = "2025-09-26T09:00:00.000Z"
    elsewhere = json.loads((HF_API / "daily_papers_2026-06-12.json").read_text("utf-8"))
    hf.set_week(WEEK, WEEK_ITEMS[:20] + friday_before + elsewhere)

    top = await top_lists(db, hf, session, clock).period_top("week")

    assert top.total == 22
    expected = {item["paper"]["id"] for item in WEEK_ITEMS[:20] + friday_before}
    assert {paper.id for paper in top.papers} == expected
    assert await PaperRepo(db).count() == 22 + len(elsewhere)  # stored all the same
