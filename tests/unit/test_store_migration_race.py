"""Processes starting together against one fresh database: each migration runs exactly once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.store.db import database_at, is_postgres_url, load_migrations

PROCESSES = 3
ROUNDS = 2
ROOT = Path(__file__).resolve().parents[2]
# Each process opens (and so migrates) the store, then prints the version it found.
OPEN_AND_REPORT = (
    "import asyncio, sys\n"
    "from bot.store.db import database_at\n"
    "async def main():\n"
    "    async with database_at(sys.argv[1]) as db:\n"
    "        print(await db.schema_version())\n"
    "asyncio.run(main())\n"
)


async def _race(target: str) -> list[tuple[int | None, str, str]]:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OPEN_AND_REPORT,
            target,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for process in processes:
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        results.append((process.returncode, out.decode().strip(), err.decode()))
    return results


async def test_processes_migrating_one_fresh_database_together_all_succeed(
    database_target: Path | str, tmp_path: Path
) -> None:
    dialect = "postgresql" if is_postgres_url(database_target) else "sqlite"
    newest = len(load_migrations(dialect))
    for round_ in range(ROUNDS):
        target = database_target
        if not is_postgres_url(target):
            target = tmp_path / f"round-{round_}.db"
        elif round_:
            async with database_at(target) as db, db.transaction() as conn:
                # Back to empty: drop everything the previous round created.
                await conn.execute("DROP SCHEMA public CASCADE")
                await conn.execute("CREATE SCHEMA public")
        results = await _race(str(target))
        assert [(code, out) for code, out, _ in results] == [(0, str(newest))] * PROCESSES, results
        async with database_at(target) as db:
            assert await db.schema_version() == newest
            if db.dialect == "postgresql":
                rows = await db.fetchall("SELECT version FROM schema_version ORDER BY version")
                assert [row[0] for row in rows] == list(range(1, newest + 1))
