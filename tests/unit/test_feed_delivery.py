"""The delivery engine's look-back: recognising its own post of a paper among recent messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from bot.delivery import DeliveryEngine, SentMessage
from bot.delivery.engine import RecentPosts
from bot.feed import ChannelAccess
from bot.models import Paper
from cogs.bookmarks import paper_post_view
from cogs.discord_sender import HISTORY_LIMIT, DiscordSender

BOT, SOMEONE = 1, 2
PAPER = Paper(id="2606.13681", title="A paper", abstract="")
OTHER = Paper(id="2606.00001", title="Another paper", abstract="")


def message(
    author: int,
    *,
    url: str | None = None,
    custom_id: str | None = None,
    interaction: bool = False,
) -> Any:
    """A message as discord.py reads it; ``interaction``: a command's answer (a show card),
    which Discord marks with its interaction and sends through the application's webhook."""
    button = SimpleNamespace(custom_id=custom_id)
    return SimpleNamespace(
        id=hash((author, url, custom_id, interaction)) & 0xFFFF,
        author=SimpleNamespace(id=author),
        embeds=[SimpleNamespace(url=url, footer=SimpleNamespace(text=None))] if url else [],
        components=[SimpleNamespace(children=[button])] if custom_id else [],
        interaction_metadata=SimpleNamespace(id=99) if interaction else None,
        webhook_id=BOT if interaction else None,
        reactions=[],
    )


class Channel:
    def __init__(self, messages: list[Any], *, fails: bool = False) -> None:
        self.messages = messages
        self.fails = fails
        self.reads: list[int | None] = []

    async def history(self, *, limit: int | None) -> AsyncIterator[Any]:
        self.reads.append(limit)
        if self.fails:
            raise TimeoutError
        for item in self.messages[:limit]:
            yield item


def recent_posts(channel: Channel, access: ChannelAccess) -> RecentPosts:
    """The look-back of channel 5 through the Discord sender, reading ``channel``."""
    client: Any = SimpleNamespace(
        user=SimpleNamespace(id=BOT),
        get_channel=lambda _id: None,
        get_partial_messageable=lambda _id: channel,
    )
    sender = DiscordSender(client, hint="", bookmark_emoji="🔖", view_factory=paper_post_view)
    feed: Any = None  # the look-back never reads the store
    engine = DeliveryEngine(feed, sender, bookmark_emoji="🔖", requests_per_second=1000.0)
    return RecentPosts(engine, 5, access)


CAN_READ = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)
CANNOT_READ = ChannelAccess(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=False
)


async def test_the_bots_post_is_found_by_its_link_or_its_bookmark_button() -> None:
    by_link = message(BOT, url=PAPER.hf_url)
    by_button = message(BOT, custom_id=f"papers-bot:bookmark:{OTHER.id}")
    impostor = message(SOMEONE, url=PAPER.hf_url)  # a member pasted the link
    channel = Channel([impostor, by_button, by_link])
    recent = recent_posts(channel, CAN_READ)
    assert await recent.find(PAPER) == SentMessage(by_link.id)
    assert await recent.find(OTHER) == SentMessage(by_button.id)
    assert await recent.find(Paper(id="2606.99999", title="t", abstract="")) is None
    assert channel.reads == [HISTORY_LIMIT]  # read once for the whole batch


async def test_without_read_message_history_or_when_reading_fails_nothing_is_found() -> None:
    post = message(BOT, url=PAPER.hf_url)
    blind = Channel([post])
    assert await recent_posts(blind, CANNOT_READ).find(PAPER) is None
    assert blind.reads == []  # not even asked: Discord would answer with nothing
    broken = Channel([post], fails=True)
    recent = recent_posts(broken, CAN_READ)
    assert await recent.find(PAPER) is None
    assert await recent.find(PAPER) is None
    assert broken.reads == [HISTORY_LIMIT]  # one failed read, then the nonce alone


async def test_a_show_card_of_the_paper_is_not_the_feeds_post() -> None:
    button = f"papers-bot:bookmark:{PAPER.id}"
    show_card = message(BOT, url=PAPER.hf_url, custom_id=button, interaction=True)
    feed_post = message(BOT, url=PAPER.hf_url, custom_id=button)
    alone = recent_posts(Channel([show_card]), CAN_READ)
    assert await alone.find(PAPER) is None  # a /papers show card does not count as posted
    both = recent_posts(Channel([show_card, feed_post]), CAN_READ)
    assert await both.find(PAPER) == SentMessage(feed_post.id)
