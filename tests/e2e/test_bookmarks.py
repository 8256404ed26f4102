"""Bookmarks end to end: the real bot, the fake Discord, the fake Hugging Face, a real SQLite file.

Papers reach #papers the way they do in production: a /feed subscription, a poll, the delivery
worker. Members then bookmark them with the 🔖 reaction or the Bookmark button and read their list
with /bookmarks. Reactions get no reply, so the tests wait for the bot's own log line about each
one (a logging handler wakes the fake's waiters): event-driven, no sleeps.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import discord
import pytest

from cogs.bookmarks import paper_post_view
from tests.conftest import HF_API
from tests.e2e.bot_fixtures import FakeClock, RunningBot, start_bot
from tests.fakes.fake_discord import FakeDiscord, InteractionRecord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

DAY = date(2026, 6, 12)
RAW_ITEMS: list[dict[str, Any]] = json.loads(
    (HF_API / f"daily_papers_{DAY}.json").read_text(encoding="utf-8")
)
TITLES = {item["paper"]["id"]: " ".join(item["title"].split()) for item in RAW_ITEMS}
POSTED = 12  # papers served for the day, hence auto-posted to #papers
BOOKMARK = "🔖"
PAPER_URL = re.compile(r"/papers/(?P<id>[^/?#]+)$")
LISTED_ID = re.compile(r"arXiv (\S+) · saved")


# --- watching the bot's log -----------------------------------------------------------------


class LogWatch(logging.Handler):
    """Collects the bookmark loggers' lines and wakes the fake's waiters on each one."""

    def __init__(self, fake: FakeDiscord) -> None:
        super().__init__(logging.DEBUG)
        self.fake = fake
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.fake.notifier.changed()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def wait(self, text: str, count: int) -> None:
        await self.fake.wait_for(
            lambda: self.count(text) >= count, describe=f"{count} log line(s) with {text!r}"
        )


@pytest.fixture
def watch(fake_discord: FakeDiscord) -> Iterator[LogWatch]:
    handler = LogWatch(fake_discord)
    loggers = [logging.getLogger(name) for name in ("cogs.bookmarks", "bot.bookmarks")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- the bot, its posts, and what members do ------------------------------------------------


@dataclass
class Shelf:
    """The running bot with #papers full of paper posts, and the moves a member makes."""

    running: RunningBot
    watch: LogWatch
    posts: list[tuple[int, str]]  # (message id, paper id), oldest first

    @property
    def fake(self) -> FakeDiscord:
        return self.running.fake

    @property
    def clock(self) -> FakeClock:
        return self.running.clock

    def user_id(self, user: str) -> int:
        return self.fake.user(user)

    async def react(self, user: str, message_id: int, *, channel: str = "papers") -> None:
        """React with 🔖 and wait until the bot has handled it."""
        text = f"reaction on message {message_id}"
        seen = self.watch.count(text)
        self.clock.advance(minutes=1)  # so "newest first" has something to sort by
        assert await self.fake.react(channel, message_id, BOOKMARK, user=user) is not None
        await self.watch.wait(text, seen + 1)

    async def unreact(self, user: str, message_id: int) -> None:
        """Take ``user``'s 🔖 off the message, as they would or as a moderator would: Discord
        sends the same event, naming ``user``, either way.

        The bot leaves bookmarks alone on that event, so there is no line to wait for: it waits
        for the bot's verdict on a later reaction (to a chat message) instead, which the gateway
        delivers after this one.
        """
        assert await self.fake.unreact("papers", message_id, BOOKMARK, user=user) is not None
        chatter = await self.fake.post_message("general", "nice one", user=user)
        await self.react(user, int(chatter["id"]), channel="general")

    async def command(self, command: str, *, user: str, **options: Any) -> InteractionRecord:
        """Run /bookmarks ``command``; every answer must be private to ``user``."""
        record = await self.fake.slash(f"bookmarks {command}", user=user, **options)
        await record.answer()
        assert record.ephemeral, f"/bookmarks {command} answered in public"
        return record

    async def listed(self, user: str) -> list[str]:
        """Paper ids on the first page of ``user``'s /bookmarks list, as shown."""
        record = await self.command("list", user=user)
        return LISTED_ID.findall(record.embeds[0].get("description", ""))


