"""/feed end to end: the real bot, the fake Discord and the fake Hugging Face, over real sockets.

The bot's clock is fixed on the day of the recorded fixture (2026-06-12), so the recorded papers
are "today's" papers; tests poll on purpose and wait for the delivery worker to go idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import RateBudget
from bot.feed import OUTAGE_NOTICE_AFTER, ChannelAccess
from bot.feed_filters import FeedFilter
from tests.conftest import HF_API, fixture_papers
from tests.e2e.bot_fixtures import FakeClock, RunningBot, start_bot
from tests.e2e.test_cli import run_bot_cli
from tests.fakes.fake_discord import CommandNotAvailable, FakeDiscord, Permission
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

FIXTURE_DAY = "2026-06-12"
RAW_ITEMS: list[dict[str, Any]] = json.loads(
    (HF_API / f"daily_papers_{FIXTURE_DAY}.json").read_text(encoding="utf-8")
)
PAPERS_BY_ID = {paper.id: paper for paper in fixture_papers(f"daily_papers_{FIXTURE_DAY}")}
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)
BOOKMARK = "🔖"
PAPER_URL = re.compile(r"/papers/(?P<id>[^/?#]+)$")


def items(count: int | None = None, **upvotes: int) -> list[dict[str, Any]]:
    """The first ``count`` recorded items, with upvotes overridden by paper id (dots → _)."""
    chosen = copy.deepcopy(RAW_ITEMS[:count])
    for item in chosen:
        key = item["paper"]["id"].replace(".", "_")
        if key in upvotes:
            item["paper"]["upvotes"] = upvotes[key]
    return chosen


def by_upvotes(chosen: list[dict[str, Any]]) -> list[str]:
    """Paper ids in the order the bot posts them: most upvoted first."""
    ordered = sorted(chosen, key=lambda item: (-item["paper"]["upvotes"], item["paper"]["id"]))
    return [item["paper"]["id"] for item in ordered]


def key(paper_id: str) -> str:
    return paper_id.replace(".", "_")


@dataclass
class FeedBot:
    """The running bot plus what /feed tests keep asking of it."""

    running: RunningBot

    @property
    def fake(self) -> FakeDiscord:
        return self.running.fake

    @property
    def hf(self) -> FakeHF:
        return self.running.hf

    @property
    def worker(self) -> Any:
        # cogs.feed is imported afresh by load_extension: find the cog by name, not by class.
        return self.running.bot.get_cog("FeedCog").worker  # type: ignore[union-attr]

    def serve(self, chosen: list[dict[str, Any]]) -> None:
        self.hf.set_day(self.running.clock().date(), chosen)

    async def poll(self) -> None:
        await self.running.poll()
        await self.idle()

    async def idle(self) -> None:
        await asyncio.wait_for(self.worker.wait_until_idle(), 10)

    async def slash(self, command: str, *, user: str = "alice", **options: Any) -> dict[str, Any]:
        channel = options.pop("channel", None)
        extra = {"channel": channel} if channel is not None else {}
        record = await self.fake.slash(f"feed {command}", user=user, options=extra, **options)
        answer = await record.answer()
        assert record.ephemeral, "/feed answers only the admin who asked"
        return answer

    async def subscribe(self, channel: str, **options: Any) -> str:
        answer = await self.slash("subscribe", channel=channel, **options)
        await self.idle()
        return text_of(answer)

    def posted(self, channel: str) -> list[str]:
        """Paper ids of the bot's paper posts in ``channel``, oldest first."""
        found = []
        for message in self.fake.messages(channel):
            for embed in message["embeds"]:
                match = PAPER_URL.search(embed.get("url") or "")
                if match:
                    found.append(match["id"])
        return found

    def notices(self, channel: str) -> list[str]:
        return [m["content"] for m in self.fake.messages(channel) if m["content"]]


def text_of(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(f"{FIXTURE_DAY}T09:00:00").replace(tzinfo=UTC))


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, database_target: Path | str, clock: FakeClock
) -> AsyncIterator[FeedBot]:
    async with start_bot(fake_discord, fake_hf, database_target, clock=clock) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def quicken(bot: FeedBot) -> None:
    """Test pacing: failures retried at once (the clock is fixed), a hung send abandoned after
    0.5 s, and no self-imposed request pacing (the fake has no rate limits unless asked)."""
    bot.running.services.feed.retry_base = timedelta(0)
    bot.worker.send_timeout = 0.5
    bot.worker.budget = RateBudget(1_000_000.0)


