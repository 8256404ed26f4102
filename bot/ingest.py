"""Hugging Face → the store: fetch listing days, upsert, and remember how polling went."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.errors import PaperBotError, RateLimitedError
from bot.models import DailyPage, Paper
from bot.store.db import from_iso, to_iso, utc_now
from bot.store.papers import FetchedDay, PaperRepo
from bot.store.state import StateRepo

log = logging.getLogger(__name__)

_POLL_STATE = "poll"
# After an outage, polling reaches back to the last good poll, but not further than this.
MAX_CATCH_UP_DAYS = 7


class PaperSource(Protocol):
    """Where papers come from (``bot.hf.client.HFClient``; a fake in tests)."""

    async def fetch_daily(self, day: date) -> DailyPage: ...

    async def fetch_paper(self, arxiv_id: str) -> Paper | None: ...


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    total: int
    new: tuple[str, ...]
    updated: tuple[str, ...]
    skipped: int = 0
    source: str = "api"


@dataclass(frozen=True, slots=True)
class PollReport:
    """One poll: the days fetched, or the error that stopped it."""

    days: tuple[DayReport, ...]
    error: str | None = None
    retry_after: float | None = None  # Hugging Face asked us to wait this long (a 429)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class PollStatus:
    """What ``/feed status`` shows about polling Hugging Face."""

    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int


class IngestService:
    """Fetches listing days from Hugging Face and keeps the store up to date."""

    def __init__(
        self,
        source: PaperSource,
        papers: PaperRepo,
        state: StateRepo,
        *,
        clock: Callable[[], datetime] = utc_now,
        lookup: PaperSource | None = None,
    ) -> None:
        self.source = source
        # Someone is waiting on these lookups: a client with short timeouts and few retries.
        self.lookup = lookup or source
        self.papers = papers
        self.state = state
        self.clock = clock

    def today(self) -> date:
        return self.clock().date()

    async def ingest_day(self, day: date, *, interactive: bool = False) -> DayReport:
        """Fetch one listing day whole, upsert it and record the day as fetched. Raises
        PaperBotError when Hugging Face fails.

        ``interactive``: a user is waiting, so use the quick lookup client.
        """
        page = await (self.lookup if interactive else self.source).fetch_daily(day)
        papers = page.papers
        if page.source == "html-cards":
            # Cards carry ids and titles but maybe no counts and never an abstract: they may add
            # papers and listing days, never overwrite what the API told us about known ones.
            known = await self.papers.get_many([paper.id for paper in papers])
            papers = tuple(
                replace(known[paper.id], listed_on=paper.listed_on) if paper.id in known else paper
                for paper in papers
            )
        result = await self.papers.upsert_papers(
            papers,
            now=self.clock(),
            fetched_day=FetchedDay(day=day, source=page.source, papers=len(page.papers)),
        )
        log.info(
            "%s: %d papers (%d new, %d updated) from %s",
            day,
            len(page.papers),
            len(result.new),
            len(result.updated),
            page.source,
        )
        return DayReport(
            day=day,
            total=len(page.papers),
            new=result.new,
            updated=result.updated,
            skipped=page.skipped,
            source=page.source,
        )

    async def poll_days(self) -> list[date]:
        """Yesterday and today (UTC), reaching back to the last good poll after an outage."""
        today = self.today()
        first = today - timedelta(days=1)
        last_success = (await self.status()).last_success_at
        if last_success is not None:
            first = min(first, max(last_success.date(), today - timedelta(days=MAX_CATCH_UP_DAYS)))
        return [first + timedelta(days=n) for n in range((today - first).days + 1)]

    async def poll(self) -> PollReport:
        """Fetch the poll days. Never raises: a failure is recorded and returned."""
        attempt_at = self.clock()
        reports: list[DayReport] = []
        try:
            for day in await self.poll_days():
                reports.append(await self.ingest_day(day))
        except PaperBotError as exc:
            await self._record(attempt_at, error=exc.user_message)
            log.warning("polling Hugging Face failed: %s", exc.user_message)
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            return PollReport(days=tuple(reports), error=exc.user_message, retry_after=retry_after)
        except Exception as exc:  # a bug must not stop the poll loop; it is logged in full
            log.exception("polling Hugging Face failed unexpectedly")
            await self._record(attempt_at, error=f"unexpected error: {type(exc).__name__}")
            return PollReport(days=tuple(reports), error=f"unexpected error: {exc!r}")
        await self._record(attempt_at, error=None)
        return PollReport(days=tuple(reports))

    async def _record(self, attempt_at: datetime, *, error: str | None) -> None:
        state = await self.state.get(_POLL_STATE, {})
        state["last_attempt_at"] = to_iso(attempt_at)
        if error is None:
            state["last_success_at"] = to_iso(attempt_at)
            state["consecutive_failures"] = 0
        else:
            state["last_error"] = error
            state["last_error_at"] = to_iso(attempt_at)
            state["consecutive_failures"] = int(state.get("consecutive_failures", 0)) + 1
        await self.state.set(_POLL_STATE, state)

    async def status(self) -> PollStatus:
        state = await self.state.get(_POLL_STATE, {})

        def moment(key: str) -> datetime | None:
            value = state.get(key)
            return from_iso(value) if value else None

        return PollStatus(
            last_success_at=moment("last_success_at"),
            last_attempt_at=moment("last_attempt_at"),
            last_error=state.get("last_error"),
            last_error_at=moment("last_error_at"),
            consecutive_failures=int(state.get("consecutive_failures", 0)),
        )

    async def paper(self, paper_id: str) -> Paper | None:
        """A stored paper, or one fetched from Hugging Face and stored; None if HF has none.

        Raises UpstreamError when the paper is not stored and Hugging Face cannot be reached.
        """
        stored = await self.papers.get(paper_id)
        if stored is not None:
            return stored
        fetched = await self.lookup.fetch_paper(paper_id)
        if fetched is None:
            return None
        # Its listing day gets this one paper, not the rest: the day is not fetched by this.
        await self.papers.upsert_papers([fetched], now=self.clock(), single_lookup=True)
        return await self.papers.get(paper_id)
