"""Interaction latency through the fake Discord, with the bot as its own process.

    python bench/interaction.py [--papers 100000] [--rounds 200] [--db PATH]

Dispatches INTERACTION_CREATE for /papers search and /papers today over the fake gateway and
times until the bot's response reaches the fake's REST endpoint. Reads the bot's resident memory
from /proc. Ends with:
    interaction: papers=… search_p50_ms=… search_p99_ms=… today_p99_ms=… rss_mb=…
Targets on a 2-core machine: p99 ≤ 50 ms; bot RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from synthetic import ROOT, build_database, realistic_queries, synthetic_day  # noqa: E402

sys.path.insert(0, str(ROOT))

from tests.e2e.bot_fixtures import BotProcess  # noqa: E402
from tests.fakes.fake_discord import FakeDiscord  # noqa: E402
from tests.fakes.fake_hf import FakeHF  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def timed(fake: FakeDiscord, command: str, **options: str) -> float:
    started = time.perf_counter()
    record = await fake.slash(command, **options)
    await record.response(timeout=10)
    return (time.perf_counter() - started) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--db", type=Path, help="reuse/keep this database file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="papers-bench-"))
    db_path = args.db or workdir / "papers.db"
    started = time.perf_counter()
    await build_database(db_path, args.papers)
    print(f"database ready: {args.papers} papers ({time.perf_counter() - started:.1f} s)")

    # Each run talks to a brand-new fake Discord: forget the command sync of an earlier run.
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("DELETE FROM bot_state WHERE key LIKE 'command_hash:%'")

    rng = random.Random(3)
    queries = realistic_queries(args.rounds)
    days = [synthetic_day(rng.randrange(args.papers)).isoformat() for _ in range(args.rounds)]
    async with FakeDiscord() as fake, FakeHF() as hf:
        bot = BotProcess(
            fake, hf, workdir, DATABASE_URL=f"sqlite:///{db_path}", LOG_LEVEL="WARNING"
        )
        await bot.start()
        assert bot.process is not None
        pid = bot.process.pid
        try:
            for query in queries[:10]:  # warm up: imports, page cache, first queries
                await timed(fake, "papers search", query=query)
            search = [await timed(fake, "papers search", query=query) for query in queries]
            today = [await timed(fake, "papers today", date=day) for day in days]
            current, peak = rss_mb(pid)
        finally:
            await bot.stop()
    print(f"/papers search: n={len(search)} p50={statistics.median(search):.2f} ms", end=" ")
    print(f"p95={percentile(search, 0.95):.2f} ms p99={percentile(search, 0.99):.2f} ms")
    print(f"/papers today:  n={len(today)} p50={statistics.median(today):.2f} ms", end=" ")
    print(f"p95={percentile(today, 0.95):.2f} ms p99={percentile(today, 0.99):.2f} ms")
    print(f"bot memory: rss={current:.0f} MB peak={peak:.0f} MB")
    print(
        f"interaction: papers={args.papers} search_p50_ms={statistics.median(search):.2f}"
        f" search_p99_ms={percentile(search, 0.99):.2f} today_p99_ms={percentile(today, 0.99):.2f}"
        f" rss_mb={current:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
