"""Fixtures shared by every tier: a migrated SQLite file in a temp dir and the recorded HF data.

Every test must also close what it opened: a thread still running after it (an aiosqlite
connection left open, say) fails that test, instead of keeping pytest from ever exiting.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

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


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
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
