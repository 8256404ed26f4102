"""Top lists: Hugging Face's list for this week or month, and the papers a server bookmarked most.

A period's list is fetched from Hugging Face at most every ``REFETCH_AFTER`` and its papers are
stored like any others (their listing days are their own); the list is always read back from the
store, ranked by the upvotes stored there, so a later poll's fresher counts count too. While
Hugging Face is down the last fetched list is shown, or else what the store holds for the
period's days, and the reply says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.bookmarks import pending_placeholder
from bot.errors import InvalidInput, PaperBotError, UpstreamError
from bot.models import Paper, PeriodKind, PeriodPage
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import utc_now
from bot.store.papers import PaperRepo
from bot.store.top import TopListRepo

log = logging.getLogger(__name__)

# Upvotes move all day, but a list fetched half an hour ago still ranks the same papers on top.
REFETCH_AFTER = timedelta(minutes=30)
TOP_LIMIT = 50  # papers shown (5 pages of 10): a month lists a thousand
SERVER_DAYS = 7


class PeriodSource(Protocol):
    """Where period lists come from (``bot.hf.client.HFClient``)."""

    async def fetch_period(self, kind: PeriodKind, period: str) -> PeriodPage: ...


@dataclass(frozen=True, slots=True)
class Period:
    """An ISO week or a calendar month (UTC), named as Hugging Face's API names it."""

    kind: PeriodKind
    key: str  # "2025-W40" or "2025-10"
    first: date
    last: date

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """The week (Monday to Sunday) or month that ``day`` falls in."""
        if kind == "week":
            year, week, weekday = day.isocalendar()
            monday = day - timedelta(days=weekday - 1)
            return cls(kind, f"{year}-W{week:02d}", monday, monday + timedelta(days=6))
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(kind, f"{day:%Y-%m}", first, following - timedelta(days=1))

    @property
    def window_first(self) -> date:
        """The earliest listing day Hugging Face's list may hold: its windows start a little
        early (the Friday before an ISO week, the last day of the month before)."""
        return self.first - timedelta(days=3 if self.kind == "week" else 1)

    def may_list(self, paper: Paper) -> bool:
        """Whether ``paper`` can belong to this period's list (a paper without a day: yes)."""
        return not paper.listed_on or any(
            self.window_first <= day <= self.last for day in paper.listed_on
        )

    @property
    def label(self) -> str:
        """How a reply names it: "week 2025-W40 (29 Sep – 5 Oct 2025)", "October 2025"."""
        if self.kind == "month":
            return f"{self.first:%B %Y}"
        first, last = self.first, self.last
        return f"week {self.key} ({first.day} {first:%b} – {last.day} {last:%b %Y})"


@dataclass(frozen=True, slots=True)
class TopList:
    """The most upvoted papers of a period, most first.

    ``fetched_at``: when Hugging Face's list was fetched (None: the list was never fetched and
    these are the stored papers listed on the period's days). ``upstream_error``: Hugging Face
    failed just now, so what is shown is what the store had.
    """

    period: Period
    papers: tuple[Paper, ...]
    total: int
    fetched_at: datetime | None
    upstream_error: str | None = None


@dataclass(frozen=True, slots=True)
class ServerTop:
    """The papers most bookmarked in one server since ``since``, with how many times each."""

    entries: tuple[tuple[Paper, int], ...]
    since: datetime
    days: int = SERVER_DAYS


class TopLists:
    """``/papers top``: the period lists and the server's most bookmarked papers."""

    def __init__(
        self,
        source: PeriodSource,
        papers: PaperRepo,
        lists: TopListRepo,
        bookmarks: BookmarkRepo,
        *,
        clock: Callable[[], datetime] = utc_now,
        refetch_after: timedelta = REFETCH_AFTER,
        limit: int = TOP_LIMIT,
    ) -> None:
        self.source = source
        self.papers = papers
        self.lists = lists
        self.bookmarks = bookmarks
        self.clock = clock
        self.refetch_after = refetch_after
        self.limit = limit
        # Two requests at once make one fetch: the second waits and reads what the first stored.
        self._fetching = asyncio.Lock()

    async def period_top(self, kind: PeriodKind) -> TopList:
        """The most upvoted papers of Hugging Face's list for this week or this month (UTC).

        Raises UpstreamError only when Hugging Face fails and nothing is stored for the period.
        """
        period = Period.containing(kind, self.clock().date())
        error: str | None = None
        async with self._fetching:
            fetched_at = await self.lists.fetched_at(period.key)
            now = self.clock()
            if fetched_at is None or now - fetched_at >= self.refetch_after:
                try:
                    await self._fetch(period, now)
                except PaperBotError as exc:
                    error = exc.user_message
                    log.warning("the %s list %s: %s", kind, period.key, exc.user_message)
                else:
                    fetched_at = now
        if fetched_at is not None:
            papers, total = await self.lists.papers(period.key, limit=self.limit)
            return TopList(period, tuple(papers), total, fetched_at, error)
        papers, total = await self.lists.papers_listed_between(
            period.first, period.last, limit=self.limit
        )
        if not papers:
            raise UpstreamError(
                f"Hugging Face is not answering, and no papers are stored for {period.label} "
                "yet: please try again in a few minutes."
            )
        return TopList(period, tuple(papers), total, None, error)

    async def _fetch(self, period: Period, now: datetime) -> None:
        page = await self.source.fetch_period(period.kind, period.key)
        await self.papers.upsert_papers(page.papers, now=now)
        # Before about September 2025 the API ignored week=/month=; an answer that is some other
        # list must not pass for this period's (its papers are still stored, like any others).
        inside = [paper.id for paper in page.papers if period.may_list(paper)]
        if len(inside) < len(page.papers):
            log.warning(
                "the %s list %s: %d of %d papers were listed outside it; left out",
                period.kind,
                period.key,
                len(page.papers) - len(inside),
                len(page.papers),
            )
        await self.lists.replace(period.key, inside, now=now)
        log.info("the %s list %s: %d papers", period.kind, period.key, len(inside))

    async def server_top(self, guild_id: int | None) -> ServerTop:
        """The papers most bookmarked by members of this server in the last ``SERVER_DAYS``.

        Counts only: nothing here can tell who saved what.
        """
        if guild_id is None:
            raise InvalidInput(
                "This list counts the bookmarks made in a server, so it only works in one: "
                "run it in a server, or pick the week or month list."
            )
        since = self.clock() - timedelta(days=SERVER_DAYS)
        counts = await self.bookmarks.most_bookmarked_in(guild_id, since=since, limit=self.limit)
        stored = await self.papers.get_many([paper_id for paper_id, _ in counts])
        entries = tuple(
            (stored.get(paper_id) or pending_placeholder(paper_id), saves)
            for paper_id, saves in counts
        )
        return ServerTop(entries, since=since)
