"""Reading lists: save, forget, list, export; Hugging Face being down never loses a bookmark."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.bookmarks import BookmarkPage, BookmarkService, NotBookmarked
from bot.errors import PaperBotError, ParseError, UpstreamError
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database
from bot.store.feed import PostRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

ALICE, BOB = 1001, 2002
START = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)


class FakeSource:
    """Hugging Face as IngestService sees it: known papers, and a switch for an outage."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = {paper.id: paper for paper in papers}
        self.down = False
        self.garbled = False
        self.asked: list[str] = []

    async def fetch_daily(self, day: date) -> DailyPage:
        raise AssertionError("bookmarks never fetch listing days")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        self.asked.append(arxiv_id)
        if self.down:
            raise UpstreamError("Hugging Face is not answering right now (HTTP 503)")
        if self.garbled:
            raise ParseError("Hugging Face sent an answer we could not read")
        return self.papers.get(arxiv_id)


class Clock:
    """Each reading is one second later, so "newest first" is unambiguous."""

    def __init__(self) -> None:
        self.moments: Iterator[datetime] = (START + timedelta(seconds=n) for n in range(10**6))

    def __call__(self) -> datetime:
        return next(self.moments)


@pytest.fixture
def hf_papers() -> list[Paper]:
    return fixture_papers("daily_papers_2026-06-12")


@pytest.fixture
def source(hf_papers: list[Paper]) -> FakeSource:
    return FakeSource(hf_papers)


@pytest.fixture
async def stored(db: Database, hf_papers: list[Paper]) -> list[Paper]:
    """The first ten papers of the day are stored; the rest only Hugging Face knows."""
    await PaperRepo(db).upsert_papers(hf_papers[:10], now=START)
    return hf_papers[:10]


@pytest.fixture
def service(db: Database, source: FakeSource, stored: list[Paper]) -> BookmarkService:
    clock = Clock()
    papers = PaperRepo(db)
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)
    return BookmarkService(BookmarkRepo(db), papers, ingest, PostRepo(db), clock=clock, page_size=4)


async def post(db: Database, message_id: int, paper_id: str) -> None:
    await PostRepo(db).record_post(
        message_id, 500, 600, paper_id, "feed", 0, 0, now=START - timedelta(days=30)
    )


def listed(pages: Sequence[BookmarkPage]) -> list[str]:
    return [entry.paper.id for page in pages for entry in page.entries]


# -- saving and forgetting ----------------------------------------------------------------------


async def test_saving_twice_keeps_one_bookmark_and_its_first_date(
    service: BookmarkService, stored: list[Paper]
) -> None:
    first = await service.add(ALICE, stored[0].id)
    again = await service.add(ALICE, stored[0].id)

    assert (first.saved, first.changed, first.total, first.title) == (
        True,
        True,
        1,
        stored[0].title,
    )
    assert (again.saved, again.changed, again.total) == (True, False, 1)
    [page] = await service.pages(ALICE)
    assert page.entries[0].saved_at == START  # the first save's moment, not the second's


async def test_toggle_saves_then_removes(service: BookmarkService, stored: list[Paper]) -> None:
    await service.add(ALICE, stored[1].id)

    saved = await service.toggle(ALICE, stored[0].id)
    removed = await service.toggle(ALICE, stored[0].id)

    assert (saved.saved, saved.total) == (True, 2)
    assert (removed.saved, removed.changed, removed.total) == (False, True, 1)


async def test_two_quick_clicks_flip_twice(service: BookmarkService, stored: list[Paper]) -> None:
    results = await asyncio.gather(*(service.toggle(ALICE, stored[0].id) for _ in range(2)))
    assert sorted(result.saved for result in results) == [False, True]
    assert await service.count(ALICE) == 0


async def test_remove_accepts_an_id_a_link_or_unique_title_words(
    service: BookmarkService, stored: list[Paper]
) -> None:
    for paper in stored[:3]:
        await service.add(ALICE, paper.id)

    by_id = await service.remove(ALICE, stored[0].id)
    by_link = await service.remove(ALICE, f"https://huggingface.co/papers/{stored[1].id}")
    by_title = await service.remove(ALICE, stored[2].title[:40])

    assert [by_id.paper_id, by_link.paper_id, by_title.paper_id] == [p.id for p in stored[:3]]
    assert by_title.total == 0
    assert by_title.title == stored[2].title


