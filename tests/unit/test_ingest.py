"""Ingest: which days a poll fetches, what an outage or a 429 leaves behind, sparse sources."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from bot.errors import RateLimitedError, UpstreamError
from bot.ingest import MAX_CATCH_UP_DAYS, IngestService
from bot.models import DailyPage, Paper
from bot.store.db import Database
from bot.store.papers import ListingDay, PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class DaySource:
    """Serves fixed pages by day; can be down or rate-limited; records the days asked for."""

    def __init__(self, pages: dict[date, DailyPage] | None = None) -> None:
        self.pages = pages or {}
        self.failure: Exception | None = None
        self.days: list[date] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        self.days.append(day)
        if self.failure is not None:
            raise self.failure
        return self.pages.get(day, DailyPage(day=day, papers=()))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def service(db: Database, source: DaySource, clock: Clock) -> IngestService:
    return IngestService(source, PaperRepo(db), StateRepo(db), clock=clock)


async def test_a_poll_fetches_yesterday_and_today(db: Database) -> None:
    source = DaySource()
    clock = Clock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    report = await service(db, source, clock).poll()
    assert report.ok
    assert source.days == [date(2026, 11, 22), date(2026, 11, 23)]


async def test_after_an_outage_the_poll_reaches_back_to_the_last_good_one(db: Database) -> None:
    source = DaySource()
    clock = Clock(datetime(2026, 11, 18, 9, tzinfo=UTC))
    ingest = service(db, source, clock)
    assert (await ingest.poll()).ok
    source.failure = UpstreamError("Hugging Face is not answering right now (HTTP 503).")
    clock.now += timedelta(days=3)
    failed = await ingest.poll()
    assert not failed.ok and "not answering" in (failed.error or "")
    assert (await ingest.status()).consecutive_failures == 1
    source.failure, source.days = None, []
    assert (await ingest.poll()).ok
    assert source.days == [date(2026, 11, 18) + timedelta(days=n) for n in range(4)]
    assert (await ingest.status()).consecutive_failures == 0


async def test_catching_up_stops_at_a_week(db: Database) -> None:
    source = DaySource()
    clock = Clock(datetime(2026, 10, 1, 9, tzinfo=UTC))
    ingest = service(db, source, clock)
    await ingest.poll()
    clock.now += timedelta(days=40)
    source.days = []
    await ingest.poll()
    assert len(source.days) == MAX_CATCH_UP_DAYS + 1
    assert source.days[-1] == date(2026, 11, 10)


async def test_a_rate_limited_poll_says_how_long_to_wait(db: Database) -> None:
    source = DaySource()
    source.failure = RateLimitedError("Hugging Face is asking us to slow down.", retry_after=300)
    report = await service(db, source, Clock(datetime(2026, 11, 23, tzinfo=UTC))).poll()
    assert not report.ok and report.retry_after == 300


async def test_html_cards_add_papers_but_never_overwrite_known_ones(db: Database) -> None:
    day = date(2024, 8, 1)
    known = fixture_papers("daily_papers_2024-08-01")
    await PaperRepo(db).upsert_papers(known, now=datetime(2024, 8, 1, tzinfo=UTC))
    sparse = dataclasses.replace(known[0], abstract="", upvotes=0, num_comments=0)
    new = Paper(id="2408.00001", title="Only on the cards", abstract="", listed_on=(day,))
    source = DaySource({day: DailyPage(day=day, papers=(sparse, new), source="html-cards")})
    report = await service(db, source, Clock(datetime(2024, 8, 2, tzinfo=UTC))).ingest_day(day)
    assert report.new == ("2408.00001",) and report.updated == ()
    stored = await PaperRepo(db).get(known[0].id)
    assert stored is not None and stored.upvotes == known[0].upvotes and stored.abstract


async def test_html_cards_of_another_day_list_a_known_paper_on_that_day_too(db: Database) -> None:
    known = fixture_papers("daily_papers_2024-08-01")
    await PaperRepo(db).upsert_papers(known, now=datetime(2024, 8, 1, tzinfo=UTC))
    friday = date(2024, 8, 2)
    card = dataclasses.replace(known[0], abstract="", upvotes=0, listed_on=(friday,))
    source = DaySource({friday: DailyPage(day=friday, papers=(card,), source="html-cards")})
    await service(db, source, Clock(datetime(2024, 8, 3, tzinfo=UTC))).ingest_day(friday)
    [listed] = await PaperRepo(db).papers_listed_on(friday)
    assert listed.id == known[0].id and listed.upvotes == known[0].upvotes and listed.abstract


async def test_each_fetched_day_is_recorded_with_how_it_was_fetched(db: Database) -> None:
    thursday, friday = date(2024, 8, 1), date(2024, 8, 2)
    papers = tuple(fixture_papers("daily_papers_2024-08-01"))
    source = DaySource({thursday: DailyPage(day=thursday, papers=papers, source="html")})
    at = datetime(2024, 8, 2, 9, tzinfo=UTC)
    assert (await service(db, source, Clock(at)).poll()).ok
    repo = PaperRepo(db)
    assert await repo.listing_day(thursday) == ListingDay(thursday, "html", 11, at)
    assert await repo.listing_day(friday) == ListingDay(friday, "api", 0, at)  # nothing yet
