"""What matching alerts after a poll costs: every member's alerts run over the poll window's
papers, each within the search's read budget, on a synthetic store built from the recorded
abstracts.

    python bench/alerts.py [--papers 30000] [--members 100] [--db PATH | --database URL]

Each member has 10 alerts (realistic search queries); one in ten members also has the costliest
query the term cap allows (24 OR'd two-letter prefixes). Ends with one line:
    alerts: papers=… alerts=… hostile=… window_papers=… match_s=… per_alert_p50_ms=…
        per_alert_p95_ms=… hostile_alert_max_ms=… dms=…
What to look for: the poll hook finishes in well under a second per thousand alerts, and a
hostile alert costs at most its budget (250 ms) before it is paused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import WORST_ALLOWED, NoSource
from synthetic import build_database, realistic_queries, synthetic_day

from bot.alerts import MAX_ALERTS, AlertService
from bot.errors import PaperBotError
from bot.ingest import IngestService
from bot.search import build_fts_query
from bot.store.alerts import AlertRepo
from bot.store.db import ReadBudgetExceeded, database_at, to_iso
from bot.store.feed import OutboxRepo
from bot.store.papers import SEARCH_BUDGET, PaperRepo
from bot.store.state import StateRepo


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=30_000)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--db", type=Path, help="reuse/keep this database file")
    parser.add_argument("--database", help="a postgresql:// URL instead of a SQLite file")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    path: Path | str = args.database or args.db or Path(workdir.name) / "bench.db"
    await build_database(path, args.papers)
    last_day = synthetic_day(args.papers - 1)
    window = {last_day - timedelta(days=1), last_day}
    created = datetime(2020, 1, 1, tzinfo=UTC)  # before every listing: all are news
    async with database_at(path) as db:
        papers = PaperRepo(db)
        ingest = IngestService(NoSource(), papers, StateRepo(db))
        repo = AlertRepo(db)
        service = AlertService(repo, OutboxRepo(db), papers, ingest, clock=lambda: created)
        queries = []
        for text in realistic_queries(args.members * MAX_ALERTS * 2):
            try:
                build_fts_query(text)
            except PaperBotError:
                continue
            queries.append(text)
        rows = []
        hostile = 0
        for member in range(args.members):
            mine = queries[member * MAX_ALERTS : (member + 1) * MAX_ALERTS]
            if member % 10 == 0:
                mine = [*mine[: MAX_ALERTS - 1], WORST_ALLOWED]
                hostile += 1
            rows += [(1000 + member, text, to_iso(created)) for text in mine]
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM alerts")
            await conn.execute("DELETE FROM alert_matches")
            await conn.execute("DELETE FROM outbox WHERE kind = 'dm'")
            await conn.executemany(
                "INSERT INTO alerts (user_id, query, created_at) VALUES (?, ?, ?)", rows
            )

        # Each alert's read alone, as the hook makes it.
        window_papers = await repo.window_papers(window)
        rowids = [paper.rowid for paper in window_papers]
        per_alert: list[float] = []
        hostile_ms: list[float] = []
        for alert in await repo.active():
            started = time.perf_counter()
            with contextlib.suppress(ReadBudgetExceeded):
                await repo.matching(
                    build_fts_query(alert.query).strict, rowids, budget=SEARCH_BUDGET
                )
            elapsed = (time.perf_counter() - started) * 1000
            (hostile_ms if alert.query == WORST_ALLOWED else per_alert).append(elapsed)

        started = time.perf_counter()
        dms = await service.match_window(window)
        match_s = time.perf_counter() - started
    print(
        f"window: {len(window_papers)} papers listed on {sorted(window)}; "
        f"{len(rows)} alerts of {args.members} members"
    )
    print(
        f"alerts: papers={args.papers} alerts={len(rows)} hostile={hostile}"
        f" window_papers={len(window_papers)} match_s={match_s:.2f}"
        f" per_alert_p50_ms={statistics.median(per_alert):.2f}"
        f" per_alert_p95_ms={percentile(per_alert, 0.95):.2f}"
        f" hostile_alert_max_ms={max(hostile_ms):.0f} dms={dms}"
    )
    workdir.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
