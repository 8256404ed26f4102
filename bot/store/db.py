"""The store's database: one API over SQLite (the default) and PostgreSQL.

The repositories write SQL once, with ``?`` placeholders, against :class:`Connection` (the part
of aiosqlite's connection they use); ``bot/store/sqlite.py`` runs it on aiosqlite unchanged and
``bot/store/postgres.py`` on asyncpg. The few statements the two databases disagree on are
chosen in ``bot/store/dialect.py``. SQLAlchemy Core was measured and not taken: over aiosqlite it
costs 5–7× per statement (``bench/dialect_overhead.py``) and has no way to bound a read.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.config import POSTGRES_SCHEMES, SettingsError

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class ReadBudget:
    """How long one read may run before SQLite interrupts it.

    The clock is checked every ``check_every`` SQLite VM instructions; one instruction inside
    FTS5 (expanding a prefix, say) runs to its end, so a read may overrun by tens of milliseconds.
    ``seconds=0, check_every=1`` interrupts any read at its first instruction.
    """

    seconds: float
    check_every: int = 1000


class ReadBudgetExceeded(Exception):
    """A read ran past its :class:`ReadBudget` and SQLite interrupted it."""


def utc_now() -> datetime:
    """The current time, aware and in UTC (the only clock the store uses by default)."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO text that sorts correctly as a string (always UTC, always microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Each database has its own numbered set: SQLite's grew with the project, PostgreSQL's starts
# from the schema SQLite's set had reached.
_MIGRATION_DIRS: dict[Dialect, str] = {"sqlite": "migrations", "postgresql": "migrations_pg"}


def load_migrations(dialect: Dialect = "sqlite") -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration file of ``dialect``, in order."""
    found = []
    for entry in resources.files("bot.store").joinpath(_MIGRATION_DIRS[dialect]).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001.. without gaps, found {versions}")
    return found


class Row(Protocol):
    """A result row: by position or by column name (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class Cursor(Protocol):
    """What a statement returns: how many rows it changed, and the rows it produced."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    async def fetchall(self) -> Iterable[Row]: ...


class Connection(Protocol):
    """The statements a repository runs inside :meth:`Database.transaction`."""

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Awaitable[Cursor]: ...

    def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Awaitable[Cursor]: ...

    def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> Awaitable[Iterable[Row]]: ...


class Database(ABC):
    """The repositories' database. Writes go through :meth:`transaction`; reads may too.

    Within one process, write transactions run one at a time (SQLite allows no other way; on
    PostgreSQL it keeps the same behaviour for the code above, and other processes still write
    concurrently).
    """

    dialect: Dialect

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """``async with db.transaction() as conn``: committed at the end, rolled back on error."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    @abstractmethod
    async def fetchall_within(
        self, budget: ReadBudget, sql: str, params: Iterable[Any] = ()
    ) -> list[Row]:
        """Like :meth:`fetchall`, but raise ReadBudgetExceeded once the read runs past
        ``budget``."""

    @abstractmethod
    async def first_fetchall_within(
        self, budget: ReadBudget, sql: str, alternatives: Sequence[Iterable[Any]]
    ) -> tuple[int, list[Row]]:
        """Run ``sql`` with each parameter set in turn until one finds rows, within one
        ``budget``: (the index of that set, its rows), or (len(alternatives), []) when none did.
        Raises ReadBudgetExceeded like :meth:`fetchall_within`."""

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Apply every migration above the stored version; the names applied."""

    @abstractmethod
    async def optimize(self) -> None:
        """Refresh the query planner's statistics where they are stale (at start, after a prune)."""

    @abstractmethod
    async def close(self) -> None: ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class DatabaseUnusable(SettingsError):
    """DATABASE_URL names a database papers-bot cannot open or use; the message says why."""


def is_postgres_url(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


async def open_database(target: Path | str) -> Database:
    """Open (creating if needed) and migrate the database at ``target``: a SQLite path (or
    ``:memory:``) or a ``postgresql://`` URL.

    Raises :class:`DatabaseUnusable` (one line naming DATABASE_URL) when it cannot be opened or
    used; nothing is left open on a failure.
    """
    # Imported here: each backend imports this module's types.
    if is_postgres_url(target):
        from bot.store.postgres import open_postgres

        return await open_postgres(str(target))
    from bot.store.sqlite import open_sqlite

    return await open_sqlite(target)


def newer_schema(where: str, version: int, newest: int) -> DatabaseUnusable:
    return DatabaseUnusable(
        f"DATABASE_URL: {where} was written by a newer papers-bot (schema {version}, "
        f"this one knows up to {newest}): upgrade papers-bot or use another database"
    )


@asynccontextmanager
async def database_at(target: Path | str) -> AsyncIterator[Database]:
    """``async with database_at(target) as db``: open, migrate, and always close."""
    database = await open_database(target)
    try:
        yield database
    finally:
        await database.close()