# --- who may subscribe, and where -------------------------------------------------------------


async def test_members_without_manage_server_cannot_subscribe(feed_bot: FeedBot) -> None:
    # Discord hides /feed from them (default permissions)…
    with pytest.raises(CommandNotAvailable):
        await feed_bot.slash("subscribe", user="bob", channel="papers")
    # …and if a server admin unhides it for everyone, the bot still refuses.
    command, _ = feed_bot.fake.commands.find("feed subscribe", feed_bot.fake.guild_id)
    command["default_member_permissions"] = None
    answer = await feed_bot.slash("subscribe", user="bob", channel="papers")
    assert "You need the Manage Server permission" in text_of(answer)
    listing = await feed_bot.slash("list")
    assert "No channel here is subscribed yet" in text_of(listing)


async def test_subscribing_a_channel_without_embed_links_says_what_is_missing(
    feed_bot: FeedBot,
) -> None:
    feed_bot.fake.deny_bot("papers", Permission.EMBED_LINKS)
    await feed_bot.fake.settle()
    text = await feed_bot.subscribe("papers")
    assert "I can't post papers in" in text
    assert "missing Embed Links there" in text
    assert "No channel here is subscribed yet" in text_of(await feed_bot.slash("list"))


# --- delivery -------------------------------------------------------------------------------


async def test_papers_stored_by_the_fetch_command_beside_the_bot_are_posted(
    feed_bot: FeedBot, tmp_path: Path
) -> None:
    await feed_bot.subscribe("papers")
    chosen = items(5)
    feed_bot.serve(chosen)
    code, _, err = await run_bot_cli(
        tmp_path, "fetch", "--date", FIXTURE_DAY, HF_BASE_URL=feed_bot.hf.base_url
    )
    assert code == 0, err
    await feed_bot.poll()  # finds on Hugging Face just what the fetch stored: nothing changed
    assert feed_bot.posted("papers") == by_upvotes(chosen)


