"""Search: user text becomes a safe FTS5 query; ranking on real fixture data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog import Catalog
from bot.errors import InvalidQuery, QueryTooBroad
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.search import MAX_TERMS, Match, build_fts_query, highlight
from bot.store.db import Database, ReadBudget
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.conftest import fixture_papers

FIXTURE_DAYS = (
    "daily_papers_2024-05-27",
    "daily_papers_2024-08-01",
    "daily_papers_2025-03-17",
    "daily_papers_2025-10-03",
    "daily_papers_2026-06-12",
)

HOSTILE = [
    '"',
    '""',
    "NEAR(",
    "NEAR(a b, 3)",
    "AND",
    "OR OR OR",
    "NOT",
    "a AND",
    "* *",
    "-",
    "--x",
    ":",
    "title:",
    "x:y:z",
    "^",
    "(",
    ")",
    "{a b}",
    "'; DROP TABLE papers; --",
    "🙂🔖🚀",
    "a" * 1000,
    "word " * 400,
    "\x00\x01\x02",
    "ÄÖÜ ß ﬁ",
    "   ",
]


class NoSource:
    async def fetch_daily(self, day: object) -> DailyPage:
        raise AssertionError("search never fetches")

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


async def make_catalog(db: Database, **options: ReadBudget) -> Catalog:
    repo = PaperRepo(db)
    for name in FIXTURE_DAYS:
        await repo.upsert_papers(fixture_papers(name), now=datetime(2026, 1, 1, tzinfo=UTC))
    return Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)), **options)


# A budget every read exceeds at its first SQLite instruction: "too slow" without a clock.
NO_TIME = ReadBudget(seconds=0, check_every=1)
PREFIXES = [a + b for a in "tcipsmrdaeflgnbowhu" for b in "aeiouhrnlt"]  # th, co, in, re, …


def test_words_are_quoted_so_operators_are_plain_text() -> None:
    query = build_fts_query('NEAR(diffusion "large language" -vision')
    assert query.strict.fts5 == '("near diffusion" AND "large language") NOT "vision"'
    assert query.strict.tsquery == "('near' <-> 'diffus') & ('larg' <-> 'languag') & !'vision'"


def test_or_prefix_and_field_filters_are_understood() -> None:
    assert build_fts_query("llama OR mistral").strict.fts5 == '("llama" OR "mistral")'
    assert build_fts_query("transform*").strict.fts5 == '"transform"*'
    assert build_fts_query("author:touvron").strict.fts5 == 'authors : "touvron"'


def test_postgresql_is_asked_the_same_stems_prefixes_and_fields() -> None:
    assert build_fts_query("llama OR mistral").strict.tsquery == "('llama' | 'mistral')"
    assert build_fts_query("transform*").strict.tsquery == "'transform':*"
    assert build_fts_query("generat*").strict.tsquery == "'gener':*"
    assert build_fts_query("author:touvron").strict.tsquery == "'touvron':C"
    assert build_fts_query("title:video-models").strict.tsquery == "('video':A <-> 'model':A)"


@pytest.mark.parametrize("text", ["", "   ", "🙂", '""', "-only", "NOT this"])
def test_blank_or_exclusion_only_text_has_nothing_to_search_for(text: str) -> None:
    with pytest.raises(InvalidQuery):
        build_fts_query(text)


async def test_a_distinctive_phrase_finds_its_paper_first(db: Database) -> None:
    catalog = await make_catalog(db)
    result = await catalog.search("Llama 3 herd")
    assert result.hits[0].paper.id == "2407.21783"
    # a phrase from deep inside one abstract
    papers = fixture_papers("daily_papers_2026-06-12")
    target = papers[0]
    phrase = "patch-based memory paradigm"
    assert phrase in target.abstract
    result = await catalog.search(f'"{phrase}"')
    assert result.hits[0].paper.id == target.id


async def test_title_matches_rank_above_abstract_matches(db: Database) -> None:
    catalog = await make_catalog(db)
    hits = (await catalog.search("agents")).hits
    assert len(hits) > 3
    assert "agent" in hits[0].paper.title.lower()


async def test_snippets_mark_the_matched_words(db: Database) -> None:
    catalog = await make_catalog(db)
    hit = (await catalog.search("EvoArena")).hits[0]
    assert "\x02EvoArena\x03" in hit.snippet


async def test_no_paper_with_every_word_falls_back_to_any_word(db: Database) -> None:
    catalog = await make_catalog(db)
    result = await catalog.search("llama zzzunknownword")
    assert result.relaxed and result.hits[0].paper.id == "2407.21783"


async def test_an_arxiv_id_or_link_finds_that_paper_first(db: Database) -> None:
    catalog = await make_catalog(db)
    result = await catalog.search("https://arxiv.org/abs/2407.21783v2")
    assert result.hits[0].paper.id == "2407.21783"


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_input_never_reaches_sqlite_as_an_error(db: Database, text: str) -> None:
    catalog = await make_catalog(db)
    try:
        result = await catalog.search(text)
    except InvalidQuery as exc:
        message = exc.user_message
        assert message
    else:
        assert isinstance(result.hits, tuple)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_builds_a_query_sqlite_accepts(text: str) -> None:
    import sqlite3

    try:
        query = build_fts_query(text)
    except InvalidQuery:
        return
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, ai_keywords, abstract, authors)")
    conn.execute("INSERT INTO t VALUES ('a b', 'c', 'd e', 'f')")
    for expression in filter(None, (query.strict, query.relaxed)):
        conn.execute("SELECT * FROM t WHERE t MATCH ?", (expression.fts5,)).fetchall()


def test_highlight_marks_query_words_around_the_first_match() -> None:
    text = " ".join(f"w{i}" for i in range(40)) + " Diffusion models, dénoising. " + "tail " * 30
    snippet = highlight(text, build_fts_query("diffusion denoising"))
    assert "\x02Diffusion\x03" in snippet
    assert "\x02dénoising\x03." in snippet  # diacritics folded, punctuation kept outside
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet.split()) <= 24


def test_highlight_understands_prefixes_and_falls_back_to_the_start() -> None:
    assert "\x02Transformers\x03" in highlight("Transformers rule.", build_fts_query("transform*"))
    assert highlight("Nothing here matches.", build_fts_query("zebra")) == "Nothing here matches."
    assert highlight("", build_fts_query("zebra")) == ""


def terms_in(expression: Match) -> int:
    return expression.fts5.count('"') // 2


@pytest.mark.parametrize(
    "text",
    [
        " OR ".join(f"{prefix}*" for prefix in PREFIXES[:200]),  # the reported hostile shape
        " ".join(f"word{n}" for n in range(MAX_TERMS + 1)),
        "llama " + " ".join(f"-not{n}" for n in range(MAX_TERMS)),  # exclusions count
        " | ".join(f'"phrase {n}"' for n in range(MAX_TERMS + 1)),
    ],
    ids=["190 OR'd prefixes", "25 words", "1 word 24 exclusions", "25 OR'd phrases"],
)
def test_more_terms_than_the_cap_are_refused_saying_the_limit(text: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        build_fts_query(text)
    message = refused.value.user_message
    assert f"at most {MAX_TERMS}" in message and "terms" in message
    assert "most telling words" in message  # says how to narrow it


def test_a_query_at_the_cap_keeps_every_term_in_both_expressions() -> None:
    words = [f"word{n}" for n in range(MAX_TERMS - 2)]
    query = build_fts_query(" ".join(words) + ' OR "a phrase" -left')
    assert terms_in(query.strict) == MAX_TERMS
    assert query.relaxed is not None and terms_in(query.relaxed) == MAX_TERMS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "nothing to search for"),
        ("x " * 600, "at most"),  # over 1000 characters, 500 terms
        ("OR AND NOT | & + - OR", "nothing to search for"),
        (" OR ".join(f"{prefix}*" for prefix in (PREFIXES * 2)[:200]), "at most"),
        ('"llama herd', None),  # unbalanced quote: searched without it
        ('llama "" " herd"" "', None),
    ],
    ids=["empty", "huge", "all operators", "200 OR'd prefixes", "unbalanced", "stray quotes"],
)
async def test_bad_input_gets_an_answer_or_a_sentence(
    db: Database, text: str, expected: str | None
) -> None:
    catalog = await make_catalog(db)
    if expected is None:
        assert (await catalog.search(text)).hits[0].paper.id == "2407.21783"
        return
    with pytest.raises(InvalidQuery, match=expected):
        await catalog.search(text)


async def test_a_search_past_its_budget_is_stopped_with_a_sentence_and_the_db_still_works(
    db: Database,
) -> None:
    catalog = await make_catalog(db, search_budget=NO_TIME)
    with pytest.raises(QueryTooBroad, match="too broad to finish quickly: add a word"):
        await catalog.search("llama")
    with pytest.raises(QueryTooBroad):
        await catalog.search("llama zzzunknownword")  # the relaxed retry is bounded too
    # an arXiv id still finds its paper; the full-text part is dropped
    result = await catalog.search("2407.21783 diffusion")
    assert [hit.paper.id for hit in result.hits] == ["2407.21783"]
    # the same connection answers normally afterwards
    healthy = Catalog(catalog.papers, catalog.ingest)
    assert (await healthy.search("llama herd")).hits[0].paper.id == "2407.21783"


async def test_autocomplete_past_its_budget_offers_nothing_instead_of_failing(
    db: Database,
) -> None:
    catalog = await make_catalog(db, search_budget=NO_TIME)
    assert await catalog.suggest("llama her") == []
    assert len(await catalog.suggest("")) == 25  # no full-text read: not bounded by it
