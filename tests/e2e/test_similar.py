"""Similar papers and recommendations end to end: the real bot, fake Discord, fake HF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.bot_fixtures import FakeClock, RunningBot, eventually, start_bot
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

DAY = date(2026, 6, 12)  # a Friday with 35 papers
SATURDAY = date(2026, 6, 13)
LINKED_ID = re.compile(r"\]\(https://huggingface\.co/papers/([^)\s]+)\)")
# Reinforcement learning for reasoning: N-GRPO, latent reasoning with on-policy RL, on-policy
# distillation.
RL_PAPERS = ("2606.10768", "2606.13106", "2606.09304")


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        fake.load_fixture_day(f"daily_papers_{DAY}.json")
        yield fake


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path
) -> AsyncIterator[RunningBot]:
    clock = FakeClock.on(SATURDAY)  # the start-up poll fetches Friday and Saturday
    async with start_bot(fake_discord, hf, tmp_path / "papers.db", clock=clock) as bot:
        yield bot


def linked_ids(embed: dict[str, object]) -> list[str]:
    return LINKED_ID.findall(str(embed.get("description", "")))


async def test_papers_similar_lists_related_papers_with_reasons(running: RunningBot) -> None:
    rec = await running.fake.slash("papers similar", paper="2606.10768")
    embed = (await rec.answer())["embeds"][0]
    assert embed["title"].startswith("Similar to: N-GRPO")
    found = linked_ids(embed)
    assert len(found) == 5 and "2606.10768" not in found
    assert "shares: " in embed["description"]
    assert "grpo" in embed["description"]  # InterleaveThinker and friends are trained with GRPO


async def test_papers_similar_autocompletes_and_takes_a_title(running: RunningBot) -> None:
    choices = await running.fake.autocomplete("papers similar", focused="paper", value="N-GRPO")
    assert any(choice["value"] == "2606.10768" for choice in choices)
    rec = await running.fake.slash("papers similar", paper="N-GRPO Neighbor Mixing")
    assert (await rec.answer())["embeds"][0]["title"].startswith("Similar to: N-GRPO")


async def test_papers_similar_of_an_unknown_paper_says_so_privately(running: RunningBot) -> None:
    rec = await running.fake.slash("papers similar", paper="2501.99999")
    answer = await rec.answer()
    assert rec.ephemeral and "no paper 2501.99999" in answer["content"]


async def test_the_similar_button_on_a_show_card_answers_only_the_clicker(
    running: RunningBot,
) -> None:
    fake = running.fake
    card = await fake.slash("papers show", paper="2606.10768", user="alice")
    card_id = int((await card.answer())["id"])
    labels = [c.get("label") for row in card.components for c in row["components"]]
    assert labels == ["Bookmark", "Similar"]
    posts = running.services.feed.posts
    assert await eventually(lambda: posts.paper_for_message(card_id)) == "2606.10768"

    clicked = await fake.click(card_id, label="Similar", user="bob")
    answer = await clicked.answer()
    assert clicked.ephemeral
    embed = answer["embeds"][0]
    assert embed["title"].startswith("Similar to: N-GRPO")
    assert len(linked_ids(embed)) == 5 and "2606.10768" not in linked_ids(embed)
    assert fake.message(card_id)["embeds"][0]["title"] == card.embeds[0]["title"]  # card intact


async def test_recommend_without_bookmarks_says_how_to_start(running: RunningBot) -> None:
    rec = await running.fake.slash("bookmarks recommend", user="alice")
    answer = await rec.answer()
    assert rec.ephemeral
    text = answer["content"]
    assert "you have none yet" in text
    assert "🔖" in text and "Bookmark button" in text and "/papers show" in text


async def test_recommend_after_three_bookmarks_on_one_topic(running: RunningBot) -> None:
    fake = running.fake
    alice = fake.user("alice")
    saved_at = datetime(2026, 6, 13, 9, tzinfo=UTC)
    for minutes, paper_id in enumerate(RL_PAPERS):
        await running.services.bookmarks.bookmarks.add(
            alice, paper_id, now=saved_at + timedelta(minutes=minutes)
        )
    rec = await fake.slash("bookmarks recommend", user="alice")
    first = (await rec.answer())["embeds"][0]
    assert rec.ephemeral
    assert first["title"] == "Recommended from your bookmarks"
    shown = linked_ids(first)
    # each entry links the paper, then the saved paper it is like
    recommended, because = shown[0::2], shown[1::2]
    assert recommended and not set(recommended) & set(RL_PAPERS)
    assert set(because) <= set(RL_PAPERS)
    assert "because you saved" in first["description"]
    assert {"2606.13679", "2606.06113"} & set(recommended)  # GRPO-trained papers of the day
    buttons = {c["label"]: c for row in rec.components for c in row["components"]}
    assert "Next" in buttons  # more than one page of five

    turned = await fake.click(rec, label="Next", user="alice")
    await turned.response()
    second = linked_ids(rec.embeds[0])[0::2]
    assert second and not set(second) & set(recommended)


async def test_a_similar_button_that_fails_answers_with_the_error_id_it_logged(
    running: RunningBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = running.fake
    card = await fake.slash("papers show", paper="2606.10768", user="alice")
    card_id = int((await card.answer())["id"])

    async def broken(reference: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(running.services.similar, "similar", broken)
    clicked = await fake.click(card_id, label="Similar", user="bob")
    answer = await clicked.answer()
    assert clicked.ephemeral
    error_id = re.search(r"error id `([0-9a-f]{8})`", answer["content"])
    assert error_id is not None, answer["content"]
    logged = [r for r in caplog.records if error_id.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback, under the same id
