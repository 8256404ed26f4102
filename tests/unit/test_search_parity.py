"""The same search on both databases: the evaluation set's queries (and hostile ones) match the
same papers on SQLite's FTS5 and PostgreSQL's tsvector, with the same refusals, any-word
fallbacks and "did you mean", and the evaluation set's first result (of every word) is the same.

Ranking is bm25 on SQLite and ts_rank on PostgreSQL, so the order below the first result may
differ (it does for 14 of these 64 queries).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from search_quality import NoSource, load_cases, store_fixtures

from bot.catalog import Catalog
from bot.errors import PaperBotError
from bot.ingest import IngestService
from bot.store.db import database_at
from bot.store.state import StateRepo

pytestmark = pytest.mark.postgresql

ALL = 500  # more than any query here matches in the fixtures
EVALUATED = {case["query"] for case in load_cases()}

HOSTILE = ["c++", "gpt-4", '"unbalanced', "diffusion -video", "NOT video", "generat* OR diffus*"]
QUERIES = (
    [case["query"] for case in load_cases()]
    + HOSTILE
    + [
        "title:diffusion",
        "author:zhang video",
        "keyword:reinforcement learning",
        '"large language models" -vision',
        "llama OR mistral",
        "transform*",
    ]
)


async def answers(catalog: Catalog, query: str) -> tuple[object, ...]:
    """(first id, every id found, whether they are the any-word ones, the suggestion), or the
    refusal's sentence."""
    try:
        result = await catalog.search(query, limit=ALL)
    except PaperBotError as exc:
        return ("refused", exc.user_message)
    ids = [hit.paper_id for hit in result.hits]
    assert len(ids) < ALL  # every match, not the best few
    # Any-word results rank on how many words each has: bm25 and ts_rank weigh that differently.
    first = [] if result.relaxed else ids[:1]
    return (first, sorted(ids), result.relaxed, result.suggestion)


@pytest.fixture
async def catalogs(tmp_path: Path, postgres_url: str) -> AsyncIterator[tuple[Catalog, Catalog]]:
    async with database_at(tmp_path / "papers.db") as lite, database_at(postgres_url) as pg:
        made = []
        for db in (lite, pg):
            repo = await store_fixtures(db)
            made.append(Catalog(repo, IngestService(NoSource(), repo, StateRepo(db))))
        yield made[0], made[1]


async def test_every_query_matches_the_same_papers_on_both(
    catalogs: tuple[Catalog, Catalog],
) -> None:
    lite, pg = catalogs
    differ = {}
    for query in QUERIES:
        on_sqlite, on_postgres = await answers(lite, query), await answers(pg, query)
        if query not in EVALUATED:  # the first result is compared for the evaluation set
            on_sqlite, on_postgres = on_sqlite[1:], on_postgres[1:]
        if on_sqlite != on_postgres:
            differ[query] = (on_sqlite, on_postgres)
    assert not differ, differ
