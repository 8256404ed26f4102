"""The papers store: migrations, idempotent upserts, late fields, listing days, search ranking."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.models import Paper
from bot.search import phrase
from bot.store.db import Database, ReadBudget, ReadBudgetExceeded, database_at, load_migrations
from bot.store.papers import SINGLE_PAPERS, FetchedDay, ListingDay, PaperRepo
from tests.conftest import fixture_papers

T0 = datetime(2026, 6, 12, 8, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=5)


async def test_migrations_build_every_table_from_an_empty_file(sqlite_db: Database) -> None:
    db = sqlite_db
    assert await db.schema_version() == len(load_migrations())
    tables = {row[0] for row in await db.fetchall("SELECT name FROM sqlite_master")}
    for table in ("papers", "paper_listings", "papers_fts", "subscriptions", "outbox"):
        assert table in tables
    assert await db.fetchval("PRAGMA journal_mode") == "wal"
    assert await db.fetchval("PRAGMA foreign_keys") == 1


@pytest.mark.postgresql
async def test_postgresql_papers_hold_the_fts5_words_weighted_by_field(postgres_url: str) -> None:
    async with database_at(postgres_url) as db:
        indexes = {row[0] for row in await db.fetchall("SELECT indexdef FROM pg_indexes")}
        assert "CREATE INDEX papers_search ON public.papers USING gin (search)" in indexes
        paper = fixture_papers("daily_papers_2024-08-01")[0]
        await PaperRepo(db).upsert_papers(
            [dataclasses.replace(paper, title="Generating Videos")], now=T0
        )
        vector = await db.fetchval("SELECT CAST(search AS text) FROM papers")
        assert "'gener':1A" in vector and "'video':2A" in vector  # porter stems, title = A
        await PaperRepo(db).upsert_papers([dataclasses.replace(paper, title="Grokked")], now=T1)
        vector = await db.fetchval("SELECT CAST(search AS text) FROM papers")
        assert "'grok':1A" in vector and "'video':2A" not in vector  # rewritten with the row
        titles = await db.fetchval("SELECT CAST(title_search AS text) FROM papers")
        assert titles == "'grok':1A"  # autocomplete's lean vector: the title's words alone


async def test_rerunning_migrations_changes_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    async with database_at(path) as first:
        await PaperRepo(first).upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)
    async with database_at(path) as second:
        assert await second.migrate() == []
        assert await PaperRepo(second).count() == 11


async def test_a_failing_migration_leaves_neither_half_a_schema_nor_a_bumped_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = load_migrations()
    broken = (len(good) + 1, f"{len(good) + 1:04d}_broken.sql", "CREATE TABLE half (x); NOT SQL;")
    async with database_at(tmp_path / "papers.db") as database:
        monkeypatch.setattr("bot.store.sqlite.load_migrations", lambda: [*good, broken])
        with pytest.raises(sqlite3.OperationalError):
            await database.migrate()
        assert await database.schema_version() == len(good)
        names = {row[0] for row in await database.fetchall("SELECT name FROM sqlite_master")}
        assert "half" not in names


async def test_first_upsert_stores_every_paper_with_its_fields(db: Database) -> None:
    repo = PaperRepo(db)
    papers = fixture_papers("daily_papers_2026-06-12")
    result = await repo.upsert_papers(papers, now=T0)
    assert len(result.new) == 35 and not result.updated
    stored = await repo.get(papers[0].id)
    assert stored is not None
    assert stored.title == papers[0].title
    assert stored.authors == papers[0].authors  # order kept
    assert stored.ai_keywords == papers[0].ai_keywords
    assert stored.listed_on == (date(2026, 6, 12),)
    assert stored.first_seen_at == T0 and stored.updated_at == T0


async def test_upserting_the_same_day_twice_changes_nothing(db: Database) -> None:
    repo = PaperRepo(db)
    papers = fixture_papers("daily_papers_2026-06-12")
    await repo.upsert_papers(papers, now=T0)
    again = await repo.upsert_papers(papers, now=T1)
    assert again.new == () and again.updated == () and again.unchanged == 35
    stored = await repo.get(papers[3].id)
    assert stored is not None and stored.updated_at == T0


async def test_late_fields_and_upvotes_update_but_first_seen_never_moves(db: Database) -> None:
    repo = PaperRepo(db)
    early = fixture_papers("daily_papers_2026-07-21_no_ai_summary")
    assert all(paper.ai_summary is None for paper in early)
    await repo.upsert_papers(early, now=T0)
    later = [
        dataclasses.replace(
            early[0],
            upvotes=early[0].upvotes + 40,
            ai_summary="A later summary.",
            ai_keywords=("x",),
        )
    ]
    result = await repo.upsert_papers(later, now=T1)
    assert result.updated == (early[0].id,)
    stored = await repo.get(early[0].id)
    assert stored is not None
    assert stored.upvotes == early[0].upvotes + 40
    assert stored.ai_summary == "A later summary."
    assert stored.first_seen_at == T0 and stored.updated_at == T1
    # the index follows the late keyword
    assert [hit.id for hit in await repo.search(phrase(("x",), "ai_keywords"))] == [early[0].id]


async def test_a_sparser_response_does_not_erase_known_facts(db: Database) -> None:
    repo = PaperRepo(db)
    paper = next(p for p in fixture_papers("daily_papers_2025-10-03") if p.github_repo)
    await repo.upsert_papers([paper], now=T0)
    sparse = dataclasses.replace(paper, github_repo=None, ai_summary=None, abstract="")
    await repo.upsert_papers([sparse], now=T1)
    stored = await repo.get(paper.id)
    assert stored is not None
    assert stored.github_repo == paper.github_repo
    assert stored.abstract == paper.abstract


async def test_a_second_listing_date_is_added_not_replaced(db: Database) -> None:
    repo = PaperRepo(db)
    paper = fixture_papers("daily_papers_2024-08-01")[0]
    await repo.upsert_papers([paper], now=T0)
    moved = dataclasses.replace(paper, listed_on=(date(2024, 8, 2),))
    result = await repo.upsert_papers([moved], now=T1)
    assert result.updated == (paper.id,)
    stored = await repo.get(paper.id)
    assert stored is not None and stored.listed_on == (date(2024, 8, 1), date(2024, 8, 2))
    assert [p.id for p in await repo.papers_listed_on(date(2024, 8, 2))] == [paper.id]


async def test_a_day_lists_by_upvotes_and_the_latest_day_is_known(db: Database) -> None:
    repo = PaperRepo(db)
    for name, day in (("2024-08-01", date(2024, 8, 1)), ("2025-03-17", date(2025, 3, 17))):
        papers = fixture_papers(f"daily_papers_{name}")
        await repo.upsert_papers(papers, now=T0, fetched_day=FetchedDay(day, "api", len(papers)))
    day = await repo.papers_listed_on(date(2024, 8, 1))
    assert len(day) == 11
    assert [p.upvotes for p in day] == sorted((p.upvotes for p in day), reverse=True)
    assert day[0].title == "The Llama 3 Herd of Models"
    assert await repo.latest_listing_day() == date(2025, 3, 17)
    assert await repo.papers_listed_on(date(2024, 8, 3)) == []


async def test_a_day_counts_as_fetched_only_when_fetched_whole(db: Database) -> None:
    repo = PaperRepo(db)
    thursday = date(2024, 8, 1)
    papers = fixture_papers("daily_papers_2024-08-01")
    await repo.upsert_papers(papers[:1], now=T0, single_lookup=True)  # /papers show of one
    looked_up = await repo.listing_day(thursday)
    assert looked_up == ListingDay(thursday, SINGLE_PAPERS, None, T0) and not looked_up.whole
    assert await repo.latest_listing_day() is None  # a looked-up paper's day is not offered

    await repo.upsert_papers(papers, now=T1, fetched_day=FetchedDay(thursday, "html", 11))
    await repo.upsert_papers(papers[1:2], now=T1 + timedelta(hours=1), single_lookup=True)
    assert await repo.listing_day(thursday) == ListingDay(thursday, "html", 11, T1)
    assert await repo.latest_listing_day() == thursday

    weekend = date(2024, 8, 3)
    await repo.upsert_papers([], now=T1, fetched_day=FetchedDay(weekend, "api", 0))
    assert await repo.listing_day(weekend) == ListingDay(weekend, "api", 0, T1)
    assert await repo.latest_listing_day() == thursday  # a day fetched empty has no papers


async def test_suggest_finds_papers_by_id_prefix_and_title_prefix(db: Database) -> None:
    repo = PaperRepo(db)
    await repo.upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)
    assert [p.id for p in await repo.suggest("2407.2178")] == ["2407.21783", "2407.21781"]
    assert [p.id for p in await repo.suggest("llama 3 he")] == ["2407.21783"]
    assert len(await repo.suggest("")) == 11
    assert await repo.suggest("🙂 ") == []


async def test_a_writer_cancelled_mid_transaction_does_not_block_later_writes(
    db: Database,
) -> None:
    import asyncio

    repo = PaperRepo(db)
    started = asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('x', '1')")
            started.set()
            await asyncio.Event().wait()  # cancelled here, inside the transaction

    task = asyncio.create_task(slow_writer())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await repo.upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)
    assert len(result.new) == 11
    assert await db.fetchval("SELECT value FROM bot_state WHERE key = 'x'") is None


async def test_a_writer_cancelled_while_its_commit_completes_stays_cancelled(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shutdown cancels a poll while aiosqlite's thread runs its COMMIT: the COMMIT completes
    # there, the rollback then finds no transaction, and the cancellation must still propagate
    # (were it turned into an error, the poll loop would catch it and never stop).
    import asyncio

    db = sqlite_db
    execute = db.conn.execute
    commits: list[asyncio.Future[Any]] = []

    def cancelled_during_commit(sql: str, *args: Any) -> Any:
        async def run() -> Any:
            if sql == "COMMIT":
                commits.append(asyncio.ensure_future(execute(sql, *args)))  # it still runs
                raise asyncio.CancelledError
            return await execute(sql, *args)

        return run()

    monkeypatch.setattr(db.conn, "execute", cancelled_during_commit)
    with pytest.raises(asyncio.CancelledError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('x', '1')")
    monkeypatch.undo()
    await asyncio.gather(*commits)
    assert await db.fetchval("SELECT value FROM bot_state WHERE key = 'x'") == "1"
    await PaperRepo(db).upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)


async def test_a_writer_cancelled_while_its_begin_waits_leaves_no_transaction_in_the_way(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shutdown cancels a writer whose BEGIN still waits in aiosqlite's queue: it sees no
    # transaction to roll back, then its BEGIN runs. The next writer (the engine giving its
    # claims back at stop) must still write, not fail "within a transaction".
    import asyncio

    db = sqlite_db
    execute = db.conn.execute
    begins: list[asyncio.Future[Any]] = []

    def cancelled_during_begin(sql: str, *args: Any) -> Any:
        async def run() -> Any:
            if sql == "BEGIN IMMEDIATE" and not begins:
                begins.append(asyncio.ensure_future(execute(sql, *args)))  # it runs later
                raise asyncio.CancelledError
            return await execute(sql, *args)

        return run()

    monkeypatch.setattr(db.conn, "execute", cancelled_during_begin)
    with pytest.raises(asyncio.CancelledError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('x', '1')")
    monkeypatch.undo()
    await asyncio.sleep(0)  # the stray BEGIN reaches aiosqlite's queue, then the next writer
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO bot_state (key, value) VALUES ('y', '2')")
    await asyncio.gather(*begins)
    assert await db.fetchval("SELECT group_concat(key) FROM bot_state") == "y"


async def test_two_processes_migrating_one_fresh_file_both_succeed(tmp_path: Path) -> None:
    import asyncio

    from bot.store.db import open_database

    path = tmp_path / "papers.db"
    first, second = await asyncio.gather(open_database(path), open_database(path))
    try:
        assert (
            await first.schema_version() == await second.schema_version() == len(load_migrations())
        )
    finally:
        await first.close()
        await second.close()


async def test_search_ranks_only_the_most_recent_matches_when_there_are_many(
    db: Database,
) -> None:
    from bot.models import Paper

    repo = PaperRepo(db)
    # stored oldest first: the best match (word in the title) is the oldest paper
    best = Paper(id="2401.00001", title="Zeta functions", abstract="Numbers.")
    others = [
        Paper(id=f"2401.0000{n}", title=f"Paper {n}", abstract="A zeta appears here.")
        for n in range(2, 6)
    ]
    await repo.upsert_papers([best], now=T0)
    await repo.upsert_papers(others, now=T1)
    everything = [hit.id for hit in await repo.search(phrase(("zeta",)))]
    assert everything[0] == "2401.00001" and len(everything) == 5
    recent = [hit.id for hit in await repo.search(phrase(("zeta",)), window=3)]
    assert sorted(recent) == ["2401.00003", "2401.00004", "2401.00005"]


NO_TIME = ReadBudget(seconds=0, check_every=1)  # interrupts a read at its first instruction


async def test_a_read_past_its_budget_is_interrupted_and_the_connection_carries_on(
    db: Database,
) -> None:
    repo = PaperRepo(db)
    await repo.upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)
    with pytest.raises(ReadBudgetExceeded):
        await repo.search(phrase(("llama",)), budget=NO_TIME)
    with pytest.raises(ReadBudgetExceeded):
        await db.fetchall_within(NO_TIME, "SELECT count(*) FROM papers")
    # the handler went with the read: later reads, budgeted or not, finish
    assert [hit.id for hit in await repo.search(phrase(("herd",)))] == ["2407.21783"]
    assert [tuple(row) for row in await db.fetchall_within(ReadBudget(60), "SELECT 1")] == [(1,)]
    assert await repo.count() == 11


async def test_an_interrupted_read_never_interrupts_or_rolls_back_a_write(db: Database) -> None:
    repo = PaperRepo(db)
    papers = [
        Paper(id=f"2501.{n:05d}", title=f"Paper {n} on zeta", abstract="Zeta " * 50)
        for n in range(400)
    ]
    inside_open_transaction: list[BaseException] = []

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('a', '1')")
            try:  # a read that runs between this transaction's statements
                await db.fetchall_within(NO_TIME, "SELECT count(*) FROM papers")
            except ReadBudgetExceeded as exc:
                inside_open_transaction.append(exc)
            await conn.execute("INSERT INTO bot_state (key, value) VALUES ('b', '2')")

    async def reader() -> int:
        interrupted = 0
        for _ in range(50):  # interleaved with the upserts' statements, one thread hop each
            try:
                await repo.search(phrase(("zeta",)), budget=NO_TIME)
            except ReadBudgetExceeded:
                interrupted += 1
        return interrupted

    async with asyncio.TaskGroup() as group:  # a failure cancels the rest: nothing left running
        group.create_task(repo.upsert_papers(papers[:200], now=T0))
        reads = group.create_task(reader())
        group.create_task(writer())
        group.create_task(repo.upsert_papers(papers[200:], now=T0))
    assert reads.result() == 50 and len(inside_open_transaction) == 1
    assert await repo.count() == 400
    rows = await db.fetchall("SELECT key, value FROM bot_state ORDER BY key")
    assert [tuple(row) for row in rows] == [("a", "1"), ("b", "2")]


async def query_plans(db: Database, run: Callable[[], Awaitable[object]]) -> list[str]:
    """The EXPLAIN QUERY PLAN lines of every statement ``run`` sends to SQLite."""
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    try:
        await run()
    finally:
        await db.conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        plans += [row[3] for row in await db.fetchall("EXPLAIN QUERY PLAN " + sql)]
    return plans


@pytest.mark.postgresql
@pytest.mark.parametrize("kind", ["search", "autocomplete", "did you mean"])
async def test_postgresql_takes_the_newest_matches_from_the_gin_index_never_a_rowid_walk(
    postgres_url: str, kind: str
) -> None:
    """Walking papers_rowid_key backwards, or scanning papers, tests every paper's vector
    (300-400 ms at 30k papers); the planner picked them whenever it could."""
    async with database_at(postgres_url) as db:
        repo = PaperRepo(db)
        await repo.upsert_papers(fixture_papers("daily_papers_2024-08-01"), now=T0)
        sent: list[tuple[str, Any]] = []
        read = db.fetchall_within

        async def recorded(budget: ReadBudget, sql: str, params: Any = ()) -> Any:
            sent.append((sql, params))
            return await read(budget, sql, params)

        db.fetchall_within = recorded  # type: ignore[method-assign]
        if kind == "search":
            await repo.search(phrase(("model",)))
        elif kind == "autocomplete":
            await repo.suggest("language mod")
        else:
            await repo.texts_matching(phrase(("model",)))
        body = await db.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'newest_matches'")
        # newest_matches' body, as PostgreSQL plans it: without the values, seqscan off.
        body = body.replace("@@ query", "@@ CAST(? AS tsquery)").replace("LIMIT n", "LIMIT ?")
        assert len(sent) == 1
        sql, params = sent[0]
        if kind != "autocomplete":
            assert "Function Scan on newest_matches" in await plan_on(db, sql, params)
            sql, params = body, params[:2]
        index = "papers_title_search" if kind == "autocomplete" else "papers_search"
        assert f"Bitmap Index Scan on {index}" in await plan_on(db, sql, params, "enable_seqscan")
        # Bitmaps priced out too: no plan is left that walks the rowid index instead.
        walk = await plan_on(db, sql, params, "enable_seqscan", "enable_bitmapscan")
        assert "Index Scan Backward" not in walk, walk


async def plan_on(db: Database, sql: str, params: Any, *priced_out: str) -> str:
    """PostgreSQL's generic plan for ``sql``, with the ``priced_out`` plan kinds off."""
    async with db.transaction() as conn:
        for setting in priced_out:
            await conn.execute(f"SET LOCAL {setting} = off")
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        rows = await conn.execute_fetchall("EXPLAIN " + sql, params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("text", ["", "t", "L", "ll", "é", "2"])
async def test_autocomplete_on_short_input_walks_indexes_never_the_full_text_or_a_sort(
    sqlite_db: Database, text: str
) -> None:
    db = sqlite_db
    repo = PaperRepo(db)
    for name in ("daily_papers_2024-08-01", "daily_papers_2025-03-17", "daily_papers_2026-06-12"):
        await repo.upsert_papers(fixture_papers(name), now=T0)
    for analysed in (False, True):  # with and without the statistics PRAGMA optimize keeps
        if analysed:
            # A large store's statistics: ANALYZE of a tiny file makes every scan look cheap.
            await db.conn.executescript(
                "ANALYZE;"
                " UPDATE sqlite_stat1 SET stat = '100000' || substr(stat, instr(stat || ' ', ' '));"
                " ANALYZE sqlite_schema;"
            )
        plans = await query_plans(db, lambda: repo.suggest(text))
        assert plans, "suggest ran no query"
        for line in plans:
            assert "papers_fts" not in line and "TEMP B-TREE" not in line, plans
            assert line.startswith(("SEARCH", "CORRELATED SCALAR SUBQUERY")) or line == (
                "SCAN l USING COVERING INDEX paper_listings_by_day"
            ), plans


async def test_autocomplete_offers_the_latest_day_first_and_filters_short_words(
    db: Database,
) -> None:
    repo = PaperRepo(db)
    older = fixture_papers("daily_papers_2024-08-01")
    latest = fixture_papers("daily_papers_2026-06-12")
    await repo.upsert_papers(older, now=T0)
    await repo.upsert_papers(latest, now=T1)

    nothing_typed = await repo.suggest("", limit=25)
    assert [p.id for p in nothing_typed] == [
        p.id for p in sorted(latest, key=lambda p: (-p.upvotes, p.id))
    ][:25]

    one_letter = await repo.suggest("l")
    assert one_letter
    assert all(
        any(word.lower().startswith("l") for word in re.findall(r"[^\W_]+", p.title))
        for p in one_letter
    )
    assert "2407.21783" in [p.id for p in await repo.suggest("Ll")]  # The Llama 3 Herd
    assert [p.id for p in await repo.suggest("lla")] == ["2407.21783"]  # a full-text prefix
