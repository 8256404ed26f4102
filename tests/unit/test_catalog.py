"""The catalogue: days, empty days, paper references, digests — what /papers answers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.catalog import Catalog, DayListing, Digest, normalise_paper_id, parse_day
from bot.errors import InvalidInput, PaperNotFound, UpstreamError
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.store.db import Database
from bot.store.papers import FetchedDay, PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

# A Monday, two days after the 2024-08-01 fixture's Thursday… and a weekend in between.
TODAY = datetime(2024, 8, 5, 9, 0, tzinfo=UTC)


class StubSource:
    """Hugging Face as a test wants it: one known paper, or down."""

    def __init__(self, paper: Paper | None = None, *, down: bool = False) -> None:
        self.paper = paper
        self.down = down
        self.asked: list[str] = []
        self.days: list[date] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        self.days.append(day)
        if self.down:
            raise UpstreamError("Hugging Face is not answering right now (HTTP 503).")
        papers = (self.paper,) if self.paper and day in self.paper.listed_on else ()
        return DailyPage(day=day, papers=papers)

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        self.asked.append(arxiv_id)
        if self.down:
            raise UpstreamError("down")
        return self.paper if self.paper and self.paper.id == arxiv_id else None


async def catalog_with(db: Database, source: StubSource | None = None) -> Catalog:
    repo = PaperRepo(db)
    thursday = fixture_papers("daily_papers_2024-08-01")
    # As the poller left it: Thursday fetched whole on the Friday.
    await repo.upsert_papers(
        thursday, now=TODAY, fetched_day=FetchedDay(date(2024, 8, 1), "api", len(thursday))
    )
    ingest = IngestService(source or StubSource(), repo, StateRepo(db), clock=lambda: TODAY)
    return Catalog(repo, ingest)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2407.21783", "2407.21783"),
        ("https://huggingface.co/papers/2407.21783", "2407.21783"),
        ("arxiv.org/abs/2407.21783v3", "2407.21783"),
        ("The Llama 3 Herd of Models (2407.21783)", "2407.21783"),
        ("llama", None),
        ("12345.6789", None),
    ],
)
def test_paper_references_are_read_from_ids_links_and_choices(
    text: str, expected: str | None
) -> None:
    assert normalise_paper_id(text) == expected


def test_days_are_read_leniently_and_checked() -> None:
    today = date(2024, 8, 5)
    assert parse_day(None, today) == today
    assert parse_day("yesterday", today) == date(2024, 8, 4)
    assert parse_day(" 2024-08-01 ", today) == date(2024, 8, 1)
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        parse_day("1st of August", today)
    with pytest.raises(InvalidInput, match="future"):
        parse_day("2024-08-06", today)


async def test_a_day_lists_its_papers_by_upvotes(db: Database) -> None:
    listing = await (await catalog_with(db)).day_listing("2024-08-01")
    assert len(listing.papers) == 11 and listing.empty_reason is None
    assert listing.papers[0].title == "The Llama 3 Herd of Models"


async def test_a_weekend_says_so_and_offers_the_latest_day(db: Database) -> None:
    listing = await (await catalog_with(db)).day_listing("2024-08-03")
    assert listing.papers == ()
    assert listing.empty_reason is not None and "weekend" in listing.empty_reason
    assert listing.latest_day == date(2024, 8, 1)


async def test_today_before_the_list_fills_says_not_yet(db: Database) -> None:
    listing = await (await catalog_with(db)).day_listing(None)
    assert listing.day == date(2024, 8, 5)
    assert listing.empty_reason is not None and "yet" in listing.empty_reason
    assert listing.latest_day == date(2024, 8, 1)


async def test_an_unknown_paper_is_fetched_once_and_stored(db: Database) -> None:
    extra = fixture_papers("daily_papers_2025-03-17")[0]
    source = StubSource(extra)
    catalog = await catalog_with(db, source)
    assert (await catalog.paper(extra.id)).title == extra.title
    assert (await catalog.paper(extra.id)).title == extra.title
    assert source.asked == [extra.id]


async def test_unknown_everywhere_and_hf_down_get_clear_errors(db: Database) -> None:
    with pytest.raises(PaperNotFound, match=r"2501\.00001"):
        await (await catalog_with(db)).paper("2501.00001")
    with pytest.raises(UpstreamError, match="not stored yet"):
        await (await catalog_with(db, StubSource(down=True))).paper("2501.00001")
    with pytest.raises(InvalidInput):
        await (await catalog_with(db)).paper("not an id")  # nor a stored title


async def test_a_digest_has_top_papers_one_sentence_each(db: Database) -> None:
    digest = await (await catalog_with(db)).digest("2024-08-01")
    assert isinstance(digest, Digest)
    assert digest.total_papers == 11 and len(digest.entries) == 10
    for paper, sentence in digest.entries:
        assert sentence and len(sentence) <= len(paper.abstract)
    empty = await (await catalog_with(db)).digest("2024-08-04")
    assert isinstance(empty, DayListing) and empty.papers == ()


async def test_an_old_day_nobody_fetched_is_fetched_when_asked_for(db: Database) -> None:
    extra = fixture_papers("daily_papers_2024-05-27")[0]
    source = StubSource(extra)
    catalog = await catalog_with(db, source)
    listing = await catalog.day_listing("2024-05-27")
    assert [paper.id for paper in listing.papers] == [extra.id]
    assert source.days == [date(2024, 5, 27)]
    await catalog.day_listing("2024-05-27")  # stored now: not fetched again
    assert source.days == [date(2024, 5, 27)]


async def test_an_old_day_while_hf_is_down_says_so_and_is_not_refetched_at_once(
    db: Database,
) -> None:
    source = StubSource(down=True)
    catalog = await catalog_with(db, source)
    listing = await catalog.day_listing("2024-07-30")
    assert listing.empty_reason is not None and "not answering" in listing.empty_reason
    assert listing.latest_day == date(2024, 8, 1)
    await catalog.day_listing("2024-07-30")
    assert source.days == [date(2024, 7, 30)]


async def test_a_typed_title_finds_the_stored_paper(db: Database) -> None:
    catalog = await catalog_with(db)
    assert (await catalog.paper("llama 3 herd")).id == "2407.21783"
    with pytest.raises(InvalidInput, match="title"):
        await catalog.paper("zzqx nothing like it")


class ListingSource:
    """Hugging Face serving recorded days whole, and each of their papers alone."""

    def __init__(self, *names: str) -> None:
        self.listed: dict[date, list[Paper]] = {}
        for name in names:
            papers = fixture_papers(name)
            self.listed[papers[0].listed_on[0]] = papers
        self.days: list[date] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        self.days.append(day)
        return DailyPage(day=day, papers=tuple(self.listed.get(day, ())))

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        found = [p for papers in self.listed.values() for p in papers if p.id == arxiv_id]
        return found[0] if found else None


def listing_catalog(db: Database, source: ListingSource, now: datetime) -> Catalog:
    repo = PaperRepo(db)
    return Catalog(repo, IngestService(source, repo, StateRepo(db), clock=lambda: now))


OCTOBER_6 = datetime(2025, 10, 6, 9, 0, tzinfo=UTC)  # the Monday after the 39-paper Friday


async def test_a_day_one_paper_of_which_was_looked_up_still_lists_all_its_papers(
    db: Database,
) -> None:
    source = ListingSource("daily_papers_2025-10-03")
    catalog = listing_catalog(db, source, OCTOBER_6)
    looked_up = source.listed[date(2025, 10, 3)][5]
    await catalog.paper(looked_up.id)  # /papers show, /papers summary or a bookmark
    listing = await catalog.day_listing("2025-10-03")
    assert len(listing.papers) == 39 and looked_up.id in {p.id for p in listing.papers}
    digest = await catalog.digest("2025-10-03")
    assert isinstance(digest, Digest) and digest.total_papers == 39
    assert source.days == [date(2025, 10, 3)]  # fetched whole once, then read from the store


async def test_the_latest_day_with_papers_is_the_latest_fetched_overall(db: Database) -> None:
    source = ListingSource("daily_papers_2024-05-27", "daily_papers_2025-10-03")
    catalog = listing_catalog(db, source, OCTOBER_6)
    await catalog.day_listing("2025-10-03")  # fetched whole
    await catalog.paper(source.listed[date(2024, 5, 27)][0].id)  # an old paper looked up
    weekend = await catalog.day_listing("2024-06-01")
    assert weekend.empty_reason is not None and "weekend" in weekend.empty_reason
    assert weekend.latest_day == date(2025, 10, 3)  # not 2024-05-27, the lookup before it


async def test_empty_days_say_what_the_fetch_found(db: Database) -> None:
    source = ListingSource("daily_papers_2025-10-03")
    catalog = listing_catalog(db, source, OCTOBER_6)
    quiet_weekday = await catalog.day_listing("2025-09-30")
    assert quiet_weekday.empty_reason == "Hugging Face listed no papers for 2025-09-30."
    today = await catalog.day_listing(None)  # the poller has not fetched today yet: asked now
    assert today.empty_reason is not None and "yet" in today.empty_reason
    assert source.days == [date(2025, 9, 30), date(2025, 10, 6)]
    assert today.latest_day is None  # no day fetched whole has papers


async def test_a_day_only_looked_up_while_hf_is_down_says_it_is_incomplete(db: Database) -> None:
    extra = fixture_papers("daily_papers_2024-05-27")[0]
    source = StubSource(extra)
    catalog = await catalog_with(db, source)
    await catalog.paper(extra.id)
    source.down = True
    listing = await catalog.day_listing("2024-05-27")
    assert [paper.id for paper in listing.papers] == [extra.id]
    assert listing.incomplete is not None and "not answering" in listing.incomplete
    digest = await catalog.digest("2024-05-27")
    assert isinstance(digest, Digest) and digest.total_papers == 1
    assert digest.incomplete == listing.incomplete  # the digest says so too
    whole = await catalog.day_listing("2024-08-01")
    assert len(whole.papers) == 11 and whole.incomplete is None


async def test_a_day_fetched_whole_only_while_it_filled_in_says_so_when_hf_is_down(
    db: Database,
) -> None:
    repo = PaperRepo(db)
    early = fixture_papers("daily_papers_2024-08-01")[:3]
    morning = datetime(2024, 8, 1, 6, 0, tzinfo=UTC)  # the list was still filling in
    await repo.upsert_papers(early, now=morning, fetched_day=FetchedDay(date(2024, 8, 1), "api", 3))
    source = StubSource(down=True)
    catalog = Catalog(repo, IngestService(source, repo, StateRepo(db), clock=lambda: TODAY))
    listing = await catalog.day_listing("2024-08-01")
    assert source.days == [date(2024, 8, 1)]  # asked for the rest of the day
    assert len(listing.papers) == 3
    assert listing.incomplete is not None and "not answering" in listing.incomplete


def test_days_before_daily_papers_began_are_refused_without_asking_hugging_face() -> None:
    with pytest.raises(InvalidInput, match="began on 2023-05-04"):
        parse_day("2019-01-01", date(2026, 6, 12))
    assert parse_day("2023-05-04", date(2026, 6, 12)) == date(2023, 5, 4)
