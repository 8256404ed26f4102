"""Role pings and several subscriptions on one channel, end to end through the fake Discord.

The fake decides who a message pings the way Discord does (the content's mentions, filtered by
``allowed_mentions``, a role only when mentionable or the author may Mention Everyone), so the
tests assert exactly which roles were notified.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import FIXTURE_DAY, RAW_ITEMS, FeedBot, quicken, text_of
from tests.fakes.fake_discord import FakeDiscord, Permission
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

# Words no recorded paper uses, so each paper matches exactly the subscriptions it is made to.
VISION, AUDIO = "zebrafish", "quokka"


def paper(index: int, title: str) -> dict[str, Any]:
    """Recorded item ``index`` with a made-up title and nothing else to match keywords on."""
    item = copy.deepcopy(RAW_ITEMS[index])
    item["paper"].update(title=title, summary="A study.", ai_summary="", ai_keywords=[])
    item["title"], item["summary"] = title, "A study."
    return item


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> AsyncIterator[FeedBot]:
    clock = FakeClock(datetime.fromisoformat(f"{FIXTURE_DAY}T09:00:00").replace(tzinfo=UTC))
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def posts_by_title(bot: FeedBot, channel: str) -> dict[str, dict[str, Any]]:
    """The channel's paper cards by their embed title."""
    return {
        message["embeds"][0]["title"]: message
        for message in bot.fake.messages(channel)
        if message["embeds"]
    }


async def test_two_subscriptions_on_one_channel_ping_only_the_roles_whose_filters_match(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    vision = fake.add_role("vision-readers", mentionable=True)
    audio = fake.add_role("audio-readers", mentionable=True)
    await fake.settle()
    text = await feed_bot.subscribe(
        "papers", name="vision", keywords=VISION, mention="vision-readers"
    )
    assert f"Subscribed <#{fake.channel('papers')}> (`vision`)" in text
    assert f"ping <@&{vision}>" in text
    await feed_bot.subscribe("papers", name="audio", keywords=AUDIO, mention="audio-readers")

    alice = fake.user("alice")
    chosen = [
        paper(0, f"Seeing {VISION} swim"),
        paper(1, f"Hearing a {AUDIO} call"),
        paper(2, f"A {VISION} meets a {AUDIO}"),
        paper(3, "Nothing for anyone here"),
        paper(4, f"@everyone @here <@{alice}> <@&{audio}> look at this {VISION}"),
    ]
    feed_bot.serve(chosen)
    await feed_bot.poll()

    posts = posts_by_title(feed_bot, "papers")
    assert len(posts) == 4  # the paper matching neither is not posted
    assert not any("Nothing for anyone" in title for title in posts)
    # Every card is posted once, whatever number of subscriptions want it.
    counts = Counter(message["embeds"][0]["url"] for message in fake.messages("papers"))
    assert set(counts.values()) == {1}

    def pinged(fragment: str) -> tuple[bool, tuple[int, ...], tuple[int, ...]]:
        (message,) = [m for title, m in posts.items() if fragment in title]
        pings = fake.pings(int(message["id"]))
        return pings.everyone, pings.users, pings.roles

    assert pinged(f"Seeing {VISION}") == (False, (), (vision,))
    assert pinged(f"Hearing a {AUDIO}") == (False, (), (audio,))
    assert pinged(f"A {VISION} meets") == (False, (), tuple(sorted((vision, audio))))
    # Mentions in a paper's title are text in the card: no @everyone, no user, no other role.
    assert pinged("look at this") == (False, (), (vision,))
    assert fake.errors == []
    # What the bot asked for: nothing parsed, exactly the roles listed, no reply ping.
    for request in fake.requests_to("POST", rf"/channels/{fake.channel('papers')}/messages$"):
        allowed = request.json["allowed_mentions"]
        assert allowed["parse"] == [] and "users" not in allowed, allowed
        assert {int(role) for role in allowed.get("roles", [])} <= {vision, audio}

    listing = text_of(await feed_bot.slash("list"))
    assert "1 subscribed channel(s), 2 subscriptions." in listing
    assert "📌 audio" in listing and "📌 vision" in listing
    assert f"pings <@&{vision}>" in listing and f"pings <@&{audio}>" in listing
    assert f"any of: {VISION}" in listing and f"any of: {AUDIO}" in listing


async def test_unsubscribe_by_name_and_ask_when_the_name_is_missing(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    fake.add_role("vision-readers", mentionable=True)
    await fake.settle()
    await feed_bot.subscribe("papers", name="vision", keywords=VISION, mention="vision-readers")
    await feed_bot.subscribe("papers", name="audio", keywords=AUDIO)

    answer = text_of(await feed_bot.slash("unsubscribe", channel="papers"))
    assert "has 2 subscriptions: `audio` and `vision`" in answer
    assert "`name` option" in answer
    answer = text_of(await feed_bot.slash("unsubscribe", channel="papers", name="Nope"))
    assert "no subscription called `nope`" in answer
    answer = text_of(await feed_bot.slash("unsubscribe", channel="papers", name="Vision"))
    assert "Unsubscribed `vision` from" in answer

    listing = text_of(await feed_bot.slash("list"))
    assert "📌 audio" in listing and "vision" not in listing
    # The audio subscription goes on: a vision paper is no longer posted, an audio one is.
    feed_bot.serve([paper(0, f"Seeing {VISION} swim"), paper(1, f"Hearing a {AUDIO} call")])
    await feed_bot.poll()
    assert list(posts_by_title(feed_bot, "papers")) == [f"Hearing a {AUDIO} call"]
    (message,) = fake.messages("papers")
    assert fake.pings(int(message["id"])).anything is False  # no role on this one
    # With one subscription left, the name may be omitted.
    answer = text_of(await feed_bot.slash("unsubscribe", channel="papers"))
    assert "Unsubscribed `audio` from" in answer
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))


