"""Fetching Hugging Face Daily Papers over HTTP, with retries and an HTML fallback.

The client borrows an `aiohttp.ClientSession` owned by the composition root. Whatever goes wrong
on the wire, callers only ever see `PaperBotError` subclasses with a sentence a user may read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp

import bot
from bot.errors import ParseError, RateLimitedError, UpstreamError
from bot.hf.parse import (
    is_arxiv_id,
    parse_daily_html,
    parse_daily_json,
    parse_paper_json,
    parse_period_json,
)
from bot.models import DailyPage, Paper, PeriodKind, PeriodPage

log = logging.getLogger(__name__)

USER_AGENT = f"papers-bot/{bot.__version__} (+https://github.com/papers-bot)"
DAILY_API_PATH = "/api/daily_papers"
DAILY_HTML_PATH = "/papers"
PAPER_API_PATH = "/api/papers/"
# Guards against a server that ignores `p` and repeats a full page forever.
MAX_PAGES = 20

STORED_STILL_AVAILABLE = "the papers already stored are still available."
# The longest wait a `Retry-After` or `RateLimit` header can ask of us: `inf`, a date years
# ahead or a garbled number must not park the poller, or anything else, for longer than this.
MAX_RETRY_AFTER = 3600.0
_RATE_LIMIT_RESET_RE = re.compile(r"(?:^|;)\s*t\s*=\s*(\d+(?:\.\d+)?)")
_RATE_LIMIT_EXHAUSTED_RE = re.compile(r"(?:^|;)\s*r\s*=\s*0(?:\.0*)?\s*(?:;|$)")


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `RateLimit` (`…;t=42`).

    Always within 0..MAX_RETRY_AFTER; None when neither header says anything usable (`nan`,
    garbage).
    """
    retry_after = headers.get("Retry-After")
    if retry_after:
        value = retry_after.strip()
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is not None and not math.isnan(seconds):
            return _clamped(seconds)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is not None and when.tzinfo is not None:
            return _clamped((when - (now or datetime.now(UTC))).total_seconds())
    # IETF draft RateLimit header, as Hugging Face sends it: `"api";r=0;t=42`.
    rate_limit = headers.get("RateLimit")
    if rate_limit:
        # Several policies may be listed (comma-separated); only an exhausted one (r=0) makes us
        # wait, and then until the latest of their resets.
        resets = [
            float(match.group(1))
            for policy in rate_limit.split(",")
            if _RATE_LIMIT_EXHAUSTED_RE.search(policy)
            for match in [_RATE_LIMIT_RESET_RE.search(policy)]
            if match
        ]
        if resets:
            return _clamped(max(resets))
    return None