async def test_removing_what_is_not_saved_says_so(
    service: BookmarkService, stored: list[Paper]
) -> None:
    await service.add(ALICE, stored[0].id)
    with pytest.raises(NotBookmarked, match="not in your bookmarks"):
        await service.remove(ALICE, stored[1].id)
    with pytest.raises(NotBookmarked):
        await service.remove(ALICE, "")


async def test_ids_that_are_not_arxiv_ids_are_refused(service: BookmarkService) -> None:
    with pytest.raises(PaperBotError, match="does not look like an arXiv paper"):
        await service.toggle(ALICE, "../../etc/passwd")


async def test_clear_forgets_everything_of_that_user_only(
    service: BookmarkService, stored: list[Paper]
) -> None:
    for paper in stored[:3]:
        await service.add(ALICE, paper.id)
    await service.add(BOB, stored[0].id)

    assert await service.clear(ALICE) == 3
    assert await service.count(ALICE) == 0
    assert await service.count(BOB) == 1


# -- reading ------------------------------------------------------------------------------------


async def test_the_list_is_newest_first_in_pages_with_the_date_saved(
    service: BookmarkService, stored: list[Paper]
) -> None:
    for paper in stored:  # ten papers, four per page
        await service.add(ALICE, paper.id)

    pages = await service.pages(ALICE)

    assert [(page.page, page.pages, page.total, len(page.entries)) for page in pages] == [
        (1, 3, 10, 4),
        (2, 3, 10, 4),
        (3, 3, 10, 2),
    ]
    assert listed(pages) == [paper.id for paper in reversed(stored)]
    saved_at = [entry.saved_at for page in pages for entry in page.entries]
    assert saved_at == sorted(saved_at, reverse=True)
    assert pages[0].entries[0].paper == await PaperRepo(service.papers.db).get(stored[-1].id)


async def test_an_empty_list_is_one_empty_page(service: BookmarkService) -> None:
    [page] = await service.pages(ALICE)
    assert (page.entries, page.page, page.pages, page.total) == ((), 1, 1, 0)


async def test_export_holds_every_bookmark_newest_first(
    service: BookmarkService, stored: list[Paper]
) -> None:
    for paper in stored[:3]:
        await service.add(ALICE, paper.id)

    export = await service.export(ALICE)

    assert export.count == 3
    assert export.filename == "bookmarks.bib"
    eprints = [
        line.split("{")[1].rstrip("},") for line in export.text.splitlines() if "eprint" in line
    ]
    assert eprints == [paper.id for paper in reversed(stored[:3])]


async def test_an_empty_export_is_empty(service: BookmarkService) -> None:
    export = await service.export(ALICE)
    assert (export.count, export.text) == (0, "")


# -- privacy ------------------------------------------------------------------------------------


async def test_nobody_sees_or_touches_another_users_bookmarks(
    service: BookmarkService, stored: list[Paper]
) -> None:
    await service.add(ALICE, stored[0].id)
    await service.add(ALICE, stored[1].id)
    await service.add(BOB, stored[2].id)

    assert listed(await service.pages(BOB)) == [stored[2].id]
    assert [match.paper_id for match in await service.suggest(BOB, "")] == [stored[2].id]
    assert await service.suggest(BOB, stored[0].id) == []
    assert await service.suggest(BOB, stored[0].title[:20]) == []
    assert stored[0].id not in (await service.export(BOB)).text
    with pytest.raises(NotBookmarked):
        await service.remove(BOB, stored[0].id)
    assert await service.count(ALICE) == 2


