"""``python -m bot [run | fetch | search]``: the bot, and operator commands that need no Discord."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

import aiohttp

from bot.catalog import Catalog, normalise_paper_id
from bot.config import Settings, SettingsError, load_settings
from bot.errors import PaperBotError, RateLimitedError
from bot.hf.client import HFClient
from bot.ingest import DayReport, IngestService
from bot.log import setup_logging
from bot.models import FIRST_LISTING_DAY
from bot.similar import SIMILAR_LIMIT, SimilarService
from bot.store.db import database_at, utc_now
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo
from bot.store.state import StateRepo

EXIT_SETTINGS = 2
# A backfill asks Hugging Face at most once per this many seconds.
BACKFILL_INTERVAL = 1.0
# The newest days of a backfill are fetched again even when stored whole: they may still fill in.
STILL_FILLING_DAYS = 2
# How often a backfill waits out a 429 for one day before it stops (a later run continues).
RATE_LIMIT_RETRIES = 5
# The longest one of those waits.
MAX_RATE_LIMIT_WAIT = 3600.0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-23") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="papers-bot: Hugging Face Daily Papers on Discord."
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Discord bot (the default)")
    fetch = sub.add_parser("fetch", help="fetch listing days from Hugging Face into the database")
    fetch.add_argument("--date", type=_day, help="last day to fetch (default: today, UTC)")
    fetch.add_argument("--days", type=int, help="how many days back from --date (default: 1)")
    fetch.add_argument(
        "--since",
        type=_day,
        help=f"backfill every day from this one (at the earliest {FIRST_LISTING_DAY}) to today, "
        "about one request a second, skipping days already stored",
    )
    search = sub.add_parser("search", help="search the stored papers")
    search.add_argument("text", help="what to look for")
    search.add_argument("--limit", type=int, default=10)
    similar = sub.add_parser("similar", help="the stored papers most like one stored paper")
    similar.add_argument("paper_id", help="arXiv id (or link) of a stored paper")
    similar.add_argument("--limit", type=int, default=SIMILAR_LIMIT)
    return parser


async def fetch_command(
    settings: Settings, last_day: date | None, days: int, *, clock: Callable[[], datetime] = utc_now
) -> int:
    """Fetch ``days`` listing days ending at ``last_day``; one line per day, then a total."""
    today = clock().date()
    if days < 1:
        return refuse(f"--days must be 1 or more (got {days})")
    if last_day is not None and last_day > today:
        return refuse(
            f"--date {last_day} is in the future (today is {today}, UTC): "
            "Hugging Face lists no papers for it yet"
        )
    async with aiohttp.ClientSession() as session, database_at(settings.database_target) as db:
        papers = PaperRepo(db)
        hf = HFClient(session, settings.hf_base_url)
        ingest = IngestService(hf, papers, StateRepo(db), clock=clock)
        end = last_day or today
        total = new = updated = failed = 0
        for offset in range(days - 1, -1, -1):
            day = end - timedelta(days=offset)
            try:
                report = await ingest.ingest_day(day)
            except PaperBotError as exc:
                failed += 1
                print(f"{day}: failed: {exc.user_message}")
                continue
            total += report.total
            new += len(report.new)
            updated += len(report.updated)
            note = "" if report.total else f" ({empty_day_note(day, today)})"
            print(
                f"{day}: {report.total} papers ({len(report.new)} new, "
                f"{len(report.updated)} updated){note}"
            )
        stored = await papers.count()
        print(
            f"total: {total} papers fetched ({new} new, {updated} updated), "
            f"{failed} days failed; {stored} papers stored"
        )
        return 1 if failed else 0


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"``, ``"3 h 05 min"``: a wait or an ETA, as a person reads it."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """A backfill's progress: one line redrawn with ``\r`` on a terminal, plain lines else."""

    def __init__(self, out: TextIO, total: int, monotonic: Callable[[], float]) -> None:
        self.out = out
        self.total = total
        self.tty = out.isatty()
        self._monotonic = monotonic
        self._started = monotonic()
        self._width = 0  # of the progress line on screen, to blank it before a note
        self.done = 0
        self.papers = 0

    def eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = self._monotonic() - self._started
        return _duration(elapsed / self.done * (self.total - self.done))

    def day_done(self, line: str, papers: int) -> None:
        """One more day fetched (``line`` says how it went)."""
        self.done += 1
        self.papers += papers
        if not self.tty:
            print(f"{line} [{self.done}/{self.total}, ETA {self.eta()}]", file=self.out)
            return
        day = line.split(":", 1)[0]
        status = f"{day}  {self.done}/{self.total} days  {self.papers:,} papers  ETA {self.eta()}"
        print("\r" + status.ljust(self._width), end="", file=self.out, flush=True)
        self._width = len(status)

    def note(self, line: str) -> None:
        """A line that stays (a failure, a wait): above the progress line on a terminal."""
        if self.tty and self._width:
            print("\r" + line.ljust(self._width), file=self.out)
            self._width = 0
        else:
            print(line, file=self.out)

    def finish(self) -> None:
        if self.tty and self._width:
            print(file=self.out)  # keep the last progress line, end it
            self._width = 0

    def took(self) -> str:
        return _duration(self._monotonic() - self._started)


