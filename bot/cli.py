"""``python -m bot [run | fetch | search]``: the bot, and operator commands that need no Discord."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp

from bot.catalog import Catalog, normalise_paper_id
from bot.config import Settings, SettingsError, load_settings
from bot.errors import PaperBotError
from bot.hf.client import HFClient
from bot.ingest import IngestService
from bot.log import setup_logging
from bot.similar import SIMILAR_LIMIT, SimilarService
from bot.store.db import database_at, utc_now
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo
from bot.store.state import StateRepo

EXIT_SETTINGS = 2


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
    fetch.add_argument("--days", type=int, default=1, help="how many days back from --date")
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
    async with aiohttp.ClientSession() as session, database_at(settings.database_path) as db:
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
            note = "" if report.total else f" ({empty_day_note(day)})"
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


def empty_day_note(day: date) -> str:
    """Why a fetched day had no papers, without calling a weekday a weekend."""
    if day.weekday() >= 5:
        return f"nothing listed: {day:%A}, a weekend"
    return "nothing listed yet"


def refuse(message: str) -> int:
    """Print one line about a bad argument or setting and return its exit status."""
    print(f"papers-bot: {message}", file=sys.stderr)
    return EXIT_SETTINGS


def missing_database(settings: Settings) -> int | None:
    """Refuse a read-only command where there is no database yet (rather than create one)."""
    path = settings.database_path
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
    async with aiohttp.ClientSession() as session, database_at(settings.database_path) as db:
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
    async with aiohttp.ClientSession() as session, database_at(settings.database_path) as db:
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
            return asyncio.run(fetch_command(settings, args.date, args.days))
        if args.command == "search":
            return asyncio.run(search_command(settings, args.text, args.limit))
        if args.command == "similar":
            return asyncio.run(similar_command(settings, args.paper_id, args.limit))
        # discord.py is imported only when the bot runs: the operator commands start faster.
        from bot.app import run

        return run(settings)
    except SettingsError as exc:  # DATABASE_URL names a place SQLite cannot open
        return refuse(str(exc))