async def autopost(running: RunningBot, count: int) -> list[tuple[int, str]]:
    """Subscribe #papers, serve ``count`` papers for today, poll, wait until all are posted."""
    fake = running.fake
    worker = running.bot.get_cog("FeedCog").worker  # type: ignore[union-attr]
    record = await fake.slash("feed subscribe", user="alice", options={"channel": "papers"})
    await record.answer()
    running.hf.set_day(DAY, copy.deepcopy(RAW_ITEMS[:count]))
    await running.poll()
    await asyncio.wait_for(worker.wait_until_idle(), 10)
    return posts_in(fake)


def posts_in(fake: FakeDiscord) -> list[tuple[int, str]]:
    found = []
    for message in fake.messages("papers"):
        for embed in message["embeds"]:
            match = PAPER_URL.search(embed.get("url") or "")
            if match:
                found.append((int(message["id"]), match["id"]))
    return found


@pytest.fixture
async def hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.on(DAY, hour=9)


@pytest.fixture
async def shelf(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path, clock: FakeClock, watch: LogWatch
) -> AsyncIterator[Shelf]:
    async with start_bot(fake_discord, hf, tmp_path / "papers.db", clock=clock) as running:
        posts = await autopost(running, POSTED)
        assert len(posts) == POSTED
        yield Shelf(running, watch, posts)


# --- reactions --------------------------------------------------------------------------------


async def test_two_members_bookmark_the_same_post(shelf: Shelf) -> None:
    message_id, paper_id = shelf.posts[0]

    await shelf.react("alice", message_id)
    await shelf.react("bob", message_id)

    assert await shelf.listed("alice") == [paper_id]
    assert await shelf.listed("bob") == [paper_id]
    # Reactions get no reply: nothing but the feed's posts was ever written in the channel.
    assert len(shelf.fake.messages("papers")) == POSTED


async def test_a_reaction_taken_off_never_deletes_the_bookmark(shelf: Shelf) -> None:
    """A moderator clearing someone's 🔖 sends the same event as the member taking it back, so
    the event deletes nothing: the member un-bookmarks with the button or /bookmarks remove."""
    message_id, paper_id = shelf.posts[0]
    await shelf.react("alice", message_id)
    await shelf.react("bob", message_id)

    await shelf.unreact("bob", message_id)

    assert await shelf.listed("bob") == [paper_id]
    assert await shelf.listed("alice") == [paper_id]
    removed = await shelf.command("remove", user="bob", paper=paper_id)
    assert removed.content.startswith("Removed **")
    assert await shelf.listed("bob") == []
    assert await shelf.listed("alice") == [paper_id]


