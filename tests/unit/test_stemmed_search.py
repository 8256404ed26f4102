"""Stemmed search, highlighting by stem and "did you mean" on the recorded fixture papers."""

from __future__ import annotations

import glob
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import Catalog
from bot.errors import InvalidQuery, QueryTooBroad
from bot.porter import stem
from bot.search import MATCH_END, MATCH_START, build_fts_query, fold, highlight
from bot.spelling import edit_distance
from bot.store.db import Database, ReadBudget
from tests.unit.test_search import HOSTILE, make_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
async def catalog(db: Database) -> Catalog:
    return await make_catalog(db)


def marked(snippet: str) -> list[str]:
    return re.findall(f"{MATCH_START}(.*?){MATCH_END}", snippet)


def test_the_python_stemmer_agrees_with_fts5_on_every_fixture_word() -> None:
    words: set[str] = set()
    for name in glob.glob(str(FIXTURES / "hf" / "**" / "*.json"), recursive=True):
        words.update(fold(w) for w in re.findall(r"[^\W_]+", Path(name).read_text("utf-8")))
    ordered = sorted(words)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(ordered, 1))
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    by_sqlite = {ordered[doc - 1]: term for term, doc in conn.execute("SELECT term, doc FROM v")}
    conn.close()
    assert len(ordered) > 10_000
    assert [w for w in ordered if stem(w) != by_sqlite[w]] == []


async def test_plural_finds_singular_titles(catalog: Catalog) -> None:
    result = await catalog.search("diffusion transformers")
    titles = [hit.paper.title for hit in result.hits]
    assert not result.relaxed
    tora = "Tora: Trajectory-oriented Diffusion Transformer"
    assert any(title.startswith(tora) for title in titles)


@pytest.mark.parametrize(
    ("query", "paper_id"),
    [
        ("grokked transformer", "2405.15071"),  # title says "Grokked Transformers"
        ("grokking transformers reasoner", "2405.15071"),
        ("herding llamas", "2407.21783"),  # "The Llama 3 Herd of Models"
    ],
)
async def test_word_forms_find_the_paper(catalog: Catalog, query: str, paper_id: str) -> None:
    result = await catalog.search(query)
    assert paper_id in [hit.paper_id for hit in result.hits[:3]]
    assert result.suggestion is None


def test_highlighting_marks_every_form_of_a_stemmed_word() -> None:
    text = "Transformers transform; a transformer transforming the transformed. Unrelated words."
    assert marked(highlight(text, build_fts_query("transformer"))) == [
        "Transformers",
        "transform",
        "transformer",
        "transforming",
        "transformed",
    ]


def test_highlighting_a_prefix_marks_words_whose_stem_starts_with_its_stem() -> None:
    text = "Generated videos and generative models; the general public; a genome."
    query = build_fts_query("generat*")
    assert marked(highlight(text, query)) == ["Generated", "generative", "general"]


async def test_prefix_search_matches_stems(catalog: Catalog) -> None:
    result = await catalog.search("grokk*")
    assert "2405.15071" in [hit.paper_id for hit in result.hits]
    assert marked(result.hits[0].snippet)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("difusion", "diffusion"),
        ("transfomer", "transformer"),
        ("transfomers", "transformers"),
        ("halucination", "hallucination"),
        ("segmantation", "segmentation"),
        ("gaussian splating", "gaussian splatting"),
        ("diffusion transfomer", "diffusion transformer"),
    ],
)
async def test_typos_get_a_suggestion_that_finds_papers(
    catalog: Catalog, typed: str, meant: str
) -> None:
    result = await catalog.search(typed)
    assert result.suggestion == meant
    assert (await catalog.search(meant)).hits


@pytest.mark.parametrize("query", ["diffusion", "transformer", "video generation", "Llama"])
async def test_a_correct_query_gets_no_suggestion(catalog: Catalog, query: str) -> None:
    result = await catalog.search(query)
    assert result.hits and result.suggestion is None


async def test_gibberish_gets_no_suggestion(catalog: Catalog) -> None:
    result = await catalog.search("zzxqvw qqqqrt")
    assert not result.hits and result.suggestion is None


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_input_with_suggestions_stays_a_friendly_answer(
    catalog: Catalog, query: str
) -> None:
    try:
        result = await catalog.search(query)
    except (InvalidQuery, QueryTooBroad):
        return  # a refusal with a sentence: fine
    assert result.suggestion is None or len(result.suggestion) <= 1000


async def test_correcting_typos_stays_within_the_search_budget(db: Database) -> None:
    catalog = await make_catalog(db, search_budget=ReadBudget(seconds=0, check_every=1))
    with pytest.raises(QueryTooBroad):
        await catalog.search("difusion transfomer")


def test_edit_distance_is_bounded() -> None:
    assert edit_distance("transfom", "transform", 2) == 1
    assert edit_distance("tarnsform", "transform", 2) == 1  # a swap is one edit
    assert edit_distance("abc", "xyzabc", 2) == 3  # past the bound: bound + 1
    assert edit_distance("a" * 60, "b" * 60, 2) == 3


@pytest.mark.parametrize(
    ("typed", "title_start"),
    [
        ("diffusi", "Tora: Trajectory-oriented Diffusion"),  # stored stem "diffus"
        ("Trajectory-oriented Diffusion Transfo", "Tora: Trajectory-oriented Diffusion"),
        ("Grokke", "Grokked Transformers"),  # stored stem "grok"
    ],
)
async def test_autocomplete_finds_titles_by_a_partly_typed_word(
    catalog: Catalog, typed: str, title_start: str
) -> None:
    titles = [paper.title for paper in await catalog.suggest(typed)]
    assert any(title.startswith(title_start) for title in titles), titles


def _osa(a: str, b: str) -> int:
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[-1][-1]


@given(st.text("abc", max_size=8), st.text("abc", max_size=8), st.integers(1, 2))
def test_edit_distance_matches_the_full_table(a: str, b: str, bound: int) -> None:
    assert edit_distance(a, b, bound) == min(_osa(a, b), bound + 1)
