"""Stemmed search and "did you mean" end to end: the /papers search button and the CLI line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.store.db import database_at
from bot.store.papers import PaperRepo
from tests.conftest import fixture_papers
from tests.e2e.bot_fixtures import RunningBot
from tests.e2e.test_cli import run_bot_cli
from tests.e2e.test_papers import hf, running, titles  # noqa: F401  (fixtures)


async def test_a_misspelt_search_offers_a_button_that_runs_the_corrected_search(
    running: RunningBot,  # noqa: F811
) -> None:
    rec = await running.fake.slash("papers search", query="lama herd", user="alice")
    answer = await rec.answer()
    assert not rec.ephemeral
    # "herd" alone matches, so the results come first and the suggestion privately after.
    assert titles(answer["embeds"][0])[0] == "The Llama 3 Herd of Models"
    (offer,) = await rec.followups(1)
    assert "Did you mean **llama herd**?" in offer["content"]
    clicked = await running.fake.click(offer, label="Search llama herd", user="alice")
    results = await clicked.answer()
    assert titles(results["embeds"][0])[0] == "The Llama 3 Herd of Models"
    assert "No paper has every word" not in results["embeds"][0]["description"]


async def test_the_suggestion_button_disables_itself_when_it_times_out(
    running: RunningBot,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the cog module is loaded as a discord.py extension: patch it where the bot has it
    monkeypatch.setattr(sys.modules["cogs.papers"], "SUGGESTION_TIMEOUT", 0.2)
    rec = await running.fake.slash("papers search", query="lama herd", user="alice")
    results = await rec.answer()
    (offer,) = await rec.followups(1)

    def offer_disabled() -> bool:
        shown = running.fake.message(int(offer["id"]))
        return all(c.get("disabled") for row in shown["components"] for c in row["components"])

    await running.fake.wait_for(offer_disabled, 5, "the suggestion button to be disabled")
    # the results message keeps what it had: the button was on the followup, not on it
    assert running.fake.message(int(results["id"]))["components"] == results["components"]


async def test_a_search_finding_nothing_offers_the_correction_privately(
    running: RunningBot,  # noqa: F811
) -> None:
    rec = await running.fake.slash("papers search", query="Lama", user="alice")
    answer = await rec.answer()
    assert rec.ephemeral and "No stored paper matches **Lama**" in answer["content"]
    assert "Did you mean **llama**?" in answer["content"]
    clicked = await running.fake.click(rec, label="Search llama", user="alice")
    results = await clicked.answer()
    assert titles(results["embeds"][0])[0] == "The Llama 3 Herd of Models"


async def test_a_correct_search_offers_no_suggestion(running: RunningBot) -> None:  # noqa: F811
    rec = await running.fake.slash("papers search", query="llama herd")
    answer = await rec.answer()
    assert titles(answer["embeds"][0])[0] == "The Llama 3 Herd of Models"
    assert not answer["components"]
    assert rec.followup_ids == []


async def test_the_cli_prints_the_same_suggestion(tmp_path: Path) -> None:
    async with database_at(tmp_path / "papers.db") as db:
        await PaperRepo(db).upsert_papers(fixture_papers("daily_papers_2024-08-01"))
    code, out, err = await run_bot_cli(tmp_path, "search", "lama")
    assert code == 1, err
    assert "no stored paper matches 'lama'" in out
    assert "did you mean: llama?" in out
    code, out, err = await run_bot_cli(tmp_path, "search", "llama")
    assert code == 0, err
    assert "did you mean" not in out and "The Llama 3 Herd of Models" in out
