"""Why the store is a thin dialect layer and not SQLAlchemy: the cost of one statement.

Times the same primary-key read (the shape of most of what a command answers) through the
store's own ``Database`` and through SQLAlchemy 2's async engine (``text()``, Core, no ORM) on
the same database, side by side, alternating rounds so machine noise falls on both.

SQLAlchemy is not a dependency: ``python3 -m pip install 'sqlalchemy[asyncio]'`` to run this.

    python bench/dialect_overhead.py [--reads 3000] [--database postgresql://…]

Ends with ``dialect_overhead: database=… store_us=… sqlalchemy_us=… ratio=…`` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store.db import Database, database_at  # noqa: E402

PAPERS = 5000
ROUNDS = 5


def _paper_id(n: int) -> str:
    return f"2501.{n % PAPERS:05d}"


async def _fill(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("DROP TABLE IF EXISTS bench_papers")
        await conn.execute("CREATE TABLE bench_papers (id TEXT PRIMARY KEY, title TEXT, body TEXT)")
        await conn.executemany(
            "INSERT INTO bench_papers VALUES (?, ?, ?)",
            [(_paper_id(n), f"title {n}", "x" * 800) for n in range(PAPERS)],
        )


async def _store_reads(db: Database, reads: int) -> float:
    started = time.perf_counter()
    for n in range(reads):
        await db.fetchall("SELECT * FROM bench_papers WHERE id = ?", (_paper_id(n),))
    return (time.perf_counter() - started) / reads


async def _sqlalchemy_reads(engine: Any, reads: int) -> float:
    from sqlalchemy import text

    query = text("SELECT * FROM bench_papers WHERE id = :id")
    async with engine.connect() as conn:
        started = time.perf_counter()
        for n in range(reads):
            (await conn.execute(query, {"id": _paper_id(n)})).fetchall()
        return (time.perf_counter() - started) / reads


async def main(reads: int, database: str | None) -> None:
    try:
        from sqlalchemy.ext.asyncio import create_async_engine
    except ImportError:
        sys.exit("dialect_overhead: needs SQLAlchemy: python3 -m pip install 'sqlalchemy[asyncio]'")
    with tempfile.TemporaryDirectory() as tmp:
        target = database or f"{tmp}/bench.db"
        url = (
            database.replace("postgresql://", "postgresql+asyncpg://", 1)
            if database
            else f"sqlite+aiosqlite:///{target}"
        )
        async with database_at(target) as db:
            await _fill(db)
            engine = create_async_engine(url)
            store, alchemy = [], []
            try:
                for _ in range(ROUNDS):
                    store.append(await _store_reads(db, reads))
                    alchemy.append(await _sqlalchemy_reads(engine, reads))
            finally:
                await engine.dispose()
                async with db.transaction() as conn:
                    await conn.execute("DROP TABLE bench_papers")
    ours, theirs = statistics.median(store), statistics.median(alchemy)
    print(
        f"dialect_overhead: database={'postgresql' if database else 'sqlite'} "
        f"store_us={ours * 1e6:.0f} sqlalchemy_us={theirs * 1e6:.0f} ratio={theirs / ours:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--database", help="a postgresql:// URL (default: a temporary SQLite file)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.reads, arguments.database))