def _clamped(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _about(seconds: float) -> str:
    """A wait as a person would say it: "about 42 s", "about 15 min"."""
    if seconds < 120:
        return f"about {round(seconds)} s"
    return f"about {round(seconds / 60)} min"


class Pacer:
    """At most one request per ``interval`` seconds (0: no pacing): a long backfill stays
    polite. ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = max(interval, 0.0)
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        """Return when the next request may go out, and reserve the slot after it."""
        if self.interval <= 0:
            return
        now = self._clock()
        if self._next is not None and now < self._next:
            await self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class _RetryableError(Exception):
    """One failed attempt worth repeating; carries the error to raise if attempts run out."""

    def __init__(self, error: UpstreamError, delay: float | None, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.delay = delay  # None: use exponential backoff
        self.reason = reason


def _not_answering(detail: str) -> UpstreamError:
    message = f"Hugging Face is not answering right now ({detail}); {STORED_STILL_AVAILABLE}"
    return UpstreamError(message)


class HFClient:
    """Reads Daily Papers lists and single papers from Hugging Face (`base_url`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: float = 20,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        page_size: int = 100,
        on_error: Callable[[str], None] | None = None,
        request_interval: float = 0.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._page_size = page_size
        # Told each answer that is not 2xx, by status ("timeout", "connection" for no answer).
        self._on_error = on_error
        self._pacer = Pacer(request_interval)

    async def fetch_daily(self, day: date) -> DailyPage:
        """The papers listed on `day`, from the API, or from the HTML page if the API fails."""
        try:
            return await self._fetch_daily_api(day)
        except RateLimitedError:
            # The HTML page is on the same host: asking it now would ignore the request to wait.
            raise
        except (UpstreamError, ParseError) as api_error:
            try:
                page = await self._fetch_daily_html(day)
            except (UpstreamError, ParseError) as html_error:
                log.warning(
                    "Daily papers for %s: API failed (%s) and the HTML fallback failed too (%s)",
                    day,
                    api_error,
                    html_error,
                )
                if isinstance(api_error, ParseError):
                    raise _unreadable() from api_error
                # Keep the wire error as its cause; the HTML failure becomes its context.
                raise api_error from api_error.__cause__
            log.warning(
                "Daily papers for %s: API failed (%s); used the HTML page fallback (%d papers)",
                day,
                api_error,
                len(page.papers),
            )
            return page

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        """One paper from `/api/papers/{id}`; None when Hugging Face does not know it."""
        if not is_arxiv_id(arxiv_id):
            # Never put arbitrary user text into a URL path; such an id cannot exist anyway.
            log.debug("Not fetching %r: not an arXiv id", arxiv_id)
            return None
        body = await self._get(PAPER_API_PATH + quote(arxiv_id, safe=""), {}, missing_ok=True)
        if body is None:
            return None
        try:
            return parse_paper_json(body)
        except ParseError as exc:
            log.warning("Could not read paper %s from Hugging Face: %s", arxiv_id, exc)
            raise _unreadable() from exc

    async def fetch_period(self, kind: PeriodKind, period: str) -> PeriodPage:
        """Hugging Face's list for an ISO week (``kind`` "week", "2025-W40") or a month ("month",
        "2025-10"), every page. The API has answered these since about September 2025."""
        papers: dict[str, Paper] = {}
        skipped = 0
        for page_number in range(MAX_PAGES):
            params = {kind: period, "limit": str(self._page_size)}
            if page_number:
                params["p"] = str(page_number)
            body = await self._get(DAILY_API_PATH, params)
            assert body is not None  # only missing_ok requests may come back empty
            try:
                page = parse_period_json(body, period)
            except ParseError as exc:
                log.warning("Could not read the %s list %s: %s", kind, period, exc)
                raise _unreadable() from exc
            skipped += page.skipped
            new = [paper for paper in page.papers if paper.id not in papers]
            papers.update((paper.id, paper) for paper in new)
            if len(page.papers) + page.skipped < self._page_size or not new:
                break
        else:
            log.warning("The %s list %s: stopped after %d full pages", kind, period, MAX_PAGES)
        return PeriodPage(period=period, papers=tuple(papers.values()), skipped=skipped)

    async def _fetch_daily_api(self, day: date) -> DailyPage:
        papers: dict[str, Paper] = {}
        skipped = 0
        for page_number in range(MAX_PAGES):
            params = {"date": day.isoformat(), "limit": str(self._page_size)}
            if page_number:
                params["p"] = str(page_number)
            body = await self._get(DAILY_API_PATH, params)
            assert body is not None  # only missing_ok requests may come back empty
            page = parse_daily_json(body, day)
            skipped += page.skipped
            new = [paper for paper in page.papers if paper.id not in papers]
            papers.update((paper.id, paper) for paper in new)
            # Items on the page, valid or not: a full page means there may be another one.
            if len(page.papers) + page.skipped < self._page_size or not new:
                break
        else:
            log.warning("Daily papers for %s: stopped after %d full pages", day, MAX_PAGES)
        return DailyPage(day=day, papers=tuple(papers.values()), skipped=skipped, source="api")

    async def _fetch_daily_html(self, day: date) -> DailyPage:
        body = await self._get(DAILY_HTML_PATH, {"date": day.isoformat()}, accept="text/html")
        assert body is not None
        return parse_daily_html(body.decode("utf-8", errors="replace"), day)

    async def _get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        missing_ok: bool = False,
        accept: str = "application/json",
    ) -> bytes | None:
        """GET with retries; the body on 2xx, None on 404 when `missing_ok`."""
        url = self._base_url + path
        last: _RetryableError | None = None
        for attempt in range(self._max_attempts):
            try:
                return await self._attempt(url, params, missing_ok=missing_ok, accept=accept)
            except _RetryableError as failure:
                last = failure
            if attempt + 1 == self._max_attempts:
                break
            if last.delay is not None and last.delay > self._max_backoff:
                # The server asks for a longer wait than we hold a request open for: stop now and
                # let the caller (the poller) come back after `retry_after`.
                break
            delay = self._delay(attempt, last.delay)
            log.warning(
                "GET %s: %s; retrying in %.3fs (attempt %d of %d)",
                path,
                last.reason,
                delay,
                attempt + 2,
                self._max_attempts,
            )
            await asyncio.sleep(delay)
        assert last is not None
        log.warning("GET %s: %s; giving up after %d attempts", path, last.reason, attempt + 1)
        raise last.error from last.__cause__

    async def _attempt(
        self, url: str, params: Mapping[str, str], *, missing_ok: bool, accept: str
    ) -> bytes | None:
        headers = {"User-Agent": USER_AGENT, "Accept": accept}
        await self._pacer.wait()
        try:
            async with self._session.get(
                url, params=params, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    return await response.read()
                response_headers = response.headers
                self._error(str(status))
        except TimeoutError as exc:  # also aiohttp's ServerTimeoutError
            self._error("timeout")
            raise _RetryableError(_not_answering("timed out"), None, "timed out") from exc
        except aiohttp.ClientError as exc:
            self._error("connection")
            reason = f"connection failed: {type(exc).__name__}"
            raise _RetryableError(_not_answering("connection failed"), None, reason) from exc

        if status == 404 and missing_ok:
            return None
        if status == 429:
            wait = parse_retry_after(response_headers)
            limited = RateLimitedError(
                "Hugging Face is asking us to slow down"
                + (f" for {_about(wait)}" if wait is not None else "")
                + f"; {STORED_STILL_AVAILABLE}",
                retry_after=wait if wait is not None else self._max_backoff,
            )
            raise _RetryableError(limited, wait, f"HTTP 429 (wait {wait})")
        if status >= 500:
            raise _RetryableError(
                _not_answering(f"HTTP {status}"),
                parse_retry_after(response_headers),
                f"HTTP {status}",
            )
        # Any other 4xx means the request itself is wrong: repeating it cannot help.
        log.warning("GET %s answered HTTP %d", url, status)
        raise UpstreamError(f"Hugging Face refused the request (HTTP {status}).")

    def _error(self, status: str) -> None:
        if self._on_error is not None:
            self._on_error(status)

    def _delay(self, attempt: int, server_delay: float | None) -> float:
        """The server's requested wait, else exponential backoff; both capped."""
        if server_delay is None:
            server_delay = self._backoff_base * 2**attempt
        return min(server_delay, self._max_backoff)


def _unreadable() -> ParseError:
    """A user-facing ParseError; the technical one stays chained as its cause (and in the log)."""
    return ParseError(f"Hugging Face sent an answer we could not read; {STORED_STILL_AVAILABLE}")
