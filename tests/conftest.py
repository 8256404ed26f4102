"""Fixtures shared by every tier: a migrated SQLite file in a temp dir and the recorded HF data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.hf.parse import parse_daily_json
from bot.models import Paper
from bot.store.db import Database, database_at

FIXTURES = Path(__file__).parent / "fixtures"
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