async def test_suggestions_match_id_or_title_words_newest_first_at_most_25(
    db: Database, source: FakeSource, hf_papers: list[Paper]
) -> None:
    await PaperRepo(db).upsert_papers(hf_papers, now=START)
    clock = Clock()
    papers = PaperRepo(db)
    service = BookmarkService(
        BookmarkRepo(db),
        papers,
        IngestService(source, papers, StateRepo(db), clock=clock),
        PostRepo(db),
        clock=clock,
    )
    for paper in hf_papers:
        await service.add(ALICE, paper.id)

    everything = await service.suggest(ALICE, "")
    by_id = await service.suggest(ALICE, hf_papers[5].id)
    word = hf_papers[3].title.split()[0]
    by_word = await service.suggest(ALICE, word.upper())

    assert len(everything) == min(25, len(hf_papers))
    assert everything[0].paper_id == hf_papers[-1].id
    assert [match.paper_id for match in by_id] == [hf_papers[5].id]
    assert hf_papers[3].id in [match.paper_id for match in by_word]
    assert all(word.lower() in (match.title or "").lower() for match in by_word)


# -- reactions on paper posts -------------------------------------------------------------------


async def test_a_reaction_on_a_paper_post_saves_it(
    db: Database, service: BookmarkService, stored: list[Paper]
) -> None:
    await post(db, 7001, stored[4].id)

    saved = await service.bookmark_message(ALICE, 7001)

    assert saved is not None
    assert (saved.paper_id, saved.saved) == (stored[4].id, True)
    assert await service.count(ALICE) == 1


async def test_messages_that_show_no_paper_are_ignored(service: BookmarkService) -> None:
    assert await service.bookmark_message(ALICE, 424242) is None
    assert await service.count(ALICE) == 0


async def test_an_unstored_paper_is_fetched_and_stored_when_bookmarked(
    db: Database, service: BookmarkService, source: FakeSource, hf_papers: list[Paper]
) -> None:
    old = hf_papers[12]
    await post(db, 7002, old.id)

    saved = await service.bookmark_message(ALICE, 7002)

    assert saved is not None
    assert (saved.title, saved.details_pending) == (old.title, False)
    assert source.asked == [old.id]
    assert await PaperRepo(db).get(old.id) is not None


async def test_hugging_face_down_loses_nothing_and_details_arrive_later(
    db: Database,
    service: BookmarkService,
    source: FakeSource,
    hf_papers: list[Paper],
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = hf_papers[12]
    await post(db, 7003, old.id)
    source.down = True

    with caplog.at_level(logging.WARNING, logger="bot.bookmarks"):
        saved = await service.bookmark_message(ALICE, 7003)

    assert saved is not None
    assert (saved.saved, saved.details_pending, saved.total) == (
        True,
        True,
        1,
    )
    assert any(
        f"bookmark of {old.id} saved without its details" in record.getMessage()
        for record in caplog.records
    )
    [page] = await service.pages(ALICE)
    assert page.entries[0].details_pending
    assert page.entries[0].paper.id == old.id
    assert "details not fetched yet" in page.entries[0].paper.title
    pending_export = await service.export(ALICE)
    assert (pending_export.count, pending_export.details_pending) == (1, 1)
    assert f"eprint = {{{old.id}}}" in pending_export.text

    source.down = False
    [page] = await service.pages(ALICE)

    assert not page.entries[0].details_pending
    assert page.entries[0].paper.title == old.title
    assert await PaperRepo(db).get(old.id) is not None


async def test_while_hugging_face_is_down_a_list_asks_it_only_once(
    db: Database, service: BookmarkService, source: FakeSource, hf_papers: list[Paper]
) -> None:
    source.down = True
    for paper in hf_papers[10:15]:
        await service.add(ALICE, paper.id)
    source.asked.clear()

    pages = await service.pages(ALICE)

    assert len(source.asked) == 1
    assert len(listed(pages)) == 5


async def test_an_unreadable_answer_from_hugging_face_keeps_the_bookmark_too(
    db: Database, service: BookmarkService, source: FakeSource, hf_papers: list[Paper]
) -> None:
    old = hf_papers[11]
    await post(db, 7011, old.id)
    source.garbled = True
    saved = await service.bookmark_message(ALICE, 7011)
    assert saved is not None
    assert (saved.saved, saved.details_pending) == (True, True)
    [page] = await service.pages(ALICE)  # the list still opens
    assert page.entries[0].details_pending
    export = await service.export(ALICE)
    assert f"eprint = {{{old.id}}}" in export.text
