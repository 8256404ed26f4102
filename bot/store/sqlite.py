"""SQLite through aiosqlite: WAL, foreign keys, numbered migrations in ``PRAGMA user_version``."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

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

PAGE_CACHE_KIB = 16 * 1024
# How long a statement waits for another connection's lock before SQLITE_BUSY.
BUSY_TIMEOUT_MS = 5000


def split_statements(script: str) -> list[str]:
    """The statements of a SQL script, in order (a trigger's BEGIN…END body stays whole)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if _has_code(current.removesuffix(";")):
                statements.append(current.strip())
            current = ""
    if _has_code(current.removesuffix(";")):
        raise RuntimeError(f"a migration ends with an incomplete statement: {current.strip()!r}")
    return statements


def _has_code(text: str) -> bool:
    """Anything but blanks and ``--`` comments."""
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


class SqliteDatabase(Database):
    """One aiosqlite connection shared by the repositories.

    Writes go through :meth:`transaction`, which serialises them with a lock so that two
    coroutines never interleave statements inside one SQLite transaction.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            if self.conn.in_transaction:
                # A writer cancelled mid-way (at shutdown, say) left its transaction open.
                await self._rollback()
            try:
                await self._begin()
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _begin(self) -> None:
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            if not self.conn.in_transaction:
                raise
            # A writer cancelled while its own BEGIN still waited in aiosqlite's queue saw no
            # transaction to roll back; that BEGIN ran after it left, and belongs to nobody.
            await self._rollback()
            await self.conn.execute("BEGIN IMMEDIATE")

    async def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                # Shielded: a second cancellation must not leave the transaction open.
                await asyncio.shield(self.conn.execute("ROLLBACK"))
            except sqlite3.OperationalError:
                if self.conn.in_transaction:
                    raise
                # The statement the caller was cancelled in (a COMMIT) ended the transaction in
                # aiosqlite's thread meanwhile: there is nothing to roll back, and the caller's
                # own exception (a cancellation at shutdown) must go on, not this one.

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        # One trip to aiosqlite's thread (execute, fetch and close) instead of three.
        rows: list[Row] = list(await self.conn.execute_fetchall(sql, tuple(params)))
        return rows

    async def first_fetchall_within(
        self, budget: ReadBudget, sql: str, alternatives: Sequence[Iterable[Any]]
    ) -> tuple[int, list[Row]]:
        """Run ``sql`` with each parameter set in turn until one finds rows, in one trip to the
        database thread and within one ``budget``: (the index of that set, its rows), or
        (len(alternatives), []) when none did. Raises ReadBudgetExceeded like
        :meth:`fetchall_within`."""
        choices = [tuple(params) for params in alternatives]

        def read(conn: sqlite3.Connection) -> tuple[int, list[Row]]:
            deadline = time.monotonic() + budget.seconds
            conn.set_progress_handler(lambda: time.monotonic() >= deadline, budget.check_every)
            try:
                for index, values in enumerate(choices):
                    rows = conn.execute(sql, values).fetchall()
                    if rows:
                        return index, rows
                return len(choices), []
            finally:
                conn.set_progress_handler(None, 0)

        try:
            found: tuple[int, list[Row]] = await self.conn._execute(  # type: ignore[no-untyped-call]
                read, self.conn._conn
            )
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT:
                raise ReadBudgetExceeded(f"read interrupted after {budget.seconds} s") from None
            raise
        return found

    async def fetchall_within(
        self, budget: ReadBudget, sql: str, params: Iterable[Any] = ()
    ) -> list[Row]:
        """Like :meth:`fetchall`, but raise ReadBudgetExceeded once the read runs past ``budget``.

        SQLite's progress handler belongs to the whole connection, so it is installed and removed
        in the same trip to aiosqlite's thread as the read: no other statement (a write above all)
        ever runs under it. An interrupted read rolls nothing back, even inside a transaction.
        """
        values = tuple(params)

        def read(conn: sqlite3.Connection) -> list[Row]:
            deadline = time.monotonic() + budget.seconds
            conn.set_progress_handler(lambda: time.monotonic() >= deadline, budget.check_every)
            try:
                return conn.execute(sql, values).fetchall()
            finally:
                conn.set_progress_handler(None, 0)

        try:
            # aiosqlite has no public way to run several calls in one trip to its thread.
            rows: list[Row] = await self.conn._execute(  # type: ignore[no-untyped-call]
                read, self.conn._conn
            )
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT:
                raise ReadBudgetExceeded(f"read interrupted after {budget.seconds} s") from None
            raise
        return rows

    async def schema_version(self) -> int:
        return int(await self.fetchval("PRAGMA user_version"))

    async def migrate(self) -> list[str]:
        """Apply every migration above the stored version, each in its own transaction.

        The version is read again inside each migration's write transaction: another process
        (`fetch` started beside the bot) may have applied it since, and running it twice could
        move the version backwards.
        """
        applied = []
        current = await self.schema_version()
        for version, name, sql in load_migrations():
            if version <= current:
                continue
            async with self._write_lock:
                # Statement by statement: executescript() would COMMIT first, and a failed
                # migration must leave neither half a schema nor a bumped version behind.
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    if await self.schema_version() >= version:
                        await self.conn.execute("ROLLBACK")
                        continue
                    for statement in split_statements(sql):
                        await self.conn.execute(statement)
                    await self.conn.execute(f"PRAGMA user_version = {version}")
                    await self.conn.execute("COMMIT")
                except BaseException:
                    await self._rollback()
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
        # In a write transaction: an ANALYZE that began reading outside one could not upgrade
        # to writing once another opener had written meanwhile ("database is locked", at once,
        # whatever the busy timeout); BEGIN IMMEDIATE waits for the write lock instead.
        async with self.transaction() as conn:
            await conn.execute("PRAGMA optimize = 0x10002")

    async def close(self) -> None:
        await self.conn.close()


async def open_sqlite(path: Path | str) -> SqliteDatabase:
    """Open (creating if needed) and migrate the database at ``path``.

    Raises :class:`DatabaseUnusable` (one line naming DATABASE_URL) when the file cannot be
    opened or is not a SQLite database; the connection is closed on every failure.
    """
    try:
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        connecting = aiosqlite.connect(str(path), isolation_level=None)
    except OSError as exc:
        raise DatabaseUnusable(_unusable(path, exc)) from None
    try:
        conn = await connecting
    except (sqlite3.Error, OSError) as exc:
        _join_worker(connecting)
        raise DatabaseUnusable(_unusable(path, exc)) from None
    try:
        conn.row_factory = aiosqlite.Row
        try:
            # First: every later statement, the WAL switch included, waits for a concurrent
            # opener (the bot and `fetch` starting together) instead of failing at once.
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _use_wal(conn)
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Searches read the index at random: keep more of it than the 2 MB default in
            # SQLite's own cache. No mmap: mapped pages count as the bot's resident memory.
            await conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        except sqlite3.Error as exc:
            raise DatabaseUnusable(_unusable(path, exc)) from None
        database = SqliteDatabase(conn)
        newest = len(load_migrations())
        try:
            version = await database.schema_version()
            if version > newest:
                raise newer_schema(str(path), version, newest)
            await database.migrate()
        except sqlite3.Error as exc:
            # Another program's database (a `papers` table of its own, say).
            raise DatabaseUnusable(
                f"DATABASE_URL: papers-bot cannot set up its tables in {str(path)!r} ({exc}): "
                "is it another program's database? Point it at papers-bot's own file, like "
                "sqlite:///papers.db"
            ) from None
        await database.optimize()
    except BaseException:
        await conn.close()
        raise
    return database


async def _use_wal(conn: aiosqlite.Connection) -> None:
    """Switch to WAL, retrying for a bounded time while another connection holds the lock.

    The switch needs an exclusive lock for a moment; a second process opening the same fresh
    file can hold it (SQLite may then answer SQLITE_BUSY without waiting, or keep the old mode).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            [(mode,)] = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            if str(mode).lower() in ("wal", "memory"):
                return  # an in-memory database (sqlite:///:memory:) has no journal file to move
            problem: sqlite3.Error = sqlite3.OperationalError(f"journal mode stayed {mode}")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            problem = exc
        if loop.time() + delay > deadline:
            raise problem
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


def _join_worker(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection whose connect() failed.

    aiosqlite only queues that thread's stop; if the event loop closed first (a CLI exiting
    on the error) the thread would print an "Event loop is closed" traceback. The thread has
    nothing else queued, so the join takes microseconds.
    """
    worker = getattr(conn, "_thread", None)
    if isinstance(worker, threading.Thread) and worker.is_alive():
        worker.join(timeout=1)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


def _unusable(path: Path | str, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (
        f"DATABASE_URL: cannot open a SQLite database at {str(path)!r} ({reason}); "
        "point it at a writable file, like sqlite:///papers.db"
    )
