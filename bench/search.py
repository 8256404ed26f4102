"""Search and autocomplete latency over a synthetic database whose text comes from the recorded
abstracts, and what a hostile search costs the user who sent it and everyone else.

    python bench/search.py [--papers 100000] [--queries 300] [--db PATH]
                           [--database postgresql://…]  (default: a SQLite file)

Prints percentiles and ends with three lines:
    search: papers=… p50_ms=… p95_ms=… db_mb=…
    floor: papers=… floor_ratio_p50=… floor_ratio_p95=…  (search time over the same ranking SQL
           run through the standard library's sqlite3, side by side: target p95 ≤ 1.25)
    hostile: reported_ms=… worst_ms=… concurrent_p50_ms=… alone_p50_ms=…
    autocomplete: empty_p95_ms=… letter_p95_ms=… two_letters_p95_ms=… normal_p95_ms=…
Targets on a 2-core machine: search p95 ≤ 5 ms at 100k papers; a hostile search is refused
within its budget (250 ms) plus one progress check, and a query sent beside it waits no longer;
autocomplete p95 ≤ 10 ms whatever was typed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import build_database, corpus, realistic_queries

from bot.catalog import SEARCH_LIMIT, Catalog
from bot.errors import PaperBotError
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.search import build_fts_query
from bot.store.db import database_at
from bot.store.papers import RANK_WINDOW, SEARCH_SQL, PaperRepo
from bot.store.state import StateRepo

# Two-letter prefixes of the commonest English and ML words: each expands to thousands of words.
COMMON_PREFIXES = [
    *("th", "co", "in", "re", "de", "pr", "st", "an", "en", "ex", "ma", "mo", "pa", "se", "tr"),
    *("ac", "al", "ap", "as", "ca", "ch", "cl", "di", "do", "ev", "fi", "fo", "ge", "gr", "hi"),
    *("im", "la", "le", "li", "lo", "me", "mu", "ne", "no", "ob", "op", "or", "ou", "pe", "pl"),
    *("po", "qu", "ra", "sa", "sc", "sh", "si", "so", "sp", "su", "ta", "te", "ti", "to", "un"),
    *("us", "va", "ve", "vi", "wh", "wi", "wo", "ba", "be", "bi", "bo", "ad", "ag", "ai", "am"),
    *("ar", "at", "au", "av", "fa", "fe", "ha"),
]
# The reported reproduction: 570 characters of "th* OR co* OR …" (82 prefixes).
REPORTED = " OR ".join(f"{prefix}*" for prefix in COMMON_PREFIXES)
# The costliest search within the term cap: 24 of those prefixes.
WORST_ALLOWED = " OR ".join(f"{prefix}*" for prefix in COMMON_PREFIXES[:24])


class NoSource:
    async def fetch_daily(self, day: date) -> DailyPage:
        raise RuntimeError("benchmark never fetches")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, str]:
    """(milliseconds, outcome) of one call; a PaperBotError is an answer too (a refusal)."""
    started = time.perf_counter()
    try:
        result = await call()
    except PaperBotError as exc:
        outcome = "refused: " + exc.user_message[:60]
    else:
        hits = getattr(result, "hits", result)
        outcome = f"{len(hits) if isinstance(hits, list | tuple) else '?'} results"
    return (time.perf_counter() - started) * 1000, outcome


async def search_latency(catalog: Catalog, queries: list[str]) -> list[float]:
    timings: list[tuple[float, str, str]] = []
    for query in queries:
        elapsed, outcome = await timed(lambda query=query: catalog.search(query))
        timings.append((elapsed, outcome, query))
    values = sorted(t for t, _, _ in timings)
    print(f"search: queries={len(values)} p50={statistics.median(values):.2f} ms", end=" ")
    print(f"p95={percentile(values, 0.95):.2f} ms p99={percentile(values, 0.99):.2f} ms", end=" ")
    print(f"max={values[-1]:.2f} ms")
    print("slowest:")
    for elapsed, outcome, query in sorted(timings, reverse=True)[:5]:
        print(f"  {elapsed:7.2f} ms  {outcome[:24]:<24}  {json.dumps(query)[:60]}")
    return values


def floor_search(conn: sqlite3.Connection, query: str) -> None:
    """What SQLite itself costs for a search: the same ranking SQL (the strict expression, then
    the relaxed one when that found nothing), straight through the standard library."""
    try:
        fts = build_fts_query(query)
    except PaperBotError:
        return
    rows = conn.execute(SEARCH_SQL, (fts.strict.fts5, RANK_WINDOW, SEARCH_LIMIT)).fetchall()
    if not rows and fts.relaxed:
        conn.execute(SEARCH_SQL, (fts.relaxed.fts5, RANK_WINDOW, SEARCH_LIMIT)).fetchall()


async def floor_ratio(
    catalog: Catalog, path: Path, queries: list[str], *, rounds: int = 5
) -> tuple[float, float]:
    """p50 and p95 of catalog.search over those of the floor. Each query runs ``rounds`` times,
    alternately through both, and counts with its fastest run: on two cores shared with other
    work a single timing is mostly noise, and the fastest is what the code itself costs. Both
    sides see the same page cache."""
    conn = sqlite3.connect(path)
    ours: list[float] = []
    floor: list[float] = []
    try:
        for query in queries:
            mine: list[float] = []
            theirs: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                floor_search(conn, query)
                theirs.append((time.perf_counter() - started) * 1000)
                mine.append((await timed(lambda query=query: catalog.search(query)))[0])
            ours.append(min(mine))
            floor.append(min(theirs))
    finally:
        conn.close()
    p50 = statistics.median(ours) / statistics.median(floor)
    p95 = percentile(ours, 0.95) / percentile(floor, 0.95)
    print(
        f"floor (stdlib sqlite3, same SQL, fastest of {rounds} per query): "
        f"p50={statistics.median(floor):.2f} ms p95={percentile(floor, 0.95):.2f} ms; "
        f"search p50={statistics.median(ours):.2f} ms p95={percentile(ours, 0.95):.2f} ms"
    )
    return p50, p95


async def hostile(catalog: Catalog, rounds: int) -> tuple[float, float, float, float]:
    """(reported ms, worst allowed ms, p50 of a normal query sent beside it, p50 alone)."""
    reported, outcome = await timed(lambda: catalog.search(REPORTED))
    print(f"hostile, the reported {len(REPORTED)}-character query: {reported:.0f} ms, {outcome}")
    worst: list[float] = []
    for _ in range(rounds):
        elapsed, outcome = await timed(lambda: catalog.search(WORST_ALLOWED))
        worst.append(elapsed)
    print(
        f"hostile, 24 OR'd two-letter prefixes ({len(WORST_ALLOWED)} characters): "
        f"p50 {statistics.median(worst):.0f} ms max {max(worst):.0f} ms, {outcome}"
    )
    normal = "video generation"
    alone = [(await timed(lambda: catalog.search(normal)))[0] for _ in range(rounds)]
    beside: list[float] = []
    for _ in range(rounds):
        # The hostile read is queued on the database thread first; the normal one waits behind it.
        worst_task = asyncio.create_task(catalog.search(WORST_ALLOWED))
        await asyncio.sleep(0)
        beside.append((await timed(lambda: catalog.search(normal)))[0])
        with contextlib.suppress(PaperBotError):
            await worst_task
    print(
        f"a normal search sent beside it: p50 {statistics.median(beside):.0f} ms "
        f"max {max(beside):.0f} ms (alone: p50 {statistics.median(alone):.2f} ms)"
    )
    return reported, max(worst), statistics.median(beside), statistics.median(alone)


def autocomplete_inputs(count: int, seed: int = 5) -> dict[str, list[str]]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [[w for w in paper.title.split() if w.isalpha()] for paper in corpus()]
    titles = [w for w in words if len(w) >= 2]
    normal = []
    for _ in range(count):
        first, second = rng.choice(titles)[:2]
        normal.append(f"{first} {second[: rng.randint(1, len(second))]}")
    return {
        "empty": [""] * count,
        "letter": [rng.choice(letters) for _ in range(count)],
        "two_letters": [rng.choice(COMMON_PREFIXES) for _ in range(count)],
        "normal": normal,
    }


async def autocomplete(catalog: Catalog, count: int) -> dict[str, float]:
    p95: dict[str, float] = {}
    for kind, inputs in autocomplete_inputs(count).items():
        values = [(await timed(lambda text=text: catalog.suggest(text)))[0] for text in inputs]
        p95[kind] = percentile(values, 0.95)
        print(
            f"autocomplete {kind:<11} n={len(values)} p50={statistics.median(values):.2f} ms "
            f"p95={p95[kind]:.2f} ms max={max(values):.2f} ms"
        )
    return p95


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--hostile-rounds", type=int, default=10)
    parser.add_argument("--db", type=Path, help="reuse/keep this database file")
    parser.add_argument("--database", help="a postgresql:// URL to run on instead (reused)")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    path = args.db or Path(workdir.name) / "bench.db"
    target: Path | str = args.database or path
    started = time.perf_counter()
    await build_database(target, args.papers)
    print(f"database ready: {args.papers} papers ({time.perf_counter() - started:.1f} s)")
    async with database_at(target) as db:
        repo = PaperRepo(db)
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        queries = realistic_queries(args.queries)
        for query in queries[:20]:  # warm the page cache
            await timed(lambda query=query: catalog.search(query))
        values = await search_latency(catalog, queries)
        # The floor is SQLite's own cost through the standard library: none on PostgreSQL.
        ratio50, ratio95 = (
            (float("nan"), float("nan"))
            if args.database
            else await floor_ratio(catalog, path, queries)
        )
        reported, worst, beside, alone = await hostile(catalog, args.hostile_rounds)
        p95 = await autocomplete(catalog, args.queries)
        if args.database:
            size_mb = await db.fetchval("SELECT pg_database_size(current_database())") / 1e6
    if not args.database:
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    p50, p95_search = statistics.median(values), percentile(values, 0.95)
    print(
        f"search: papers={args.papers} p50_ms={p50:.2f} p95_ms={p95_search:.2f} db_mb={size_mb:.0f}"
    )
    print(
        f"floor: papers={args.papers} floor_ratio_p50={ratio50:.2f} floor_ratio_p95={ratio95:.2f}"
    )
    print(
        f"hostile: reported_ms={reported:.0f} worst_ms={worst:.0f}"
        f" concurrent_p50_ms={beside:.0f} alone_p50_ms={alone:.2f}"
    )
    print("autocomplete: " + " ".join(f"{kind}_p95_ms={value:.2f}" for kind, value in p95.items()))
    workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
