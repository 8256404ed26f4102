"""Search quality on the evaluation set (tests/fixtures/search_eval.json), before and after stems.

    python bench/search_quality.py

Stores the recorded days (not the week/month files, which repeat them), then for every query asks
whether its paper is the first result (top-1) or among the first five (top-5):
    before: the unicode61 index (no stemming), no suggestions — the index as it was before
            migration 0007, rebuilt in place here;
    after:  the porter index, and for a query that finds nothing, the "did you mean" search.
Ends with one line per mode:  quality: mode=… top1=… top5=… cases=…  and the misses.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.catalog import Catalog  # noqa: E402
from bot.errors import PaperBotError  # noqa: E402
from bot.ingest import IngestService  # noqa: E402
from bot.models import DailyPage, Paper  # noqa: E402
from bot.store.db import Database, database_at  # noqa: E402
from bot.store.papers import PaperRepo  # noqa: E402
from bot.store.state import StateRepo  # noqa: E402
from tests.conftest import fixture_papers  # noqa: E402

EVAL_SET = ROOT / "tests" / "fixtures" / "search_eval.json"
API_FIXTURES = ROOT / "tests" / "fixtures" / "hf" / "api"

# The index as migration 0001 made it: words as typed, no stems. Bench-only: it recreates the old
# state to measure against.
UNSTEMMED = (
    "DROP TABLE papers_fts",
    "CREATE VIRTUAL TABLE papers_fts USING fts5 (title, ai_keywords, abstract, authors,"
    " content = 'papers', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')",
)


class NoSource:
    async def fetch_daily(self, day: object) -> DailyPage:
        raise RuntimeError("the evaluation never fetches")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


@dataclass(frozen=True)
class Quality:
    mode: str
    top1: float
    top5: float
    cases: int
    misses: tuple[str, ...]


def load_cases() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = json.loads(EVAL_SET.read_text("utf-8"))["cases"]
    return cases


def fixture_days() -> list[str]:
    names = sorted(path.stem for path in API_FIXTURES.glob("daily_papers_*.json"))
    return [name for name in names if "_week_" not in name and "_month_" not in name]


async def store_fixtures(db: Database) -> PaperRepo:
    repo = PaperRepo(db)
    for name in fixture_days():
        await repo.upsert_papers(fixture_papers(name), now=datetime(2026, 1, 1, tzinfo=UTC))
    return repo


async def found_ids(catalog: Catalog, query: str, *, follow: bool) -> list[str]:
    try:
        result = await catalog.search(query)
        if follow and not result.hits and result.suggestion:
            result = await catalog.search(result.suggestion)
    except PaperBotError:
        return []
    return [hit.paper_id for hit in result.hits]


async def evaluate(catalog: Catalog, mode: str, *, follow: bool) -> Quality:
    """Top-1 and top-5 shares over the evaluation set."""
    cases = load_cases()
    top1 = top5 = 0
    misses = []
    for case in cases:
        ids = await found_ids(catalog, case["query"], follow=follow)
        top1 += ids[:1] == [case["id"]]
        top5 += case["id"] in ids[:5]
        if case["id"] not in ids[:5]:
            misses.append(f"{case['kind']}: {case['query']!r}")
    count = len(cases)
    return Quality(mode, top1 / count, top5 / count, count, tuple(misses))


async def measure(path: Path, *, stemmed: bool) -> Quality:
    async with database_at(path) as db:
        repo = await store_fixtures(db)
        if not stemmed:
            async with db.transaction() as conn:
                for statement in UNSTEMMED:
                    await conn.execute(statement)
        catalog = Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
        mode = "after" if stemmed else "before"
        return await evaluate(catalog, mode, follow=stemmed)


async def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        results = [
            await measure(Path(workdir) / "before.db", stemmed=False),
            await measure(Path(workdir) / "after.db", stemmed=True),
        ]
    for quality in results:
        print(f"{quality.mode} misses (not in the top 5):")
        for miss in quality.misses:
            print(f"  {miss}")
    for quality in results:
        print(
            f"quality: mode={quality.mode} top1={quality.top1:.2f} top5={quality.top5:.2f}"
            f" cases={quality.cases}"
        )


if __name__ == "__main__":
    asyncio.run(main())
