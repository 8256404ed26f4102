"""Opening the store: concurrent openers of one fresh file, and places SQLite cannot use."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.config import SettingsError
from bot.store import sqlite as sqlite_module
from bot.store.db import DatabaseUnusable, load_migrations, open_database
from bot.store.sqlite import SqliteDatabase, split_statements

ROUNDS = 30
OPENERS = 5


async def test_several_openers_of_one_fresh_file_always_succeed(tmp_path: Path) -> None:
    # The bot and `python -m bot fetch` starting together: each races to switch the new file to
    # WAL and migrate it. None may fail, and none may leave its connection open.
    for round_ in range(ROUNDS):
        path = tmp_path / f"round-{round_}.db"
        opened = await asyncio.gather(
            *(open_database(path) for _ in range(OPENERS)), return_exceptions=True
        )
        databases = [db for db in opened if not isinstance(db, BaseException)]
        try:
            assert databases == opened, f"round {round_}: {opened}"
            for database in databases:
                assert await database.schema_version() == len(load_migrations())
                assert await database.fetchval("PRAGMA journal_mode") == "wal"
                assert await database.fetchval("PRAGMA busy_timeout") == 5000
        finally:
            for database in databases:
                await database.close()


def unusable_places(tmp_path: Path, *, create: bool = True) -> dict[str, Path]:
    a_file = tmp_path / "notes.txt"
    if create:
        a_file.write_text("not a database, just some text that is long enough to be read " * 4)
        (tmp_path / "a-directory").mkdir()
    return {
        "a directory": tmp_path / "a-directory",
        "under /proc": Path("/proc/papers.db"),
        "under /sys (read-only)": Path("/sys/papers.db"),
        "a missing directory under /proc": Path("/proc/papers-bot/papers.db"),
        "a text file": a_file,
        "under a file": a_file / "papers.db",
    }


@pytest.mark.parametrize("place", list(unusable_places(Path("/nonexistent"), create=False)))
async def test_an_unusable_place_is_one_line_naming_database_url(
    tmp_path: Path, place: str
) -> None:
    path = unusable_places(tmp_path)[place]
    # (tests/conftest.py fails the test if the failed connection's thread is left running)
    with pytest.raises(DatabaseUnusable) as raised:
        await open_database(path)
    message = str(raised.value)
    assert message.startswith("DATABASE_URL: ") and str(path) in message and "\n" not in message
    assert isinstance(raised.value, SettingsError)  # the CLI turns it into exit status 2


async def test_a_migration_another_process_applied_meanwhile_is_not_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two steps: the first can run twice without failing, the second cannot.
    steps = [
        (1, "0001_a.sql", "CREATE TABLE IF NOT EXISTS a (x);"),
        (2, "0002_b.sql", "CREATE TABLE b (x);\nCREATE INDEX b_x ON b (x);"),
    ]
    monkeypatch.setattr(sqlite_module, "load_migrations", lambda: steps)
    path = tmp_path / "papers.db"
    first = await open_database(path)  # another process, done migrating
    raw = await aiosqlite.connect(path, isolation_level=None)
    try:
        late = SqliteDatabase(raw)
        # This process read version 0 just before the other one migrated.
        stale = iter([0])
        real = late.schema_version

        async def version() -> int:
            return next(stale, None) or await real()

        monkeypatch.setattr(late, "schema_version", version)
        assert await late.migrate() == []
        assert await first.schema_version() == 2
    finally:
        await raw.close()
        await first.close()


def test_migration_scripts_split_into_whole_statements() -> None:
    script = (
        "-- a comment\nCREATE TABLE t (x); CREATE TRIGGER t_i AFTER INSERT ON t BEGIN\n"
        "    INSERT INTO t VALUES (1);\nEND;\n-- trailing comment\n"
    )
    assert split_statements(script) == [
        "-- a comment\nCREATE TABLE t (x);",
        "CREATE TRIGGER t_i AFTER INSERT ON t BEGIN\n    INSERT INTO t VALUES (1);\nEND;",
    ]
    assert split_statements("INSERT INTO t VALUES ('a;b'); SELECT 1;") == [
        "INSERT INTO t VALUES ('a;b');",
        "SELECT 1;",
    ]
    with pytest.raises(RuntimeError, match="incomplete"):
        split_statements("CREATE TRIGGER t_i AFTER INSERT ON t BEGIN SELECT 1;")


async def test_another_programs_database_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as other:
        other.execute("CREATE TABLE papers (isbn TEXT)")  # a bookshop's, say
    with pytest.raises(DatabaseUnusable, match="another program's database") as raised:
        await open_database(path)
    assert "\n" not in str(raised.value)


async def test_a_database_from_a_newer_papers_bot_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    newer = len(load_migrations()) + 5
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(DatabaseUnusable, match="newer papers-bot"):
        await open_database(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newer
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


async def test_an_in_memory_database_opens_at_once(tmp_path: Path) -> None:
    database = await open_database(":memory:")
    try:
        assert await database.schema_version() == len(load_migrations())
    finally:
        await database.close()
