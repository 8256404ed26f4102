"""PostgreSQL through asyncpg: the same SQL as SQLite, ``?`` placeholders translated once.

Migrations are PostgreSQL's own numbered set (``bot/store/migrations_pg``), recorded in the
``schema_version`` table and applied under a transaction-scoped advisory lock, so processes
starting together apply each exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.store.db import (
    Connection,
    Database,
    DatabaseUnusable,
    Dialect,
    ReadBudget,
    ReadBudgetExceeded,
    Row,
    load_migrations,
    newer_schema,
)

log = logging.getLogger(__name__)

POOL_SIZE = 10
CONNECT_TIMEOUT_SECONDS = 10
# Any constant both sides agree on: pg_advisory_xact_lock(key) serialises migrating processes.
MIGRATION_LOCK_KEY = 0x7061706572730001  # "papers" 0001
_STATEMENT_WORDS = re.compile(r"^\s*(\w+)")
_RETURNS_ROWS = re.compile(r"\bRETURNING\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """``sql`` with each ``?`` placeholder outside quotes numbered ``$1``, ``$2``… for asyncpg."""
    out: list[str] = []
    number = 0
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)


def _returns_rows(sql: str) -> bool:
    match = _STATEMENT_WORDS.match(sql)
    first = match.group(1).upper() if match else ""
    return first in ("SELECT", "WITH", "VALUES", "SHOW") or bool(_RETURNS_ROWS.search(sql))


def _count(status: str) -> int:
    """The row count of a command status like ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class _Cursor:
    """What one statement did: the shape of aiosqlite's cursor that the repositories read."""

    __slots__ = ("_rows", "rowcount")

    lastrowid: int | None = None  # PostgreSQL has none: statements that need one use RETURNING

    def __init__(self, rowcount: int, rows: list[Row]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    async def fetchall(self) -> list[Row]:
        return self._rows


class PostgresConnection:
    """One pooled asyncpg connection inside a transaction, speaking :class:`Connection`."""

    def __init__(self, conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Cursor:
        query = to_postgres(sql)
        args = tuple(parameters or ())
        if _returns_rows(query):
            rows: list[Row] = list(await self._conn.fetch(query, *args))
            return _Cursor(len(rows), rows)
        return _Cursor(_count(await self._conn.execute(query, *args)), [])

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> _Cursor:
        # One statement per row (asyncpg prepares it once): the summed row count is what
        # SQLite's executemany reports, and asyncpg's own executemany reports none.
        query = to_postgres(sql)
        total = 0
        for args in parameters:
            total += max(_count(await self._conn.execute(query, *tuple(args))), 0)
        return _Cursor(total, [])

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> list[Row]:
        return list(await self._conn.fetch(to_postgres(sql), *tuple(parameters or ())))


class PostgresDatabase(Database):
    """An asyncpg pool shared by the repositories."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool[Any], where: str) -> None:
        self.pool = pool
        self.where = where  # host:port/database, for messages (never the password)
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock, self.pool.acquire() as conn, conn.transaction():
            yield PostgresConnection(conn)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        rows: list[Row] = list(await self.pool.fetch(to_postgres(sql), *tuple(params)))
        return rows

    async def fetchall_within(
        self, budget: ReadBudget, sql: str, params: Iterable[Any] = ()
    ) -> list[Row]:
        # asyncpg cancels the statement on the server when the timeout passes.
        try:
            rows: list[Row] = list(
                await self.pool.fetch(to_postgres(sql), *tuple(params), timeout=budget.seconds)
            )
        except TimeoutError:
            raise ReadBudgetExceeded(f"read interrupted after {budget.seconds} s") from None
        return rows

    async def first_fetchall_within(
        self, budget: ReadBudget, sql: str, alternatives: Sequence[Iterable[Any]]
    ) -> tuple[int, list[Row]]:
        query = to_postgres(sql)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget.seconds
        async with self.pool.acquire() as conn:
            for index, params in enumerate(alternatives):
                left = deadline - loop.time()
                try:
                    if left <= 0:
                        raise TimeoutError
                    rows: list[Row] = list(await conn.fetch(query, *tuple(params), timeout=left))
                except TimeoutError:
                    raise ReadBudgetExceeded(f"read interrupted after {budget.seconds} s") from None
                if rows:
                    return index, rows
        return len(alternatives), []

    async def schema_version(self) -> int:
        return int(await self.fetchval("SELECT coalesce(max(version), 0) FROM schema_version"))

    async def migrate(self) -> list[str]:
        """Apply every migration above the stored version, each in its own transaction, with the
        version read again under the advisory lock (another process may have applied it)."""
        applied = []
        current = await self.schema_version()
        for version, name, sql in load_migrations("postgresql"):
            if version <= current:
                continue  # applied before this start: no lock needed to know it
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                current = await conn.fetchval(
                    "SELECT coalesce(max(version), 0) FROM schema_version"
                )
                if current >= version:
                    continue
                await conn.execute(sql)  # a script: asyncpg runs it as one simple query
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
            log.info("applied migration %s", name)
            applied.append(name)
        return applied

    async def optimize(self) -> None:
        # Autovacuum keeps PostgreSQL's statistics fresh; an ANALYZE here would only repeat it.
        return None

    async def close(self) -> None:
        await self.pool.close()


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def open_postgres(url: str) -> PostgresDatabase:
    """Connect to and migrate the PostgreSQL database at ``url``.

    Raises :class:`DatabaseUnusable` with one line naming the server (never the password) when it
    cannot be reached, refuses the login, or holds a newer schema.
    """
    where = _where(url)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        pool: asyncpg.Pool[Any] = await asyncpg.create_pool(
            dsn, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnusable(
            f"DATABASE_URL: cannot connect to PostgreSQL at {where} ({reason})"
        ) from None
    database = PostgresDatabase(pool, where)
    try:
        async with pool.acquire() as conn, conn.transaction():
            # Under the lock: two processes creating it at once could otherwise collide.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)"
            )
        version = await database.schema_version()
        newest = len(load_migrations("postgresql"))
        if version > newest:
            raise newer_schema(where, version, newest)
        await database.migrate()
    except asyncpg.PostgresError as exc:
        await pool.close()
        raise DatabaseUnusable(
            f"DATABASE_URL: papers-bot cannot set up its tables in PostgreSQL at {where} ({exc})"
        ) from None
    except BaseException:
        await pool.close()
        raise
    return database