async def test_a_public_papers_show_card_bookmarks_like_an_auto_post(
    shelf: Shelf, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /papers show registers its card right after Discord shows it: wait for that, not a timer.
    feed = shelf.running.services.feed
    registered = asyncio.Event()
    record_post = feed.record_post

    async def record_and_tell(*args: Any, **kwargs: Any) -> Any:
        result = await record_post(*args, **kwargs)
        registered.set()
        return result

    monkeypatch.setattr(feed, "record_post", record_and_tell)
    paper_id = shelf.posts[3][1]
    card = await shelf.fake.slash("papers show", user="bob", channel="papers", paper=paper_id)
    card_id = int((await card.answer())["id"])
    assert not card.ephemeral
    await asyncio.wait_for(registered.wait(), 5)

    await shelf.react("alice", card_id)
    assert await shelf.listed("alice") == [paper_id]
    clicked = await shelf.fake.click(card_id, label="Bookmark", user="alice")
    assert (await clicked.answer())["content"].startswith("Removed **")
    assert await shelf.listed("alice") == []


async def test_the_bots_own_reaction_is_nobodys_bookmark(shelf: Shelf) -> None:
    fake = shelf.fake
    message_id, _ = shelf.posts[0]
    assert fake.reaction_users(message_id, BOOKMARK) == [fake.bot_user_id]  # the feed's hint
    await shelf.react("alice", message_id)  # handled after the bot's own, earlier reactions
    bookmarks = shelf.running.services.bookmarks
    assert await bookmarks.count(fake.bot_user_id) == 0


async def test_other_emojis_and_messages_that_are_not_paper_posts_are_ignored(
    shelf: Shelf,
) -> None:
    fake = shelf.fake
    message_id, paper_id = shelf.posts[0]
    chatter = await fake.post_message("papers", "what a week for agents", user="bob")
    listing = await fake.slash("papers today", user="bob", channel="papers")  # a public bot reply
    listing_id = int((await listing.answer())["id"])

    assert await fake.react("papers", message_id, "👍", user="alice") is not None
    for other in (int(chatter["id"]), listing_id):
        await shelf.react("alice", other)  # waits for the bot's "ignored" verdict
    await shelf.react("alice", shelf.posts[1][0])  # and this one after the 👍 above

    assert shelf.watch.count("ignored: it shows no paper") == 2
    assert await shelf.listed("alice") == [shelf.posts[1][1]]
    assert paper_id not in await shelf.listed("alice")


# --- the Bookmark button ----------------------------------------------------------------------


async def test_the_bookmark_button_saves_then_removes_privately(shelf: Shelf) -> None:
    fake = shelf.fake
    (first, first_paper), (second, _) = shelf.posts[:2]
    await shelf.react("alice", second)

    saved = await fake.click(first, label="Bookmark", user="alice")
    assert (await saved.answer())["content"] == "Saved — 2 papers in your bookmarks."
    assert saved.ephemeral
    assert first_paper in await shelf.listed("alice")

    bob = await fake.click(first, label="Bookmark", user="bob")
    assert (await bob.answer())["content"] == "Saved — 1 paper in your bookmarks."
    assert bob.ephemeral

    removed = await fake.click(first, label="Bookmark", user="alice")
    text = (await removed.answer())["content"]
    assert removed.ephemeral
    assert text.startswith("Removed **")
    assert text.endswith("— 1 paper left in your bookmarks.")
    assert first_paper not in await shelf.listed("alice")
    assert await shelf.listed("bob") == [first_paper]
    assert len(fake.messages("papers")) == POSTED  # nothing public was said


# --- /bookmarks list, remove, export, clear --------------------------------------------------


async def test_the_list_is_newest_first_in_pages_with_the_date_saved(shelf: Shelf) -> None:
    fake = shelf.fake
    for message_id, _ in shelf.posts:  # 12 bookmarks, a minute apart
        await shelf.react("alice", message_id)
    newest_first = [paper_id for _, paper_id in reversed(shelf.posts)]

    record = await shelf.command("list", user="alice")
    first = record.embeds[0]
    assert LISTED_ID.findall(first["description"]) == newest_first[:10]
    assert first["footer"]["text"] == "Page 1/2 · 12 saved"
    saved_on = re.findall(r"saved <t:(\d+):d>", first["description"])
    assert len(saved_on) == 10
    assert sorted(saved_on, reverse=True) == saved_on

    turn = await fake.click(record, label="Next")
    await turn.response()
    second = record.embeds[0]
    assert LISTED_ID.findall(second["description"]) == newest_first[10:]
    assert second["footer"]["text"] == "Page 2/2 · 12 saved"


async def test_an_empty_list_says_how_to_save_papers(shelf: Shelf) -> None:
    record = await shelf.command("list", user="bob")
    assert "Nothing saved yet" in record.embeds[0]["description"]


async def test_remove_suggests_and_removes_only_the_users_own_bookmarks(shelf: Shelf) -> None:
    fake = shelf.fake
    (a1, alice_paper), (a2, _), (b1, bob_paper) = shelf.posts[:3]
    for user, message_id in (("alice", a1), ("alice", a2), ("bob", b1)):
        await shelf.react(user, message_id)

    offered = await fake.autocomplete("bookmarks remove", focused="paper", value="", user="bob")
    assert [choice["value"] for choice in offered] == [bob_paper]
    assert TITLES[bob_paper][:40] in offered[0]["name"]
    for probe in (alice_paper, TITLES[alice_paper][:25]):
        assert (
            await fake.autocomplete("bookmarks remove", focused="paper", value=probe, user="bob")
            == []
        )

    refused = await shelf.command("remove", user="bob", paper=alice_paper)
    assert "not in your bookmarks" in refused.content
    assert alice_paper not in refused.content
    assert alice_paper in await shelf.listed("alice")

    removed = await shelf.command("remove", user="alice", paper=alice_paper)
    assert removed.content.startswith("Removed **")
    assert "1 paper left" in removed.content
    assert alice_paper not in await shelf.listed("alice")
    assert await shelf.listed("bob") == [bob_paper]


async def test_export_is_a_private_bibtex_file_that_reads_back(shelf: Shelf) -> None:
    chosen = shelf.posts[:3]
    for message_id, _ in chosen:
        await shelf.react("alice", message_id)

    record = await shelf.command("export", user="alice")

    assert "3 papers" in record.content
    [attachment] = record.attachments
    assert attachment.filename == "bookmarks.bib"
    entries = read_entries(attachment.data.decode("utf-8"))
    assert [entry["eprint"] for entry in entries] == [p for _, p in reversed(chosen)]
    assert len({entry["key"] for entry in entries}) == 3
    for entry in entries:
        assert entry["archivePrefix"] == "arXiv"
        assert entry["url"] == f"https://arxiv.org/abs/{entry['eprint']}"
        assert untex(entry["title"]) == TITLES[entry["eprint"]]
        assert entry["year"] == "2026"

    nothing = await shelf.command("export", user="bob")
    assert "no bookmarks to export" in nothing.content
    assert nothing.attachments == []


async def test_clear_asks_first_and_clears_only_the_askers_list(shelf: Shelf) -> None:
    fake = shelf.fake
    for message_id, _ in shelf.posts[:3]:
        await shelf.react("alice", message_id)
    await shelf.react("bob", shelf.posts[0][0])

    asked = await shelf.command("clear", user="alice")
    assert "Remove all 3 papers" in asked.content
    cancel = await fake.click(asked, label="Cancel")
    await cancel.response()
    assert "Nothing removed" in asked.content
    assert asked.components == []
    assert len(await shelf.listed("alice")) == 3

    asked = await shelf.command("clear", user="alice")
    confirm = await fake.click(asked, label="Remove all")
    await confirm.response()
    assert asked.content == "Removed 3 papers from your bookmarks."
    assert await shelf.listed("alice") == []
    assert await shelf.listed("bob") == [shelf.posts[0][1]]

    empty = await shelf.command("clear", user="alice")
    assert empty.content == "Your bookmarks are already empty."


async def test_nothing_of_one_members_list_reaches_another(shelf: Shelf) -> None:
    """Bob tries every command on Alice's papers and sees only his own list."""
    fake = shelf.fake
    alice_papers = {paper_id for _, paper_id in shelf.posts[:4]}
    for message_id, _ in shelf.posts[:4]:
        await shelf.react("alice", message_id)
    await shelf.react("bob", shelf.posts[5][0])
    bob_paper = shelf.posts[5][1]

    replies: list[InteractionRecord] = [
        await shelf.command("list", user="bob"),
        await shelf.command("export", user="bob"),
        *[await shelf.command("remove", user="bob", paper=p) for p in sorted(alice_papers)],
    ]
    choices = await fake.autocomplete("bookmarks remove", focused="paper", value="", user="bob")

    seen_by_bob = json.dumps([reply.final() for reply in replies]) + json.dumps(choices)
    seen_by_bob += "".join(a.data.decode() for reply in replies for a in reply.attachments)
    for paper_id in alice_papers:
        assert paper_id not in seen_by_bob
        assert TITLES[paper_id][:30] not in seen_by_bob
    assert bob_paper in seen_by_bob
    assert alice_papers == set(await shelf.listed("alice"))


# --- restarts and Hugging Face outages ------------------------------------------------------


async def test_bookmarks_reactions_and_buttons_survive_a_restart(
    fake_discord: FakeDiscord, hf: FakeHF, tmp_path: Path, clock: FakeClock, watch: LogWatch
) -> None:
    db = tmp_path / "papers.db"
    async with start_bot(fake_discord, hf, db, clock=clock) as running:
        posts = await autopost(running, 3)
        shelf = Shelf(running, watch, posts)
        await shelf.react("alice", posts[0][0])
        clock.advance(minutes=1)
        await (await fake_discord.click(posts[1][0], label="Bookmark", user="alice")).answer()

    async with start_bot(fake_discord, hf, db, clock=clock) as running:
        shelf = Shelf(running, watch, posts)
        assert await shelf.listed("alice") == [posts[1][1], posts[0][1]]

        # The old post's button and reaction still work: nothing lived only in memory.
        removed = await fake_discord.click(posts[1][0], label="Bookmark", user="alice")
        assert (await removed.answer())["content"].startswith("Removed")
        await shelf.react("bob", posts[2][0])
        assert await shelf.listed("alice") == [posts[0][1]]
        assert await shelf.listed("bob") == [posts[2][1]]


async def test_a_reaction_while_hugging_face_is_down_loses_nothing(shelf: Shelf) -> None:
    """An old post whose paper was never stored: the bookmark is kept, its details come later."""
    fake, running = shelf.fake, shelf.running
    item = RAW_ITEMS[30]
    paper_id = item["paper"]["id"]
    assert await running.services.papers.get(paper_id) is None
    channel = running.bot.get_channel(fake.channel("papers"))
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send(f"arXiv {paper_id}", view=paper_post_view(paper_id))
    await running.services.feed.posts.record_post(
        message.id, message.channel.id, fake.guild_id, paper_id, "feed", 0, 0, now=shelf.clock()
    )
    running.hf.outage = True

    await shelf.react("alice", message.id)

    assert shelf.watch.count(f"bookmark of {paper_id} saved without its details") == 1
    record = await shelf.command("list", user="alice")
    assert f"arXiv {paper_id} (details not fetched yet)" in record.embeds[0]["description"]
    clicked = await fake.click(message.id, label="Bookmark", user="bob")
    text = (await clicked.answer())["content"]
    assert text.startswith("Saved — 1 paper in your bookmarks.")
    assert "Hugging Face is not answering" in text

    running.hf.outage = False
    running.hf.set_paper(paper_id, copy.deepcopy(item["paper"]))

    assert await shelf.listed("alice") == [paper_id]
    record = await shelf.command("list", user="alice")
    assert "details not fetched yet" not in record.embeds[0]["description"]
    assert await running.services.papers.get(paper_id) is not None
    export = await shelf.command("export", user="bob")
    [entry] = read_entries(export.attachments[0].data.decode("utf-8"))
    assert untex(entry["title"]) == TITLES[paper_id]


# --- reading BibTeX back ------------------------------------------------------------------------

ENTRY = re.compile(r"@misc\{(?P<key>[a-z0-9-]+),\n(?P<body>(?:  .*\n)*?)\}\n")
FIELD = re.compile(r"  (\w+) = (?:\{(.*)\}|([a-z]+)),")


def read_entries(text: str) -> list[dict[str, str]]:
    """Every @misc entry: one field per line, braces balanced, nothing else in the file."""
    entries = []
    for match in ENTRY.finditer(text):
        entry = {"key": match["key"]}
        for line in match["body"].splitlines():
            field = FIELD.fullmatch(line)
            assert field is not None, f"unreadable field line {line!r}"
            value = field[2] if field[2] is not None else field[3]
            assert value.count("{") == value.count("}"), f"unbalanced {line!r}"
            entry[field[1]] = value
        entries.append(entry)
    assert ENTRY.sub("", text).strip() == "", "text outside entries"
    return entries


def untex(value: str) -> str:
    """A title as a reader sees it: escapes undone, case-protecting braces dropped."""
    value = re.sub(r"\\text(\w+)\{\}", lambda m: {"backslash": "\\"}.get(m[1], "?"), value)
    return re.sub(r"\\([&%$#_])", r"\1", value).replace("{", "").replace("}", "")