async def test_a_role_the_bot_cannot_ping_is_refused_with_what_is_missing(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    quiet = fake.add_role("quiet-readers", mentionable=False)
    await fake.settle()
    text = await feed_bot.subscribe("papers", mention="quiet-readers")
    assert "I can't ping @quiet-readers" in text
    assert "missing Mention @everyone, @here, and All Roles" in text
    assert "Allow anyone to @mention this role" in text
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))
    text = await feed_bot.subscribe("papers", mention="@everyone")
    assert "Posts never ping @everyone" in text

    # Granted Mention Everyone in the channel, the bot may ping a role that is not mentionable.
    fake.set_overwrite("papers", user=fake.bot_user_id, allow=Permission.MENTION_EVERYONE)
    await fake.settle()
    text = await feed_bot.subscribe("papers", mention="quiet-readers", keywords=VISION)
    assert f"ping <@&{quiet}>" in text
    feed_bot.serve([paper(0, f"Seeing {VISION} swim")])
    await feed_bot.poll()
    (message,) = fake.messages("papers")
    assert fake.pings(int(message["id"])).roles == (quiet,)
    assert fake.pings(int(message["id"])).everyone is False

    # clear_mention stops the pings; the filters stay.
    text = await feed_bot.subscribe("papers", clear_mention=True)
    assert "ping <@&" not in text
    assert f"any of: {VISION}" in text
    feed_bot.serve([paper(0, f"Seeing {VISION} swim"), paper(1, f"More {VISION}")])
    await feed_bot.poll()
    newest = fake.messages("papers")[-1]
    assert fake.pings(int(newest["id"])).anything is False
    assert "ping" not in text_of(await feed_bot.slash("list")).replace("no role pinged", "")


async def test_a_403_pauses_the_channel_once_and_any_of_its_names_resumes_it(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers", name="vision", keywords=VISION)
    await feed_bot.subscribe("papers", name="audio", keywords=AUDIO)
    fake.fail("POST", rf"/channels/{fake.channel('papers')}/messages$", 403, code=50013)
    feed_bot.serve([paper(0, f"Seeing {VISION} swim"), paper(1, f"Hearing a {AUDIO} call")])
    await feed_bot.poll()
    assert posts_by_title(feed_bot, "papers") == {}
    notices = feed_bot.notices("papers")
    assert len(notices) == 1 and "paused posting papers here" in notices[0]
    listing = text_of(await feed_bot.slash("list"))
    assert listing.count("⏸️ paused") == 2
    status = text_of(await feed_bot.slash("status"))
    assert "Subscribed channels: 1 · deliveries waiting: 2" in status
    assert status.count(f"<#{fake.channel('papers')}>") == 1

    text = await feed_bot.subscribe("papers", name="audio")
    assert f"Resumed <#{fake.channel('papers')}> (`audio`)" in text
    assert text_of(await feed_bot.slash("list")).count("▶️ active") == 2
    assert sorted(posts_by_title(feed_bot, "papers")) == [
        f"Hearing a {AUDIO} call",
        f"Seeing {VISION} swim",
    ]
