"""What people ask of the stored papers: a day's list, search, summaries, digests, one paper."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time

from bot.errors import (
    InvalidInput,
    InvalidQuery,
    PaperBotError,
    PaperNotFound,
    QueryTooBroad,
    UpstreamError,
)
from bot.guilds import GuildSettings
from bot.ingest import IngestService
from bot.models import FIRST_LISTING_DAY, Paper, SearchHit
from bot.porter import stem
from bot.search import MAX_QUERY_CHARS, FtsQuery, build_fts_query, highlight, phrase
from bot.spelling import as_word, checkable_words, nearest, real_word, replace_words
from bot.store.db import ReadBudget, ReadBudgetExceeded
from bot.store.papers import SEARCH_BUDGET, ListingDay, PaperRepo, StoredHit
from bot.store.similar import SimilarRepo
from bot.summarise import Summary, one_sentence, recurring_keywords, summarise_paper
from bot.timezones import discord_timestamp

SEARCH_LIMIT = 25
DIGEST_PAPERS = 10
AUTOCOMPLETE_LIMIT = 25
REFETCH_AFTER = 600.0  # seconds between on-demand fetches of the same old day
MAX_CORRECTIONS = 3  # misspelt words looked up per search
WORD_SAMPLES = 3  # papers read to find the real word for a corrected stem

# New-style arXiv ids (2007 on), optionally inside an HF/arXiv URL and with a version suffix.
_ARXIV_ID = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")


def normalise_paper_id(text: str) -> str | None:
    """The arXiv id in ``text`` ("2406.12345", an HF or arXiv URL, "2406.12345v2"), or None."""
    match = _ARXIV_ID.search(text.strip())
    return match.group(1) if match else None


def parse_day(text: str | None, today: date) -> date:
    """A listing day from user text: YYYY-MM-DD, "today" or "yesterday" (default ``today``:
    the asker's server's local date)."""
    if text is None or not text.strip() or text.strip().lower() == "today":
        return today
    if text.strip().lower() == "yesterday":
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"I could not read {text.strip()[:40]!r} as a date: use YYYY-MM-DD, like {today}."
        ) from None
    if day > today:
        raise InvalidInput(f"{day} is in the future: Hugging Face has not listed it yet.")
    if day < FIRST_LISTING_DAY:
        # Each day asked for costs a request to Hugging Face: none for days it cannot have.
        raise InvalidInput(
            f"Hugging Face Daily Papers began on {FIRST_LISTING_DAY}: pick that day or a later one."
        )
    return day


@dataclass(frozen=True, slots=True)
class DayListing:
    """A day's papers, or, when there are none, why and which day to look at instead."""

    day: date
    papers: tuple[Paper, ...]
    empty_reason: str | None = None
    latest_day: date | None = None
    incomplete: str | None = None  # why the day may lack papers (it was never fetched whole)


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    relaxed: bool = False  # no paper had every word; these match some of them
    suggestion: str | None = None  # "did you mean": the query with misspelt words corrected


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    entries: tuple[tuple[Paper, str], ...]
    keywords: tuple[tuple[str, int], ...]
    total_papers: int
    incomplete: str | None = None  # as DayListing.incomplete: the day may lack papers


