"""/papers end to end: the real bot, the fake Discord, the fake Hugging Face, a real SQLite file."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.catalog import Catalog
from bot.store.db import ReadBudget, database_at
from bot.store.papers import PaperRepo
from tests.conftest import fixture_papers
from tests.e2e.bot_fixtures import BotProcess, FakeClock, RunningBot, eventually, start_bot
from tests.e2e.test_cli import run_bot_cli
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

LISTED = date(2024, 8, 1)  # the fixture day: 11 papers, a Thursday
FRIDAY = date(2024, 8, 2)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        fake.load_fixture_day("daily_papers_2024-08-01.json")
        yield fake


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, hf: FakeHF, database_target: Path | str
) -> AsyncIterator[RunningBot]:
    clock = FakeClock.on(FRIDAY)  # the start-up poll fetches Thursday and Friday
    async with start_bot(fake_discord, hf, database_target, clock=clock) as bot:
        yield bot


def titles(embed: dict[str, object]) -> list[str]:
    return re.findall(r"\*\*\d+\.\*\* \[([^\]]+)\]", str(embed.get("description", "")))


async def test_today_lists_the_day_by_upvotes_and_pages_for_the_invoker_only(
    running: RunningBot,
) -> None:
    fake = running.fake
    rec = await fake.slash("papers today", date="2024-08-01", user="alice")
    first = (await rec.answer())["embeds"][0]
    assert "Thu 2024-08-01" in first["title"]
    assert titles(first)[0] == "The Llama 3 Herd of Models"
    assert len(titles(first)) == 10 and "1/2" in first["footer"]["text"].replace(" ", "")

    stranger = await fake.click(rec, label="Next", user="bob")
    refusal = await stranger.answer()
    assert stranger.ephemeral and "Only the person who ran the command" in refusal["content"]
    assert titles(rec.embeds[0]) == titles(first)  # bob turned nothing

    turn = await fake.click(rec, label="Next", user="alice")
    await turn.response()
    second = rec.embeds[0]
    assert len(titles(second)) == 1 and titles(second)[0] not in titles(first)
    buttons = {c["label"]: c for row in rec.components for c in row["components"]}
    assert buttons["Next"]["disabled"] and not buttons["Previous"]["disabled"]


async def test_page_buttons_disable_themselves_when_they_time_out(
    running: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cogs.views.PAGINATOR_TIMEOUT", 0.2)
    rec = await running.fake.slash("papers today", date="2024-08-01")
    message = await rec.answer()

    def all_disabled() -> bool:
        shown = running.fake.message(int(message["id"]))
        buttons = [c for row in shown["components"] for c in row["components"]]
        return bool(buttons) and all(button.get("disabled") for button in buttons)

    await running.fake.wait_for(all_disabled, 5, "the page buttons to be disabled")
    assert rec.embeds[0]["title"] == message["embeds"][0]["title"]  # the page itself stays


async def test_an_empty_day_says_why_and_offers_the_latest_day(running: RunningBot) -> None:
    fake = running.fake
    rec = await fake.slash("papers today", user="alice")  # Friday: nothing listed yet
    embed = (await rec.answer())["embeds"][0]
    assert "yet" in embed["description"] and "2024-08-01" in embed["description"]
    shown = await fake.click(rec, label="Show 2024-08-01", user="alice")
    await shown.response()
    assert titles(rec.embeds[0])[0] == "The Llama 3 Herd of Models"

    weekend = await fake.slash("papers today", date="2024-07-27", user="bob")
    assert "weekend" in (await weekend.answer())["embeds"][0]["description"]


async def test_only_the_invoker_can_use_the_latest_day_button(running: RunningBot) -> None:
    fake = running.fake
    rec = await fake.slash("papers today", user="alice")
    await rec.answer()
    refused = await fake.click(rec, label="Show 2024-08-01", user="bob")
    assert "Only the person" in (await refused.answer())["content"]
    assert refused.ephemeral
    assert "No papers" in rec.embeds[0]["title"]  # alice's message is untouched


async def test_an_empty_digest_day_offers_the_latest_digest(running: RunningBot) -> None:
    rec = await running.fake.slash("papers digest", user="alice")  # Friday: nothing yet
    await rec.answer()
    shown = await running.fake.click(rec, label="Show 2024-08-01", user="alice")
    await shown.response()
    assert "The Llama 3 Herd of Models" in rec.embeds[0]["description"]
    assert rec.components == []  # a digest, not a paginated list


async def test_an_old_day_is_fetched_from_hugging_face_when_asked_for(
    running: RunningBot,
) -> None:
    day = running.hf.load_fixture_day("daily_papers_2024-05-27.json")
    assert await running.services.papers.papers_listed_on(day) == []
    rec = await running.fake.slash("papers today", date=day.isoformat())
    embed = (await rec.answer())["embeds"][0]
    assert len(titles(embed)) == 10
    assert len(await running.services.papers.papers_listed_on(day)) == 13


async def test_a_day_one_paper_of_which_was_shown_is_still_listed_whole(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path
) -> None:
    day = hf.load_fixture_day("daily_papers_2025-10-03.json")  # a Friday with 39 papers
    one = hf.items(day)[7]["paper"]["id"]
    clock = FakeClock.on(date(2025, 10, 6))  # the Monday after: the poller never fetched it
    async with start_bot(fake_discord, hf, tmp_path / "papers.db", clock=clock) as running:
        shown = await running.fake.slash("papers show", paper=one)
        assert (await shown.answer())["embeds"][0]["url"].endswith(one)

        rec = await running.fake.slash("papers today", date=day.isoformat())
        embed = (await rec.answer())["embeds"][0]
        assert "39 papers" in embed["description"] and len(titles(embed)) == 10
        assert "1/4" in embed["footer"]["text"].replace(" ", "")
        digest = await running.fake.slash("papers digest", date=day.isoformat())
        assert "39 papers listed" in (await digest.answer())["embeds"][0]["description"]
    fetched = [query for query in hf.queries_for("daily") if query["date"] == day.isoformat()]
    assert len(fetched) == 1  # fetched whole once, on demand; the digest read the store


async def test_a_bad_or_future_date_gets_a_private_explanation(running: RunningBot) -> None:
    for text, expected in (("1st of August", "YYYY-MM-DD"), ("2030-01-01", "future")):
        rec = await running.fake.slash("papers today", date=text)
        answer = await rec.answer()
        assert rec.ephemeral and expected in answer["content"]


async def test_search_ranks_and_highlights_matches(running: RunningBot) -> None:
    rec = await running.fake.slash("papers search", query="llama herd")
    embed = (await rec.answer())["embeds"][0]
    assert "The Llama 3 Herd of Models" in embed["description"].split("\n")[0]
    assert "**" in embed["description"]  # matched words in bold


@pytest.mark.parametrize(
    "query", ['NEAR("', "🙂🙂", '" OR OR', "-everything", "x" * 1000, "title:"]
)
async def test_hostile_search_input_gets_a_friendly_reply(running: RunningBot, query: str) -> None:
    rec = await running.fake.slash("papers search", query=query)
    answer = await rec.answer()
    assert answer["content"] or answer["embeds"]
    assert "error id" not in answer["content"]


HOSTILE_PREFIXES = " OR ".join(f"{a}{b}*" for a in "tcipsmrdaeflg" for b in "aeiouhrnlt")


async def test_a_search_with_too_many_terms_is_refused_privately_saying_the_limit(
    running: RunningBot,
) -> None:
    rec = await running.fake.slash("papers search", query=HOSTILE_PREFIXES[:1000])
    answer = await rec.answer()
    assert rec.ephemeral and "at most 24 at once" in answer["content"]


async def test_a_search_past_its_time_budget_is_refused_privately(running: RunningBot) -> None:
    running.services.catalog.search_budget = ReadBudget(seconds=0, check_every=1)
    rec = await running.fake.slash("papers search", query="llama OR herd*")
    answer = await rec.answer()
    assert rec.ephemeral and "too broad to finish quickly" in answer["content"]
    assert "error id" not in answer["content"]
    # autocomplete answers with no choices rather than not at all
    assert await running.fake.autocomplete("papers show", focused="paper", value="llama") == []


async def test_the_cli_search_prints_the_term_limit(tmp_path: Path) -> None:
    async with database_at(tmp_path / "papers.db") as db:
        await PaperRepo(db).upsert_papers(fixture_papers("daily_papers_2024-08-01"))
    code, out, err = await run_bot_cli(tmp_path, "search", HOSTILE_PREFIXES[:570])
    assert code == 1, err
    assert "at most 24 at once" in out and "Traceback" not in err


async def test_no_results_say_so_privately(running: RunningBot) -> None:
    rec = await running.fake.slash("papers search", query="zzzxqv quantum basketry")
    answer = await rec.answer()
    assert rec.ephemeral and "No stored paper matches" in answer["content"]


async def test_autocomplete_offers_titles_with_their_ids(running: RunningBot) -> None:
    choices = await running.fake.autocomplete("papers summary", focused="paper", value="llam")
    assert choices[0] == {"name": "The Llama 3 Herd of Models (2407.21783)", "value": "2407.21783"}
    by_id = await running.fake.autocomplete("papers show", focused="paper", value="2407.2")
    assert "2407.21783" in [choice["value"] for choice in by_id]
    assert len(await running.fake.autocomplete("papers show", focused="paper", value="")) <= 25


async def test_summary_is_extractive_and_labelled_when_hf_has_none(running: RunningBot) -> None:
    rec = await running.fake.slash("papers summary", paper="2407.21783")
    embed = (await rec.answer())["embeds"][0]
    assert embed["author"]["name"].startswith("Extractive summary")
    assert embed["url"] == "https://huggingface.co/papers/2407.21783"
    abstract = (await running.services.papers.get("2407.21783")).abstract  # type: ignore[union-attr]
    assert 0 < len(embed["description"]) <= len(abstract) + 50


async def test_digest_summarises_the_day_in_one_message(running: RunningBot) -> None:
    rec = await running.fake.slash("papers digest", date="2024-08-01")
    answer = await rec.answer()
    assert len(answer["embeds"]) == 1
    assert "The Llama 3 Herd of Models" in answer["embeds"][0]["description"]


async def test_show_fetches_an_unknown_paper_from_hugging_face(running: RunningBot) -> None:
    paper_id = running.hf.load_fixture_paper()
    rec = await running.fake.slash("papers show", paper=f"https://arxiv.org/abs/{paper_id}v1")
    embed = (await rec.answer())["embeds"][0]
    assert embed["url"] == f"https://huggingface.co/papers/{paper_id}"
    assert not rec.ephemeral
    assert await running.services.papers.get(paper_id) is not None
    # the public card is a paper post: its Bookmark button and 🔖 reactions know the paper
    labels = [c.get("label") for row in rec.components for c in row["components"]]
    assert "Bookmark" in " ".join(str(label) for label in labels)
    message_id = int(rec.final()["id"])
    posts = running.services.feed.posts
    assert await eventually(lambda: posts.paper_for_message(message_id)) == paper_id


async def test_an_id_unknown_everywhere_gets_a_clear_reply(running: RunningBot) -> None:
    rec = await running.fake.slash("papers show", paper="2501.99999")
    answer = await rec.answer()
    assert rec.ephemeral and "no paper 2501.99999" in answer["content"]


async def test_a_failing_hugging_face_leaves_the_bot_answering(running: RunningBot) -> None:
    running.hf.outage = True
    report = await running.poll()
    assert not report.ok and "Hugging Face" in (report.error or "")
    rec = await running.fake.slash("papers search", query="llama")
    assert "Llama" in (await rec.answer())["embeds"][0]["description"]
    down = await running.fake.slash("papers show", paper="2501.00001")
    assert "not answering" in (await down.answer())["content"]
    running.hf.outage = False
    assert (await running.poll()).ok


@pytest.mark.parametrize("retry_after", ["inf", "nan", "1e400", "-1"])
async def test_a_429_with_a_hostile_retry_after_gets_a_clear_reply(
    running: RunningBot, retry_after: str
) -> None:
    paper_id = running.hf.load_fixture_paper()
    running.hf.fail("paper", 429, times=2, headers={"Retry-After": retry_after})
    rec = await running.fake.slash("papers show", paper=paper_id)
    answer = await rec.answer()
    # The clear "try again later" answer, never the apology for an unexpected error.
    assert rec.ephemeral and "error id" not in answer["content"]
    assert f"{paper_id} is not stored yet" in answer["content"]
    assert "try again in a few minutes" in answer["content"]


async def test_an_unexpected_error_apologises_with_an_id_found_in_the_log(
    running: RunningBot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Catalog, text: str, *, limit: int = 25) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Catalog, "search", broken)  # the one way to make a healthy bot fail
    with caplog.at_level(logging.ERROR):
        rec = await running.fake.slash("papers search", query="llama")
        answer = await rec.answer()
    error_id = re.search(r"error id `([0-9a-f]{8})`", answer["content"])
    assert rec.ephemeral and error_id
    [logged] = [r for r in caplog.records if error_id.group(1) in r.getMessage()]
    assert logged.exc_info is not None
    traceback = logging.Formatter().formatException(logged.exc_info)
    assert "in broken" in traceback and "disk on fire" in traceback  # the stack, not just the text


async def test_the_bot_as_a_process_answers_today(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path
) -> None:
    code, _, err = await run_bot_cli(
        tmp_path, "fetch", "--date", "2024-08-01", HF_BASE_URL=hf.base_url
    )
    assert code == 0, err
    process = BotProcess(fake_discord, hf, tmp_path)
    await process.start()
    try:
        rec = await fake_discord.slash("papers today", date="2024-08-01")
        embed = (await rec.answer(timeout=10))["embeds"][0]
        assert titles(embed)[0] == "The Llama 3 Herd of Models"
    finally:
        assert await process.stop() == 0, process.log()
    log = process.log()
    assert "papers-bot stopped" in log
    assert fake_discord.token not in log
    invite = re.search(r"invite papers-bot with: (\S+)", log)
    assert invite is not None
    assert "scope=bot+applications.commands" in invite.group(1)
    # view, send, embed links, react, history, create public threads, send messages in threads
    assert "permissions=309237730368" in invite.group(1)


async def test_commands_are_synced_again_only_when_they_change(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path
) -> None:
    def syncs() -> int:
        return len(fake_discord.requests_to("PUT", r"/applications/\d+(/guilds/\d+)?/commands$"))

    clock = FakeClock.on(FRIDAY)
    async with start_bot(fake_discord, hf, tmp_path / "papers.db", clock=clock):
        assert syncs() == 1
    async with start_bot(fake_discord, hf, tmp_path / "papers.db", clock=clock):
        assert syncs() == 1  # same commands, same database: no sync, no daily quota spent
    async with start_bot(
        fake_discord, hf, tmp_path / "papers.db", clock=clock, dev_guild_id=fake_discord.guild_id
    ) as bot:
        assert syncs() == 2  # a new scope is synced once, to that guild
        [guild_sync] = fake_discord.requests_to("PUT", r"/guilds/\d+/commands$")
        assert str(fake_discord.guild_id) in guild_sync.path
        rec = await bot.fake.slash("papers today", date="2024-08-01")
        assert titles((await rec.answer())["embeds"][0])
