"""Similar papers on the recorded fixtures: the neighbours a researcher would expect, and why."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from bot.catalog import Catalog
from bot.errors import PaperNotFound
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.search import fold
from bot.similar import (
    MAX_TERMS,
    POSTINGS_BUDGET,
    SimilarService,
    candidate_terms,
    choose_terms,
    price_terms,
)
from bot.store.db import Database
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo
from bot.store.state import StateRepo
from tests.conftest import FIXTURES, HF_API, fixture_papers

EVAL_SET = FIXTURES / "similar_eval.json"
TOP = 5


class NoSource:
    """Hugging Face knows no paper beyond the store (an unknown id stays unknown)."""

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day=day, papers=())

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


def all_fixture_papers() -> list[Paper]:
    papers: list[Paper] = []
    for path in sorted(HF_API.glob("daily_papers_*.json")):
        if "_week_" in path.name or "_month_" in path.name:
            continue  # a week's or month's list: the same papers as the days again
        papers.extend(fixture_papers(path.name))
    return papers


@pytest.fixture
async def service(db: Database) -> SimilarService:
    repo = PaperRepo(db)
    await repo.upsert_papers(all_fixture_papers())
    return SimilarService(
        SimilarRepo(db), Catalog(repo, IngestService(NoSource(), repo, StateRepo(db)))
    )


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold(text)))


async def test_papers_on_the_same_method_come_first_with_what_they_share(
    service: SimilarService,
) -> None:
    result = await service.similar("2509.24203")  # Group-Relative REINFORCE … (GRPO)
    assert result.paper.id == "2509.24203"
    top = [neighbour.paper.id for neighbour in result.neighbours]
    assert len(top) == TOP
    # N-GRPO and the GRPO-trained VLA-R1 and hallucination-span papers
    assert {"2606.10768", "2510.01623", "2510.02173"} <= set(top)
    first = result.neighbours[0]
    assert first.why().startswith("shares: ")
    assert "grpo" in first.shared


async def test_shared_authors_are_named(service: SimilarService) -> None:
    result = await service.similar("2503.11069")  # API Agents vs. GUI Agents
    first = result.neighbours[0]
    assert first.paper.id == "2606.11662"  # TreeSeeker, by two of the same authors
    assert first.why() == "same authors: Qingwei Lin, Dongmei Zhang"


async def test_every_reason_is_a_real_word_or_keyword_of_both_papers(
    service: SimilarService,
) -> None:
    for paper_id in ("2509.24203", "2510.02245", "2407.21783", "2503.05689"):
        result = await service.similar(paper_id)
        seed_words = words(result.paper.title + " " + result.paper.abstract)
        seed_words |= words(" ".join(result.paper.ai_keywords))
        for neighbour in result.neighbours:
            other = neighbour.paper
            other_words = words(" ".join((other.title, other.abstract, *other.ai_keywords)))
            for label in neighbour.shared:
                assert words(label) <= seed_words, (paper_id, label)
                assert {w.rstrip("s") for w in words(label)} <= {
                    w.rstrip("s") for w in other_words
                }, (other.id, label)
            for author in neighbour.authors:
                assert author in result.paper.authors and author in other.authors


async def test_papers_sharing_keywords_or_authors_rank_above_unrelated_ones(
    service: SimilarService,
) -> None:
    """The evaluation set bench/similar.py reports on: the same floor, kept by the suite."""
    queries = json.loads(EVAL_SET.read_text(encoding="utf-8"))["queries"]
    assert len(queries) > 50
    scores = []
    for query in queries:
        related = {entry["id"] for entry in query["related"]}
        result = await service.similar(query["paper"], limit=TOP)
        found = [neighbour.paper.id for neighbour in result.neighbours]
        assert query["paper"] not in found  # never the paper itself
        scores.append(len(set(found) & related) / min(TOP, len(related)))
    # Measured 0.585 (bench/similar.py); the most upvoted papers score 0.
    assert sum(scores) / len(scores) >= 0.5


async def test_an_unknown_paper_gets_a_clear_error(service: SimilarService) -> None:
    with pytest.raises(PaperNotFound, match=r"no paper 2501\.99999"):
        await service.similar("2501.99999")


async def test_a_paper_without_abstract_finds_neighbours_by_title_and_keywords(
    db: Database, service: SimilarService
) -> None:
    bare = Paper(
        id="2612.00001",
        title="Group Relative Policy Optimization for verifiable rewards",
        abstract="",
        ai_keywords=("GRPO",),
        listed_on=(date(2026, 12, 1),),
    )
    await PaperRepo(db).upsert_papers([bare])
    result = await service.similar(bare.id)
    assert result.neighbours
    assert all(neighbour.paper.id != bare.id for neighbour in result.neighbours)
    assert "grpo" in result.neighbours[0].shared


async def test_a_huge_abstract_asks_a_bounded_query(service: SimilarService) -> None:
    vocabulary = sorted({w for p in all_fixture_papers() for w in words(p.abstract) if len(w) > 3})
    huge = Paper(
        id="2612.00002",
        title="Everything at once",
        abstract=" ".join(vocabulary * 20),  # every stored word, many times: ~1 MB
    )
    counts = await service.repo.document_counts(
        [w for term in candidate_terms(huge) for w in term.words]
    )
    terms = choose_terms(price_terms(candidate_terms(huge), counts, service.repo.papers_counted))
    assert 0 < len(terms) <= MAX_TERMS
    assert sum(term.cost for term in terms) <= POSTINGS_BUDGET
    assert len(await service.like([huge])) == TOP


async def test_document_counts_are_by_word_as_stored(service: SimilarService) -> None:
    """The reasons and the query use words; the counts must answer for those words. A stemming
    tokenizer (porter) stores "transform" for "transformers": this test then tells you to look
    words up by their stem in SimilarRepo.document_counts."""
    await service.repo.refresh_if_stale()
    counts = await service.repo.document_counts(["transformers", "diffusion", "grpo"])
    assert set(counts) == {"transformers", "diffusion", "grpo"}
    assert all(count > 1 for count in counts.values())


async def test_text_from_hugging_face_never_reaches_fts5_as_syntax(
    db: Database, service: SimilarService
) -> None:
    hostile = Paper(
        id="2612.00003",
        title='GRPO" OR NEAR(policy* reinforcement) NOT -title: ^rewards',
        abstract='") AND {authors} : "x" * ( policy optimization',
        authors=('O"Brien (NOT) *', "title: OR"),
        ai_keywords=('"group relative policy optimization"', "NEAR(", "*"),
        listed_on=(date(2026, 12, 1),),
    )
    await PaperRepo(db).upsert_papers([hostile])
    result = await service.similar(hostile.id)
    assert result.neighbours and hostile.id not in {n.paper.id for n in result.neighbours}


async def test_counts_follow_the_store_as_it_grows(db: Database, service: SimilarService) -> None:
    await service.repo.refresh_if_stale()
    assert "zyxwordnew" not in await service.repo.document_counts(["zyxwordnew"])
    newcomers = [
        Paper(id=f"2612.{index:05d}", title=f"Zyxwordnew study number {index}", abstract="")
        for index in range(60)
    ]
    await PaperRepo(db).upsert_papers(newcomers)
    assert await service.repo.refresh_if_stale()  # 60 new papers: recounted
    assert (await service.repo.document_counts(["zyxwordnew"]))["zyxwordnew"] == 60
    assert not await service.repo.refresh_if_stale()  # nothing new since
