"""The compact card end to end: what a subscribed channel receives by default, `style: full`,
the Abstract button, and the style kept on re-subscribe and on live-upvote edits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import (
    FIXTURE_DAY,
    RAW_ITEMS,
    FeedBot,
    by_upvotes,
    items,
    key,
    quicken,
    text_of,
)
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

TOP = RAW_ITEMS[0]["paper"]["id"]  # 90 upvotes in the recording


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(f"{FIXTURE_DAY}T09:00:00").replace(tzinfo=UTC))


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[FeedBot]:
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def is_compact(embed: dict[str, Any]) -> bool:
    return (
        "fields" not in embed
        and "thumbnail" not in embed
        and len(embed["description"].split("\n")) <= 3
        and embed["footer"]["text"] == f"Listed Fri {FIXTURE_DAY}"
    )


async def test_a_default_subscription_posts_compact_cards_with_three_buttons(
    feed_bot: FeedBot,
) -> None:
    await feed_bot.subscribe("papers")
    chosen = items(3)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == by_upvotes(chosen)
    for message, paper_id in zip(feed_bot.fake.messages("papers"), by_upvotes(chosen), strict=True):
        (embed,) = message["embeds"]
        assert is_compact(embed), embed
        assert "▲ " in embed["description"] and "[arXiv](" in embed["description"]
        assert buttons(message) == [
            f"papers-bot:bookmark:{paper_id}",
            f"papers-bot:similar:{paper_id}",
            f"papers-bot:abstract:{paper_id}",
        ]
    assert feed_bot.fake.errors == []


async def test_style_full_posts_the_full_card(feed_bot: FeedBot) -> None:
    await feed_bot.subscribe("papers", style="full")
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (message,) = feed_bot.fake.messages("papers")
    (embed,) = message["embeds"]
    names = [field["name"] for field in embed["fields"]]
    assert names[:4] == ["Authors", "Upvotes", "Comments", "Listed"]
    assert "*AI summary:*" in embed["description"]
    assert buttons(message) == [f"papers-bot:bookmark:{TOP}", f"papers-bot:similar:{TOP}"]


async def test_the_abstract_button_answers_the_full_card_to_the_clicker_only(
    feed_bot: FeedBot,
) -> None:
    await feed_bot.subscribe("papers")
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (post,) = feed_bot.fake.messages("papers")
    clicked = await feed_bot.fake.click(int(post["id"]), label="Abstract", user="bob")
    answer = await clicked.answer()
    assert clicked.ephemeral  # only bob sees it
    (embed,) = answer["embeds"]
    assert embed["url"] == f"https://huggingface.co/papers/{TOP}"
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Listed"].startswith(f"Fri {FIXTURE_DAY}")
    assert "Authors" in fields and "Links" in fields
    # The channel's post is untouched, and still compact.
    assert is_compact(feed_bot.fake.message(int(post["id"]))["embeds"][0])
    assert feed_bot.fake.messages("papers") == [feed_bot.fake.message(int(post["id"]))]


async def test_re_subscribing_keeps_the_style_and_list_and_preview_show_it(
    feed_bot: FeedBot,
) -> None:
    answer = await feed_bot.subscribe("papers", style="full")
    assert "Style: full cards" in answer
    answer = await feed_bot.subscribe("papers", min_upvotes=10)  # style left out: kept
    assert "Style: full cards" in answer
    listing = text_of(await feed_bot.slash("list"))
    assert "Style: full cards" in listing
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (message,) = feed_bot.fake.messages("papers")
    assert "fields" in message["embeds"][0]  # still the full card
    preview = text_of(await feed_bot.slash("preview", channel="papers"))
    assert "Style: full cards" in preview

    await feed_bot.subscribe("papers", style="compact")
    assert "Style: compact cards" in text_of(await feed_bot.slash("list"))


async def test_live_upvote_edits_keep_each_posts_style(feed_bot: FeedBot, clock: FakeClock) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers")
    feed_bot.serve(items(1))
    await feed_bot.poll()
    (compact_post,) = fake.messages("papers")
    # The channel switches to full cards: the compact post stays compact when edited.
    await feed_bot.subscribe("papers", style="full")

    clock.advance(minutes=31)
    feed_bot.serve(items(1, **{key(TOP): 140}))
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 1
    (embed,) = fake.message(int(compact_post["id"]))["embeds"]
    assert is_compact(embed)
    assert embed["description"].split("\n")[-1].startswith("▲ 140 · 💬")
