"""Fixtures shared by every tier: a migrated store (SQLite in a temp dir, and PostgreSQL) and the
recorded HF data.

PostgreSQL comes from ``TEST_POSTGRES_URL`` (default: the server this project's CI machines run,
postgresql://postgres@127.0.0.1:5432/test): each test run creates a database of its own there and
drops it at the end. Without a server the PostgreSQL tests are skipped, naming why, unless
``PAPERS_BOT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes that a failure.

Every test must also close what it opened: a thread still running after it (an aiosqlite
connection left open, say) fails that test, instead of keeping pytest from ever exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.hf.parse import parse_daily_json
from bot.models import Paper
from bot.store.db import Database, database_at

FIXTURES = Path(__file__).parent / "fixtures"
# How long a thread may take to finish after its owner closed it (aiosqlite's worker resolves
# close() just before it returns).
THREAD_EXIT_GRACE_SECONDS = 2.0
HF_API = FIXTURES / "hf" / "api"
HF_HTML = FIXTURES / "hf" / "html"


def fixture_papers(name: str) -> list[Paper]:
    """Parse a recorded ``/api/daily_papers`` response (file name like daily_papers_2024-08-01)."""
    path = HF_API / (name if name.endswith(".json") else name + ".json")
    day = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", path.stem)[0])
    return list(parse_daily_json(path.read_bytes(), day).papers)


POSTGRES_SERVER_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("PAPERS_BOT_REQUIRE_POSTGRES") == "1"
BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


async def _admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(server_url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class PostgresServer:
    """The test run's PostgreSQL server: fresh databases on it, all dropped when the run ends."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.prefix = f"papers_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        self.shared_url = ""  # the run's database, migrated once, for the `db` fixture

    async def create(self, label: str = "") -> str:
        """A new, empty database; its URL."""
        name = f"{self.prefix}_{len(self.created)}{'_' + label if label else ''}"
        await _admin(self.server_url, f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _database_url(self.server_url, name)

    async def drop_all(self) -> None:
        for name in self.created:
            await _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_apart(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to its end on a loop of its own, in a thread: the session fixture may be
    first asked for from inside a test's running loop, where asyncio.run() is refused."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server, or a skip (a failure where it is required) naming why not."""
    reason = ""
    if asyncpg is None:
        reason = "asyncpg is not installed"
    else:
        try:
            _run_apart(_admin(POSTGRES_SERVER_URL, "SELECT 1"))
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            reason = (
                f"no PostgreSQL server answers at TEST_POSTGRES_URL={POSTGRES_SERVER_URL} ({exc})"
            )
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PAPERS_BOT_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    server = PostgresServer(POSTGRES_SERVER_URL)
    try:
        yield server
    finally:
        _run_apart(server.drop_all())


async def _emptied(database: Database) -> None:
    """Every table of a migrated PostgreSQL store emptied, identities restarted."""
    rows = await database.fetchall(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename <> 'schema_version'"
    )
    tables = ", ".join(f'"{row[0]}"' for row in rows)
    if tables:
        async with database.transaction() as conn:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for one test (for processes, races, migrations)."""
    return await postgres_server.create()


@pytest.fixture(params=BOTH_DATABASES)
async def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's own store goes: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "papers.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await server.create()


@pytest.fixture(params=BOTH_DATABASES)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty store on each database (tests run once per database)."""
    if request.param == "sqlite":
        async with database_at(tmp_path / "papers.db") as database:
            yield database
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if not server.shared_url:
        server.shared_url = await server.create("shared")
    async with database_at(server.shared_url) as database:
        await _emptied(database)
        yield database


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite store, for tests of what only SQLite has (PRAGMAs, query plans)."""
    async with database_at(tmp_path / "papers.db") as database:
        yield database


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """Fail a test that leaves a non-daemon thread running (set up first, so checked last)."""
    before = set(threading.enumerate())
    yield
    started = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for thread in started:
        thread.join(THREAD_EXIT_GRACE_SECONDS / max(len(started), 1))
    leaked = [thread.name for thread in started if thread.is_alive()]
    assert not leaked, f"the test left threads running (a connection not closed?): {leaked}"
