"""What one Prometheus scrape costs on a large store: ``Metrics.exposition`` at 1M outbox rows.

Builds the database of bench/feed_list.py (``--subscriptions`` channels, ``--rows`` delivery rows:
today's pending, 2 % of the rest dropped, the others sent) and times, median of ``--repeat``:

* ``figures_ms``: the store read a scrape makes (papers, the outbox by kind, state and reason);
* ``scrape_ms``: the whole ``/metrics`` body (that read plus the text exposition);
* ``healthz_ms``: the database half of ``/healthz`` (``SELECT 1``).

The store read holds SQLite's one thread for ``figures_ms``: every command waits behind it, so
it must stay well below a command's own time at the scrape interval (15-60 s) operators use.

    python bench/metrics.py [--subscriptions 50] [--rows 1000000] [--repeat 5]

On a busy 2-core machine (load 4.5, issue 11), 1M rows, 50 subscriptions, 20,000 dropped: first
with ``WHERE state != 'sent'`` (a table scan) ``figures_ms=488 scrape_ms=447``; then counting
sent rows as the whole count less the pending and dropped ones ``figures_ms=61-91
scrape_ms=56-156`` (two runs); ``healthz_ms=0.03-0.15``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed_list import build, median_ms  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.store.db import database_at  # noqa: E402
from bot.store.metrics import database_answers, store_figures  # noqa: E402


async def run(subscriptions: int, rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with database_at(Path(tmp) / "bench.db") as db:
            await build(db, subscriptions, rows)
            metrics = Metrics(process="bench:1")
            figures = await store_figures(db)
            print(
                f"rows={rows} subscriptions={subscriptions} papers={figures.papers} "
                f"series={len(figures.outbox)}"
                f" figures_ms={await median_ms(lambda: store_figures(db), repeat):.1f}"
                f" scrape_ms={await median_ms(lambda: metrics.exposition(db), repeat):.1f}"
                f" healthz_ms={await median_ms(lambda: database_answers(db), repeat):.2f}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.subscriptions, args.rows, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
