"""/bookmarks recommend on the recorded fixtures: papers like the ones a member saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.bookmarks import BookmarkService
from bot.ingest import IngestService
from bot.search import fold
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database
from bot.store.feed import PostRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.unit.test_similar_service import NoSource, all_fixture_papers

ALICE = 101
BOB = 202
# Three papers on reinforcement learning for LLM reasoning (GRPO, RLVR).
RL_PAPERS = ("2509.24203", "2510.02245", "2606.10768")
RL_WORDS = {"grpo", "reinforcement", "policy", "rlvr", "reward", "rewards", "rl"}
START = datetime(2026, 8, 1, tzinfo=UTC)


@pytest.fixture
async def service(db: Database) -> BookmarkService:
    papers = PaperRepo(db)
    await papers.upsert_papers(all_fixture_papers())
    ingest = IngestService(NoSource(), papers, StateRepo(db))
    return BookmarkService(BookmarkRepo(db), papers, ingest, PostRepo(db))


async def save(service: BookmarkService, user_id: int, paper_ids: tuple[str, ...]) -> None:
    for minutes, paper_id in enumerate(paper_ids):
        await service.bookmarks.add(user_id, paper_id, now=START + timedelta(minutes=minutes))


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold(text)))


async def test_three_bookmarks_on_one_topic_bring_papers_on_that_topic(
    service: BookmarkService,
) -> None:
    await save(service, ALICE, RL_PAPERS)
    found = await service.recommend(ALICE)
    assert found.saved == 3
    ids = [entry.paper.id for entry in found.entries]
    assert ids and not set(ids) & set(RL_PAPERS)  # nothing already saved
    assert len(ids) == len(set(ids))
    # The best five by score (recommend shows newest first) are all about RL for reasoning.
    best = sorted(found.entries, key=lambda entry: -entry.score)[:5]
    for entry in best:
        text = " ".join((entry.paper.title, entry.paper.abstract, *entry.paper.ai_keywords))
        assert words(text) & RL_WORDS, entry.paper.title
    # Known neighbours: VLA-R1 (GRPO, RLVR) and the GRPO-trained span detector.
    assert {"2510.01623", "2510.02173"} <= set(ids)
    for entry in found.entries:
        assert entry.because.id in RL_PAPERS
    assert any(entry.why.startswith("shares: ") for entry in found.entries)


async def test_recommendations_are_newest_first(service: BookmarkService) -> None:
    await save(service, ALICE, RL_PAPERS)
    found = await service.recommend(ALICE)
    days = [entry.paper.latest_listing for entry in found.entries]
    assert len(set(days)) > 1
    assert days == sorted(days, reverse=True)  # type: ignore[type-var]


async def test_a_member_without_bookmarks_gets_none_and_others_lists_do_not_count(
    service: BookmarkService,
) -> None:
    await save(service, BOB, RL_PAPERS)
    found = await service.recommend(ALICE)
    assert found.entries == () and found.saved == 0


async def test_bookmarks_whose_details_are_not_stored_yet_are_still_counted(
    service: BookmarkService,
) -> None:
    await save(service, ALICE, ("2612.99999",))  # saved while Hugging Face was down
    found = await service.recommend(ALICE)
    assert found.entries == () and found.saved == 1
