"""The SQLite connection: WAL, foreign keys, numbered migrations in ``PRAGMA user_version``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

PAGE_CACHE_KIB = 16 * 1024
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def utc_now() -> datetime:
    """The current time, aware and in UTC (the only clock the store uses by default)."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO text that sorts correctly as a string (always UTC, always microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in ``bot/store/migrations``, in order."""
    found = []
    for entry in resources.files("bot.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001.. without gaps, found {versions}")
    return found


class Database:
    """One aiosqlite connection shared by the repositories.

    Writes go through :meth:`transaction`, which serialises them with a lock so that two
    coroutines never interleave statements inside one SQLite transaction.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            if self.conn.in_transaction:
                # A writer cancelled mid-way (at shutdown, say) left its transaction open.
                await self._rollback()
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        if self.conn.in_transaction:
            # Shielded: a second cancellation must not leave the transaction open.
            await asyncio.shield(self.conn.execute("ROLLBACK"))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # One trip to aiosqlite's thread (execute, fetch and close) instead of three.
        return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def schema_version(self) -> int:
        return int(await self.fetchval("PRAGMA user_version"))

    async def migrate(self) -> list[str]:
        """Apply every migration above the stored version, each in its own transaction."""
        applied = []
        current = await self.schema_version()
        for version, name, sql in load_migrations():
            if version <= current:
                continue
            # executescript() would COMMIT first; running the script inside BEGIN…COMMIT keeps a
            # failed migration from leaving half a schema or a bumped version behind.
            async with self._write_lock:
                try:
                    await self.conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except Exception:
                    await self._rollback()
                    if await self.schema_version() >= version:
                        # Another process (`fetch` started beside the bot) applied it first.
                        continue
                    raise
            log.info("applied migration %s", name)
            applied.append(name)
        return applied

    async def optimize(self) -> None:
        """Refresh the query planner's statistics where they are stale (at start, after a prune).

        ``analysis_limit`` bounds the ANALYZE this may run to a sample of each index; 0x10002
        asks SQLite 3.46+ to look at every table, not only those this connection has queried.
        """
        await self.conn.execute("PRAGMA analysis_limit = 1000")
        await self.conn.execute("PRAGMA optimize = 0x10002")

    async def close(self) -> None:
        await self.conn.close()


async def open_database(path: Path | str) -> Database:
    """Open (creating if needed) and migrate the database at ``path``."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA busy_timeout = 5000")
    # Searches read the index at random: keep more of it than the 2 MB default in SQLite's own
    # cache. No mmap: mapped pages count as the bot's resident memory, the OS page cache not.
    await conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    database = Database(conn)
    try:
        await database.migrate()
        await database.optimize()
    except BaseException:
        await conn.close()
        raise
    return database


@asynccontextmanager
async def database_at(path: Path | str) -> AsyncIterator[Database]:
    """``async with database_at(path) as db``: open, migrate, and always close."""
    database = await open_database(path)
    try:
        yield database
    finally:
        await database.close()