async def test_new_papers_reach_exactly_the_matching_channels_once(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    fake.add_channel("agents")
    fake.add_channel("popular")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents", keywords="agents, -evoarena")
    text = await feed_bot.subscribe("popular", min_upvotes=60)
    assert "Subscribed <#" in text

    first = items(12)
    feed_bot.serve(first)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == by_upvotes(first)  # everything, most upvoted first
    agents = feed_bot.posted("agents")
    assert agents
    assert RAW_ITEMS[0]["paper"]["id"] not in agents  # EvoArena is excluded by name
    assert set(agents) < set(by_upvotes(first))
    assert feed_bot.posted("popular") == [p for p in by_upvotes(first) if p in _over(first, 60)]
    assert feed_bot.posted("general") == []

    # Each post carries the bookmark reaction and the Bookmark button, and is registered.
    message = fake.messages("papers")[0]
    assert fake.reaction_users(message, BOOKMARK) == [fake.bot_user_id]
    assert any(
        button.get("label") == "Bookmark"
        for row in message["components"]
        for button in row["components"]
    )
    posts = feed_bot.running.services.feed.posts
    assert await posts.paper_for_message(int(message["id"])) == by_upvotes(first)[0]

    # The day fills in and is polled again: only the new papers go out.
    everything = items(20)
    feed_bot.serve(everything)
    await feed_bot.poll()
    await feed_bot.poll()
    papers = feed_bot.posted("papers")
    assert sorted(papers) == sorted(by_upvotes(everything))
    assert papers[12:] == [p for p in by_upvotes(everything) if p not in by_upvotes(first)]
    for channel in ("papers", "agents", "popular"):
        counts = Counter(feed_bot.posted(channel))
        assert max(counts.values()) == 1, f"duplicates in #{channel}: {counts}"
    assert fake.errors == []


def _over(chosen: list[dict[str, Any]], bar: int) -> set[str]:
    return {item["paper"]["id"] for item in chosen if item["paper"]["upvotes"] >= bar}


async def test_a_paper_that_becomes_popular_later_is_posted_then(feed_bot: FeedBot) -> None:
    late = RAW_ITEMS[10]["paper"]["id"]  # 16 upvotes in the recording
    await feed_bot.subscribe("papers", min_upvotes=50)
    feed_bot.serve(items(11))
    await feed_bot.poll()
    assert late not in feed_bot.posted("papers")

    feed_bot.serve(items(11, **{key(late): 75}))
    await feed_bot.poll()
    assert feed_bot.posted("papers")[-1] == late
    await feed_bot.poll()
    assert Counter(feed_bot.posted("papers"))[late] == 1


async def test_a_new_subscription_gets_no_history(
    fake_discord: FakeDiscord, feed_bot: FeedBot, clock: FakeClock
) -> None:
    feed_bot.serve(items(5))
    await feed_bot.poll()
    clock.advance(days=1)  # yesterday's papers are history now
    feed_bot.serve([])
    await feed_bot.poll()
    text = await feed_bot.subscribe("papers")
    assert "on their way" not in text
    assert feed_bot.posted("papers") == []


async def test_a_restart_mid_fanout_neither_loses_nor_repeats_a_paper(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path, clock: FakeClock
) -> None:
    fake = fake_discord
    chosen = items(20)
    fake_hf.set_day(clock().date(), chosen)
    db = tmp_path / "papers.db"
    # A whole fan-out of the day, not a new subscription's first batch of 5.
    async with start_bot(fake, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        first = FeedBot(running)
        quicken(first)
        first.worker.send_timeout = 30.0  # it waits for Discord; it is stopped instead
        await first.slash("subscribe", channel="papers")
        await fake.wait_for_messages("papers", 6)
        held = fake.hold("POST", r"/channels/\d+/messages$")
        await fake.wait_for(lambda: held.hits == 1, describe="a post in flight")
        before = first.posted("papers")
    # The bot stopped in the middle of the fan-out, with that post in flight…
    assert 6 <= len(before) < 20
    ((nonce,),) = maybe_sent(db)  # attempted, not recorded: the database knows no more
    held.release()  # …and Discord creates it now, after the bot is gone.
    await fake.wait_for_messages("papers", len(before) + 1)
    accepted = fake.messages("papers")[-1]
    assert accepted["nonce"] == nonce

    # A new bot takes over the same database: it finds that post and sends only the rest.
    async with start_bot(fake, fake_hf, db, clock=clock, feed_first_batch=100) as running:
        second = FeedBot(running)
        quicken(second)
        await fake.wait_for_messages("papers", 20)
        await second.idle()
        assert second.posted("papers") == by_upvotes(chosen)
        assert len(fake.messages("papers")) == 20
        assert fake.messages("papers")[len(before)]["id"] == accepted["id"]
        assert maybe_sent(db) == []
        listing = await running.services.feed.list_for_guild(fake.guild_id)
        assert [(s.delivered, s.pending) for s in listing] == [(20, 0)]


def maybe_sent(db: Path) -> list[tuple[str]]:
    """Nonces of deliveries attempted but not recorded as sent."""
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return list(
            conn.execute(
                "SELECT nonce FROM outbox"
                " WHERE kind = 'post' AND state = 'pending' AND attempts > 0"
            )
        )


# --- failures -------------------------------------------------------------------------------


async def test_a_403_pauses_the_channel_with_one_notice_and_others_carry_on(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    papers = fake.channel("papers")
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    fake.fail("POST", rf"/channels/{papers}/messages$", 403, code=50013)

    chosen = items(5)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("agents") == by_upvotes(chosen)
    assert feed_bot.posted("papers") == []
    (notice,) = feed_bot.notices("papers")
    assert "paused posting papers here" in notice
    assert "/feed subscribe" in notice

    await feed_bot.poll()  # more polls: no more notices, no more attempts
    assert len(feed_bot.notices("papers")) == 1
    listing = text_of(await feed_bot.slash("list"))
    assert "⏸️ paused" in listing
    assert "Discord refused to post (403)" in listing
    status = text_of(await feed_bot.slash("status"))
    assert "Paused (1)" in status
    assert "deliveries waiting: 5" in status

    # The admin fixed it and subscribes again: the waiting papers go out, once.
    await feed_bot.subscribe("papers")
    assert feed_bot.posted("papers") == by_upvotes(chosen)


async def test_losing_embed_links_after_subscribing_pauses_with_a_precise_notice(
    feed_bot: FeedBot,
) -> None:
    await feed_bot.subscribe("papers")
    feed_bot.fake.deny_bot("papers", Permission.EMBED_LINKS)
    await feed_bot.fake.settle()
    feed_bot.serve(items(3))
    await feed_bot.poll()
    assert feed_bot.posted("papers") == []
    (notice,) = feed_bot.notices("papers")
    assert "I'm missing Embed Links in this channel" in notice


async def test_a_deleted_channel_loses_its_subscription(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    fake.delete_channel("papers")
    await fake.settle()
    feed_bot.serve(items(4))
    await feed_bot.poll()
    assert len(feed_bot.posted("agents")) == 4
    listing = text_of(await feed_bot.slash("list"))
    assert "1 subscribed channel(s)" in listing
    assert f"<#{fake.channel('agents')}>" in listing
    assert [e.status for e in fake.errors] == [404]


async def test_5xx_and_timeouts_are_retried_and_nothing_is_lost_or_doubled(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    papers = fake.channel("papers")
    await feed_bot.subscribe("papers")
    route = rf"/channels/{papers}/messages$"
    fake.fail("POST", route, 500)  # discord.py retries this one itself
    fake.fail("POST", route, 503, times=3)  # these come back to the worker's backoff
    fake.slow("POST", route, seconds=1.0)  # the worker gives up after 0.5 s; Discord does not

    chosen = items(6)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    await fake.wait_for(
        lambda: not fake.faults.active or all(f.exhausted for f in fake.faults.active)
    )
    await fake.wait_for_messages("papers", 6)
    await feed_bot.idle()
    assert sorted(feed_bot.posted("papers")) == sorted(by_upvotes(chosen))
    assert len(fake.messages("papers")) == 6
    assert {e.status for e in fake.errors} >= {500, 503}


async def test_one_hanging_channel_does_not_hold_up_the_others(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    slow = fake.channel("papers")
    fake.add_channel("agents")
    await fake.settle()
    await feed_bot.subscribe("papers")
    await feed_bot.subscribe("agents")
    hang = fake.slow("POST", rf"/channels/{slow}/messages$", seconds=1.5, times=None)

    chosen = items(8)
    feed_bot.serve(chosen)
    await feed_bot.running.poll()
    await fake.wait_for(lambda: len(feed_bot.posted("agents")) == 8)
    assert feed_bot.posted("papers") == []

    fake.faults.active.remove(hang)  # the channel recovers
    await fake.wait_for(lambda: len(feed_bot.posted("papers")) == 8, timeout=10)
    await feed_bot.idle()
    assert sorted(feed_bot.posted("papers")) == sorted(by_upvotes(chosen))


async def test_429s_are_honoured_and_the_post_still_goes_out_once(feed_bot: FeedBot) -> None:
    fake = feed_bot.fake
    papers = fake.channel("papers")
    await feed_bot.subscribe("papers")
    route = rf"/channels/{papers}/messages$"
    fake.fail("POST", route, 429, times=2, retry_after=0.05)
    fake.fail("POST", route, 429, retry_after=0.05, is_global=True)

    chosen = items(3)
    feed_bot.serve(chosen)
    await feed_bot.poll()
    assert feed_bot.posted("papers") == by_upvotes(chosen)
    assert fake.stats["http_429"] == 3


async def test_a_hugging_face_outage_is_announced_once_and_so_is_its_end(
    feed_bot: FeedBot, clock: FakeClock
) -> None:
    await feed_bot.subscribe("papers")
    last_answer = clock()  # the start-up poll
    feed_bot.hf.outage = True
    for _ in range(OUTAGE_NOTICE_AFTER + 2):
        await feed_bot.poll()
    (notice,) = feed_bot.notices("papers")
    assert "I can't reach Hugging Face" in notice
    # A moment: a Discord timestamp, which each reader sees in their own time zone.
    assert f"(no answer since <t:{int(last_answer.timestamp())}:f>)" in notice
    status = text_of(await feed_bot.slash("status"))
    assert f"The last {OUTAGE_NOTICE_AFTER + 2} poll(s) failed" in status

    feed_bot.hf.outage = False
    feed_bot.serve(items(2))
    await feed_bot.poll()
    await feed_bot.poll()
    notices = feed_bot.notices("papers")
    assert len(notices) == 2
    assert "Hugging Face answers again" in notices[1]
    assert len(feed_bot.posted("papers")) == 2
    assert "failed" not in text_of(await feed_bot.slash("status")).split("Papers stored")[0]


# --- filters, preview, live upvotes ---------------------------------------------------------


async def test_preview_shows_what_would_be_posted_and_which_filter_blocked_the_rest(
    feed_bot: FeedBot,
) -> None:
    feed_bot.serve(items())
    await feed_bot.poll()
    await feed_bot.subscribe("papers", keywords="agents, -evoarena", min_upvotes=40)
    text = text_of(await feed_bot.slash("preview", channel="papers"))
    assert "would be posted" in text
    assert "excluded: mentions “evoarena” in the title" in text
    assert "mentions none of: agents" in text
    assert "✅ already posted" in text
    listing = text_of(await feed_bot.slash("list"))
    assert "≥ 40 upvotes; any of: agents; none of: evoarena" in listing

    other = text_of(await feed_bot.slash("preview", channel="general"))
    assert "is not subscribed" in other


async def test_posts_are_edited_when_upvotes_change_meaningfully(
    feed_bot: FeedBot, clock: FakeClock
) -> None:
    fake = feed_bot.fake
    top, second = RAW_ITEMS[0]["paper"]["id"], RAW_ITEMS[1]["paper"]["id"]  # 90 and 69
    await feed_bot.subscribe("papers", style="full")  # the card with an "Upvotes" field
    feed_bot.serve(items(2))
    await feed_bot.poll()
    messages = dict(zip(feed_bot.posted("papers"), fake.messages("papers"), strict=True))

    feed_bot.serve(items(2, **{key(top): 140, key(second): 70}))
    await feed_bot.poll()
    assert fake.requests_to("PATCH", r"/messages/") == []  # not within 30 minutes of posting

    clock.advance(minutes=31)
    await feed_bot.poll()
    edits = fake.requests_to("PATCH", r"/messages/")
    assert [r.path.rsplit("/", 1)[1] for r in edits] == [messages[top]["id"]]  # +1 is noise
    shown = fake.message(int(messages[top]["id"]))["embeds"][0]["fields"]
    assert any(f["name"] == "Upvotes" and "140" in f["value"] for f in shown)

    feed_bot.serve(items(2, **{key(top): 300, key(second): 70}))
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 1  # at most every 30 minutes
    clock.advance(minutes=30)
    await feed_bot.poll()
    assert len(fake.requests_to("PATCH", r"/messages/")) == 2


# --- subscribing again, long lists, honest previews -----------------------------------------


def _passing(keywords: str, min_upvotes: int) -> list[str]:
    """Today's recorded papers a filter lets through, most upvoted first."""
    wanted = FeedFilter.parse(keywords, min_upvotes)
    return by_upvotes(
        [item for item in RAW_ITEMS if wanted.matches(PAPERS_BY_ID[item["paper"]["id"]])]
    )


async def test_subscribing_again_resumes_a_paused_channel_with_its_filters(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    await feed_bot.subscribe("papers", keywords="agents", min_upvotes=40)
    fake.fail("POST", rf"/channels/{fake.channel('papers')}/messages$", 403, code=50013)
    feed_bot.serve(items())
    await feed_bot.poll()
    assert feed_bot.posted("papers") == []
    assert "⏸️ paused" in text_of(await feed_bot.slash("list"))

    # What the pause notice tells the admin to do, with no options at all:
    text = await feed_bot.subscribe("papers")
    assert f"Resumed <#{fake.channel('papers')}>: ≥ 40 upvotes; any of: agents." in text
    listing = text_of(await feed_bot.slash("list"))
    assert "▶️ active" in listing
    assert "≥ 40 upvotes; any of: agents" in listing
    expected = _passing("agents", 40)
    assert expected
    assert feed_bot.posted("papers") == expected  # the waiting papers, still filtered


async def test_omitted_options_keep_their_value_and_star_or_zero_clear_them(
    feed_bot: FeedBot,
) -> None:
    channel = f"<#{feed_bot.fake.channel('papers')}>"
    text = await feed_bot.subscribe("papers", keywords="agents, -survey", min_upvotes=40)
    assert "`keywords: *`" in text  # the reply says how to clear them
    text = await feed_bot.subscribe("papers", min_upvotes=10)
    assert f"Updated {channel}: ≥ 10 upvotes; any of: agents; none of: survey." in text
    text = await feed_bot.subscribe("papers", keywords="diffusion")
    assert f"Updated {channel}: ≥ 10 upvotes; any of: diffusion." in text
    text = await feed_bot.subscribe("papers")
    assert f"{channel} is already subscribed: ≥ 10 upvotes; any of: diffusion." in text
    text = await feed_bot.subscribe("papers", keywords="*")
    assert f"Updated {channel}: ≥ 10 upvotes." in text
    text = await feed_bot.subscribe("papers", min_upvotes=0)
    assert f"Updated {channel}: every paper." in text

    command, _ = feed_bot.fake.commands.find("feed subscribe", feed_bot.fake.guild_id)
    (subscribe,) = [o for o in command["options"] if o["name"] == "subscribe"]
    descriptions = {o["name"]: o["description"] for o in subscribe["options"]}
    assert "* clears" in descriptions["keywords"]
    assert "0 clears" in descriptions["min_upvotes"]


async def test_the_list_of_many_subscriptions_with_long_filters_fits_discords_limits(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    feed = feed_bot.running.services.feed
    keywords = ", ".join(f"keyword number {n:02d} about models" for n in range(24))
    channels = [fake.add_channel(f"topic-{n:02d}") for n in range(25)]
    await fake.settle()
    for n, channel_id in enumerate(channels):
        await feed.subscribe(
            channel_id=channel_id,
            guild_id=fake.guild_id,
            access=CAN_POST,
            keywords=keywords,
            min_upvotes=n,
        )
        if n % 2:
            await feed.record_forbidden(channel_id, ["Embed Links", "Send Messages"])
    await feed_bot.idle()

    rec = await fake.slash("feed list", user="alice")
    first = (await rec.answer())["embeds"][0]
    assert rec.ephemeral
    seen = [first]
    while True:
        buttons = {c["label"]: c for row in rec.components for c in row["components"]}
        if not buttons or buttons["Next"]["disabled"]:
            break
        turn = await fake.click(rec, label="Next", user="alice")
        await turn.response()
        seen.append(rec.embeds[0])
    assert len(seen) > 1
    shown = "\n".join(text_of({"embeds": [embed]}) for embed in seen)
    for channel_id in channels:
        assert shown.count(f"<#{channel_id}>") == 1
    assert shown.count("⏸️ paused") == 12
    assert "number 23 about models" in shown  # the whole filter is readable
    assert fake.errors == []


async def test_preview_of_a_paused_channel_says_so_and_is_honest_about_each_paper(
    feed_bot: FeedBot,
) -> None:
    fake = feed_bot.fake
    route = rf"/channels/{fake.channel('papers')}/messages$"
    await feed_bot.subscribe("papers")
    chosen = items(4)
    fake.fail("POST", route, 400, code=50035)  # Discord refuses the first post outright
    feed_bot.serve(chosen)
    await feed_bot.poll()
    refused, *sent = by_upvotes(chosen)
    assert feed_bot.posted("papers") == sent

    fake.fail("POST", route, 403, code=50013)
    feed_bot.serve(items(6))
    await feed_bot.poll()
    text = text_of(await feed_bot.slash("preview", channel="papers"))
    assert "⏸️ Paused" in text
    assert "missing View Channel, Send Messages or Embed Links" in text
    assert "Nothing is posted until an admin fixes that" in text
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n\n")}
    assert f"{refused}) — ⚠️ dropped: 400" in sections["**Dropped**"]
    for paper_id in sent:
        assert f"{paper_id}) — ✅ already posted" in sections["**Already posted**"]
    waiting = sections["**Would post once resumed**"]
    later = set(by_upvotes(items(6))) - set(by_upvotes(chosen))  # listed after the pause
    assert {p for p in by_upvotes(items(6)) if p in waiting} == later


async def test_preview_escapes_titles_from_hugging_face(feed_bot: FeedBot) -> None:
    chosen = items(2)
    chosen[0]["paper"]["title"] = chosen[0]["title"] = "**Loud** claims <@&123> and __under__"
    feed_bot.serve(chosen)
    await feed_bot.poll()
    await feed_bot.subscribe("papers")
    text = text_of(await feed_bot.slash("preview", channel="papers"))
    assert r"\*\*Loud\*\*" in text
    assert r"\_\_under\_\_" in text
    assert "<@&123>" not in text
    assert "<\u200b@&123>" in text
