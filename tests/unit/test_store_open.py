"""Opening the store: concurrent openers of one fresh file, and places SQLite cannot use."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import SettingsError
from bot.store.db import DatabaseUnusable, load_migrations, open_database

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
