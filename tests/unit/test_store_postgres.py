"""The PostgreSQL backend's own behaviour: placeholders, row counts, budgets, refusals."""

from __future__ import annotations

import asyncpg
import pytest

from bot.store.db import (
    DatabaseUnusable,
    ReadBudget,
    ReadBudgetExceeded,
    database_at,
    load_migrations,
    open_database,
)
from bot.store.postgres import to_postgres

pytestmark = pytest.mark.postgresql
NAPPING_READ_FINDING_NOTHING = (
    "SELECT nap FROM (SELECT CAST(pg_sleep(CAST(? AS FLOAT)) AS TEXT) AS nap) AS s"
    " WHERE nap = 'never'"
)


def test_placeholders_are_numbered_outside_quotes_only() -> None:
    assert to_postgres("SELECT ? , '?' , \"a?\" , ?") == "SELECT $1 , '?' , \"a?\" , $2"
    assert to_postgres("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1"


async def test_statements_report_the_rows_they_changed(postgres_url: str) -> None:
    async with database_at(postgres_url) as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")
            inserted = await conn.executemany(
                "INSERT INTO t VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(1, "a"), (2, "b"), (1, "again")],
            )
            updated = await conn.execute("UPDATE t SET name = ? WHERE id > ?", ("z", 1))
            returned = await conn.execute("INSERT INTO t VALUES (?, 'q') RETURNING id", (7,))
        assert (inserted.rowcount, updated.rowcount, returned.rowcount) == (2, 1, 1)
        assert [tuple(row) for row in await returned.fetchall()] == [(7,)]
        rows = await db.fetchall("SELECT id, name FROM t ORDER BY id")
        assert [(row[0], row["name"]) for row in rows] == [(1, "a"), (2, "z"), (7, "q")]


async def test_a_failed_transaction_leaves_nothing_behind(postgres_url: str) -> None:
    async with database_at(postgres_url) as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")

        async def fail_half_way() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (1,))
                raise RuntimeError("the caller failed half-way")

        with pytest.raises(RuntimeError):
            await fail_half_way()
        assert await db.fetchval("SELECT count(*) FROM t") == 0


async def test_a_read_past_its_budget_is_interrupted_and_the_pool_still_answers(
    postgres_url: str,
) -> None:
    async with database_at(postgres_url) as db:
        with pytest.raises(ReadBudgetExceeded):
            await db.fetchall_within(ReadBudget(0.1), "SELECT pg_sleep(5)")
        with pytest.raises(ReadBudgetExceeded):
            # Three reads of 60 ms that find nothing: together past the one budget.
            await db.first_fetchall_within(
                ReadBudget(0.1),
                NAPPING_READ_FINDING_NOTHING,
                [(0.06,)] * 3,
            )
        assert await db.fetchval("SELECT 1") == 1


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    with pytest.raises(DatabaseUnusable) as raised:
        await open_database("postgresql://bot:s3cret@127.0.0.1:1/papers")
    message = str(raised.value)
    assert message.startswith("DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:1/papers")
    assert "s3cret" not in message and "\n" not in message


async def test_a_schema_from_a_newer_papers_bot_is_refused(postgres_url: str) -> None:
    async with database_at(postgres_url) as db, db.transaction() as conn:
        await conn.execute("INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(DatabaseUnusable, match=r"newer papers-bot \(schema 999"):
        await open_database(postgres_url)


async def test_every_migration_is_recorded_once(postgres_url: str) -> None:
    async with database_at(postgres_url) as db:
        rows = await db.fetchall("SELECT version FROM schema_version ORDER BY version")
    assert [row[0] for row in rows] == [v for v, _, _ in load_migrations("postgresql")]


async def test_a_failing_migration_leaves_neither_half_a_schema_nor_a_bumped_version(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = load_migrations("postgresql")
    broken = (
        len(good) + 1,
        f"{len(good) + 1:04d}_broken.sql",
        "CREATE TABLE half (x INT); NOT SQL;",
    )
    async with database_at(postgres_url) as database:
        monkeypatch.setattr("bot.store.postgres.load_migrations", lambda _dialect: [*good, broken])
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await database.migrate()
        assert await database.schema_version() == len(good)
        assert await database.fetchval("SELECT to_regclass('half')") is None