async def backfill_command(
    settings: Settings,
    since: date,
    *,
    clock: Callable[[], datetime] = utc_now,
    out: TextIO | None = None,
    interval: float = BACKFILL_INTERVAL,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Fetch every day from ``since`` to today, politely (one request per ``interval`` seconds,
    429s waited out), skipping days stored whole except the newest ones; resumable."""
    out = out or sys.stdout
    today = clock().date()
    if since > today:
        return refuse(f"--since {since} is in the future (today is {today}, UTC)")
    if since < FIRST_LISTING_DAY:
        return refuse(
            f"--since {since} is before {FIRST_LISTING_DAY}, the first day Hugging Face "
            "Daily Papers listed papers: start there or later"
        )
    async with aiohttp.ClientSession() as session, database_at(settings.database_target) as db:
        papers = PaperRepo(db)
        hf = HFClient(session, settings.hf_base_url, request_interval=interval)
        ingest = IngestService(hf, papers, StateRepo(db), clock=clock)
        refresh_from = today - timedelta(days=STILL_FILLING_DAYS - 1)
        todo: list[date] = []
        for offset in range((today - since).days + 1):
            day = since + timedelta(days=offset)
            known = await papers.listing_day(day) if day < refresh_from else None
            if known is None or not known.whole:
                todo.append(day)
        skipped = (today - since).days + 1 - len(todo)
        progress = Progress(out, len(todo), monotonic)
        progress.note(
            f"backfill {since} to {today}: {skipped} days already stored, {len(todo)} to fetch"
        )
        new = updated = failed = 0
        stopped: date | None = None
        for day in todo:
            try:
                report = await _ingest_waiting(ingest, day, progress, sleep)
            except RateLimitedError:
                stopped = day
                break
            except PaperBotError as exc:
                failed += 1
                progress.note(f"{day}: failed: {exc.user_message}")
                continue
            new += len(report.new)
            updated += len(report.updated)
            note = "" if report.total else f" ({empty_day_note(day, today)})"
            progress.day_done(
                f"{day}: {report.total} papers ({len(report.new)} new, "
                f"{len(report.updated)} updated){note}",
                report.total,
            )
        progress.finish()
        if stopped is not None:
            progress.note(
                f"stopped at {stopped}: Hugging Face kept asking us to wait; run the same "
                "command later and it continues from there"
            )
        stored = await papers.count()
        progress.note(
            f"total: {progress.papers} papers fetched ({new} new, {updated} updated) on "
            f"{progress.done} days, {skipped} days skipped (already stored), {failed} days "
            f"failed; {stored} papers stored; took {progress.took()}"
        )
        return 1 if failed or stopped else 0


async def _ingest_waiting(
    ingest: IngestService,
    day: date,
    progress: Progress,
    sleep: Callable[[float], Awaitable[object]],
) -> DayReport:
    """``ingest_day``, waiting out up to RATE_LIMIT_RETRIES 429s (raises the last one)."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return await ingest.ingest_day(day)
        except RateLimitedError as exc:
            if attempt == RATE_LIMIT_RETRIES:
                raise
            wait = min(max(exc.retry_after or 0.0, 0.0), MAX_RATE_LIMIT_WAIT)
            progress.note(
                f"{day}: Hugging Face asked us to slow down; waiting {_duration(wait)}, "
                "then trying this day again"
            )
            await sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def empty_day_note(day: date, today: date) -> str:
    """Why a fetched day had no papers, without calling a weekday a weekend."""
    if day.weekday() >= 5:
        return f"nothing listed: {day:%A}, a weekend"
    # Only a day still filling in (today, yesterday) may get papers later.
    return "nothing listed yet" if day >= today - timedelta(days=1) else "nothing listed"


def refuse(message: str) -> int:
    """Print one line about a bad argument or setting and return its exit status."""
    print(f"papers-bot: {message}", file=sys.stderr)
    return EXIT_SETTINGS


def missing_database(settings: Settings) -> int | None:
    """Refuse a read-only command where there is no database yet (rather than create one)."""
    path = settings.database_target
    if isinstance(path, Path) and not path.exists():
        return refuse(
            f"no database at {path} yet (DATABASE_URL): "
            "`python -m bot fetch` fills it with papers from Hugging Face"
        )
    return None


async def search_command(settings: Settings, text: str, limit: int) -> int:
    """Search the stored papers; never creates a database where there is none."""
    if (refused := missing_database(settings)) is not None:
        return refused
    async with aiohttp.ClientSession() as session, database_at(settings.database_target) as db:
        papers = PaperRepo(db)
        ingest = IngestService(HFClient(session, settings.hf_base_url), papers, StateRepo(db))
        try:
            result = await Catalog(papers, ingest).search(text, limit=max(limit, 1))
        except PaperBotError as exc:
            print(exc.user_message)
            return 1
        if not result.hits:
            print(f"no stored paper matches {text!r}")
        if result.suggestion is not None:
            print(f"did you mean: {result.suggestion}?")
        if not result.hits:
            return 1
        if result.relaxed:
            print("(no paper has every word; these match some of them)")
        for hit in result.hits:
            print(f"{hit.paper.id:<12} {hit.paper.upvotes:>5}  {hit.paper.title}")
        return 0


async def similar_command(settings: Settings, reference: str, limit: int) -> int:
    """Print the stored papers most like a stored one: id and title, then what they share."""
    if (refused := missing_database(settings)) is not None:
        return refused
    async with aiohttp.ClientSession() as session, database_at(settings.database_target) as db:
        papers = PaperRepo(db)
        paper = await papers.get(normalise_paper_id(reference) or reference.strip())
        if paper is None:
            print(
                f"no stored paper {reference!r}: give the arXiv id of a stored paper, or store "
                "its day first with `python -m bot fetch --date YYYY-MM-DD`"
            )
            return 1
        ingest = IngestService(HFClient(session, settings.hf_base_url), papers, StateRepo(db))
        service = SimilarService(SimilarRepo(db), Catalog(papers, ingest))
        neighbours = await service.like([paper], limit=max(limit, 1))
        print(f"similar to {paper.id}  {paper.title}")
        if not neighbours:
            print("no stored paper is like this one yet")
        for neighbour in neighbours:
            print(f"{neighbour.paper.id:<12} {neighbour.paper.title}")
            if neighbour.why():
                print(f"{'':<12} {neighbour.why()}")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command in (None, "run"):
            settings.token_value()  # fail fast, before anything is opened
    except SettingsError as exc:
        return refuse(str(exc))
    secret = settings.discord_token.get_secret_value() if settings.discord_token else ""
    setup_logging(settings.log_level, secrets=[secret])
    try:
        if args.command == "fetch":
            # The command prints one line per day itself: the ingest log would repeat each one.
            logging.getLogger("bot.ingest").setLevel(logging.WARNING)
            if args.since is not None:
                if args.date is not None or args.days is not None:
                    return refuse("--since fetches every day up to today: leave out --date/--days")
                # Retries and waits are reported in the output; the warnings would break the bar.
                logging.getLogger("bot.hf.client").setLevel(logging.ERROR)
                try:
                    return asyncio.run(backfill_command(settings, args.since))
                except KeyboardInterrupt:
                    print("\ninterrupted: run the same command again and it continues")
                    return 130
            days = 1 if args.days is None else args.days
            return asyncio.run(fetch_command(settings, args.date, days))
        if args.command == "search":
            return asyncio.run(search_command(settings, args.text, args.limit))
        if args.command == "similar":
            return asyncio.run(similar_command(settings, args.paper_id, args.limit))
        # discord.py is imported only when the bot runs: the operator commands start faster.
        from bot.app import run

        return run(settings)
    except SettingsError as exc:  # DATABASE_URL names a place SQLite cannot open
        return refuse(str(exc))