class Catalog:
    """The read side of papers-bot, shared by every command that shows papers."""

    def __init__(
        self,
        papers: PaperRepo,
        ingest: IngestService,
        *,
        search_budget: ReadBudget = SEARCH_BUDGET,
        guilds: GuildSettings | None = None,
        vocabulary: SimilarRepo | None = None,
    ) -> None:
        self.papers = papers
        self.ingest = ingest
        self.guilds = guilds  # None: every server's day is the UTC day
        # The stored words and their document counts, for "did you mean" (shared with similar
        # papers, which counts the same words).
        self.vocabulary = vocabulary or SimilarRepo(papers.db)
        self.search_budget = search_budget  # per search or autocomplete read
        self._fetched: dict[date, float] = {}  # day → monotonic time of its on-demand fetch
        self._fetch_errors: dict[date, str] = {}  # day → why its last on-demand fetch failed

    def today(self) -> date:
        """Today in UTC: the day Hugging Face is listing now."""
        return self.ingest.today()

    async def local_today(self, guild_id: int | None) -> date:
        """Today in the server's time zone (what "today" means to its members)."""
        if self.guilds is None:
            return self.today()
        return await self.guilds.local_today(guild_id)

    def _may_fetch(self, day: date) -> bool:
        """At most one on-demand fetch of a day per REFETCH_AFTER (an empty day stays empty)."""
        now = time.monotonic()
        last = self._fetched.get(day)
        if last is not None and now - last < REFETCH_AFTER:
            return False
        self._fetched[day] = now
        return True

    def _complete(self, record: ListingDay | None) -> bool:
        """Whether the stored listing of the record's day can be shown as the whole day.

        Only a whole fetch counts, never single papers looked up. A list fills in during its
        day, so a day fetched whole before it ended is complete only while the poller still
        refreshes it (today and yesterday).
        """
        if record is None or not record.whole:
            return False
        polled = record.day >= self.today() - timedelta(days=1)
        return polled or record.fetched_at.date() > record.day

    async def day_listing(
        self, day_text: str | None = None, *, guild_id: int | None = None
    ) -> DayListing:
        """The day's papers by upvotes; for an empty day, the reason and the latest day with
        papers. "today", "yesterday" and no date mean the server's local day.

        A day nobody fetched whole yet (an older day, or today before the poller got to it) is
        fetched from Hugging Face when someone asks for it, even if some of its papers were
        stored by single lookups. A local day that has not begun in UTC yet (east of UTC, before
        UTC midnight) is not a listing day: Hugging Face lists by UTC day, and the reply says so.
        """
        today = await self.local_today(guild_id)
        day = parse_day(day_text, today)
        if day > self.today():
            begins = datetime.combine(day, dt_time(), tzinfo=UTC)
            reason = (
                f"Hugging Face lists papers by UTC day, and {day} begins there "
                f"{discord_timestamp(begins, 'R')} ({discord_timestamp(begins, 't')} your time): "
                "nothing can be listed for it yet."
            )
            latest = await self.papers.latest_listing_day()
            return DayListing(day=day, papers=(), empty_reason=reason, latest_day=latest)
        record = await self.papers.listing_day(day)
        fetch_error = None
        if not self._complete(record) and self._may_fetch(day):
            try:
                await self.ingest.ingest_day(day, interactive=True)
            except PaperBotError as exc:
                fetch_error = exc.user_message
                self._fetch_errors[day] = fetch_error
            else:
                self._fetch_errors.pop(day, None)
                record = await self.papers.listing_day(day)
        elif not self._complete(record):
            fetch_error = self._fetch_errors.get(day)  # tried a few minutes ago, and it failed
        papers = await self.papers.papers_listed_on(day)
        if papers and not self._complete(record):
            why = f"fetching it failed: {fetch_error}" if fetch_error else "it is being fetched"
            if record is not None and record.whole:
                # Fetched whole while the day was still filling in, and not since.
                stored = f"Only the papers listed by {discord_timestamp(record.fetched_at, 'f')}"
            else:
                stored = "Only some of its papers (looked up one by one, or in a top list)"
            note = (
                f"{stored} are stored for {day}; the whole day is not, as {why}. "
                "Try again in a few minutes."
            )
            return DayListing(day=day, papers=tuple(papers), incomplete=note)
        if papers:
            return DayListing(day=day, papers=tuple(papers))
        if record is None or not record.whole:
            reason = f"No papers are stored for {day}"
            reason += (
                f", and fetching them failed: {fetch_error}"
                if fetch_error
                else " yet: they are being fetched from Hugging Face. Try again in a minute."
            )
        elif day.weekday() >= 5:
            reason = f"{day:%A} {day} is a weekend: Hugging Face does not list papers at weekends."
        elif day in (today, self.today()):
            reason = f"Nothing is listed for today ({day}) yet: the list fills in during the day."
        elif record.fetched_at.date() <= day:
            reason = (
                f"Nothing was listed for {day} yet when I last looked "
                f"({discord_timestamp(record.fetched_at)})."
            )
        else:
            reason = f"Hugging Face listed no papers for {day}."
        latest = await self.papers.latest_listing_day()
        return DayListing(day=day, papers=(), empty_reason=reason, latest_day=latest)

    async def search(self, text: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
        """Ranked full-text search; an arXiv id finds that paper first.

        Raises InvalidQuery (nothing to search for, too many terms) or QueryTooBroad (the search
        ran past its time budget), each with a sentence that says how to narrow it.
        """
        text = text[:MAX_QUERY_CHARS]
        exact: list[SearchHit] = []
        paper_id = normalise_paper_id(text)
        if paper_id is not None:
            paper = await self.papers.get(paper_id)
            if paper is not None:
                exact.append(SearchHit(paper=paper, snippet="", score=float("-inf")))
        try:
            query = build_fts_query(text)
        except InvalidQuery:
            if exact:
                return SearchResult(query=text, hits=tuple(exact))
            raise
        relaxed = False
        suggestion = None
        try:
            found, relaxed = await self.papers.search_relaxing(
                query.strict, query.relaxed, limit=limit, budget=self.search_budget
            )
            strict_hits = 0 if relaxed else len(found)
            # No paper has every word (at most some): a word may be misspelt. When some paper
            # matches the whole query, its words are stored (but for OR alternatives).
            if not strict_hits:
                suggestion = await self._correction(text)
        except ReadBudgetExceeded:
            if exact:
                return SearchResult(query=text, hits=tuple(exact))
            raise QueryTooBroad(
                "That search is too broad to finish quickly: add a word, or remove a short "
                "prefix* or some OR alternatives."
            ) from None
        hits = [self._hit(stored, query) for stored in found]
        seen = {hit.paper_id for hit in exact}
        merged = exact + [hit for hit in hits if hit.paper_id not in seen]
        return SearchResult(
            query=text, hits=tuple(merged[:limit]), relaxed=relaxed, suggestion=suggestion
        )

    @staticmethod
    def _hit(stored: StoredHit, query: FtsQuery) -> SearchHit:
        # Made when a page shows it: highlighting is most of what a search costs in Python.
        return SearchHit(
            paper=stored.paper,
            snippet=lambda: highlight(stored.abstract, query),
            score=stored.score,
            paper_id=stored.id,
        )

    async def _correction(self, text: str) -> str | None:
        """The query with its unknown words replaced by the nearest stored ones, if some paper
        then has every word; else None.

        A word is unknown when no stored paper has its stem. Candidates are the stored stems
        with the same first letter and about the same length, at most two edits away (one for
        a short stem); the fewest edits win, then the longest shared start, then the most papers.
        """
        words = checkable_words(text)[: MAX_CORRECTIONS * 3]
        if not words:
            return None
        known = await self.vocabulary.document_counts(words)
        corrections: dict[str, str] = {}
        for word in [word for word in words if word not in known][:MAX_CORRECTIONS]:
            stemmed = stem(word)
            near = await self.vocabulary.terms_near(stemmed[0], len(stemmed) - 2, len(stemmed) + 2)
            corrected = nearest(stemmed, near)
            if corrected is None:
                continue
            candidate = as_word(word, corrected)  # stems to `corrected`: finds its papers
            texts = await self.papers.texts_matching(
                phrase((candidate,)), limit=WORD_SAMPLES, budget=self.search_budget
            )
            corrections[word] = real_word(word, corrected, texts) or candidate
        if not corrections:
            return None
        suggestion = replace_words(text, corrections)
        try:
            found = await self.papers.search(
                build_fts_query(suggestion).strict, limit=1, budget=self.search_budget
            )
        except InvalidQuery:
            return None
        return suggestion if found else None

    async def paper(self, reference: str) -> Paper:
        """One paper by id, URL or title: stored, or fetched from Hugging Face and stored."""
        paper_id = normalise_paper_id(reference)
        if paper_id is None:
            try:
                by_title = await self.papers.suggest(
                    reference[:200], limit=1, budget=self.search_budget
                )
            except ReadBudgetExceeded:
                by_title = []
            if not by_title:
                raise InvalidInput(
                    "No stored paper has a title like that: give an arXiv id like 2406.12345, "
                    "or pick a paper from the suggestions."
                )
            return by_title[0]
        try:
            paper = await self.ingest.paper(paper_id)
        except UpstreamError as exc:
            raise UpstreamError(
                f"Paper {paper_id} is not stored yet and Hugging Face is not answering: "
                "try again in a few minutes."
            ) from exc
        if paper is None:
            raise PaperNotFound(f"Hugging Face has no paper {paper_id}.")
        return paper

    async def summary(self, reference: str) -> tuple[Paper, Summary]:
        paper = await self.paper(reference)
        return paper, summarise_paper(paper)

    async def digest(
        self, day_text: str | None = None, *, guild_id: int | None = None
    ) -> Digest | DayListing:
        """The day's top papers with one sentence each and the recurring keywords ("today"
        means the server's local day, as for :meth:`day_listing`)."""
        listing = await self.day_listing(day_text, guild_id=guild_id)
        if not listing.papers:
            return listing
        top = listing.papers[:DIGEST_PAPERS]
        return Digest(
            day=listing.day,
            entries=tuple((paper, one_sentence(paper)) for paper in top),
            keywords=tuple(recurring_keywords(listing.papers)),
            total_papers=len(listing.papers),
            incomplete=listing.incomplete,
        )

    async def suggest(self, text: str) -> list[Paper]:
        """Papers for autocomplete, by id or title; none when the lookup ran out of time."""
        try:
            return await self.papers.suggest(
                text[:100], limit=AUTOCOMPLETE_LIMIT, budget=self.search_budget
            )
        except ReadBudgetExceeded:
            return []  # the next keystroke asks again
