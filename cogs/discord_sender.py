"""The delivery engine's ``Sender``, implemented with discord.py.

Discord's answers are read by status and JSON error code (``bot.outcomes.read_answer``) and
raised as ``SendFailed``; timeouts and network errors are transient. The look-back reads the
channel's latest messages and keeps the feed's own posts: plain messages of the bot's, never a
command's answer (a public /papers show card of the same paper), which Discord marks as one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import aiohttp
import discord

from bot.alerts import AlertDigest
from bot.delivery import ForumPost, RecentPost, SendFailed, SentMessage
from bot.embeds import alert_dm_embed, card_embed, channel_digest_embed, digest_day_of
from bot.feed import ChannelAccess, ChannelDigest
from bot.models import HF_PAPERS_URL, CardStyle, Paper
from bot.outcomes import THREAD_ALREADY_CREATED, Outcome, read_answer, transient
from cogs.bookmarks import BUTTON_PREFIX

T = TypeVar("T")
C = TypeVar("C", bound=discord.abc.GuildChannel)

# Messages read back before resending a delivery that may already be in the channel.
HISTORY_LIMIT = 50

# The buttons of a post: (paper id, card style) → view.
ViewFactory = Callable[[str, CardStyle], discord.ui.View]
Sendable = discord.abc.Messageable


def channel_access(permissions: discord.Permissions) -> ChannelAccess:
    """The feed's view of what Discord lets the bot do in a channel."""
    return ChannelAccess(
        view_channel=permissions.view_channel,
        send_messages=permissions.send_messages,
        embed_links=permissions.embed_links,
        add_reactions=permissions.add_reactions,
        read_message_history=permissions.read_message_history,
        create_public_threads=permissions.create_public_threads,
        send_messages_in_threads=permissions.send_messages_in_threads,
        mention_everyone=permissions.mention_everyone,
    )


def role_mentions(roles: Sequence[int]) -> str:
    """The content that pings ``roles``: ``<@&1> <@&2>``."""
    return " ".join(f"<@&{role}>" for role in roles)


def only_roles(roles: Sequence[int]) -> discord.AllowedMentions:
    """Allowed mentions that ping exactly ``roles``: never @everyone, a user or a reply."""
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(id=role) for role in roles] if roles else False,
        replied_user=False,
    )


def outcome_of(exc: BaseException, *, editing: bool = False) -> Outcome | None:
    """What a failed request to Discord means for the outbox; None when the error did not come
    from Discord or the network (a bug, say: the caller decides)."""
    if isinstance(exc, discord.HTTPException):
        text = exc.text or exc.response.reason or ""
        return read_answer(exc.status, exc.code, text, editing=editing)
    if isinstance(exc, discord.RateLimited):
        return transient(f"rate limited for {exc.retry_after}s")
    if isinstance(exc, TimeoutError):
        return transient("timed out")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return transient(f"{type(exc).__name__}: {exc}")
    return None


async def _answer(call: Awaitable[T], *, editing: bool = False) -> T:
    """Await one request; Discord's refusal (or the network's) becomes ``SendFailed``."""
    try:
        return await call
    except Exception as exc:
        outcome = outcome_of(exc, editing=editing)
        if outcome is None:
            raise
        raise SendFailed(outcome) from exc


def answered_an_interaction(message: discord.Message) -> bool:
    """True for a command's answer (a /papers show card, say): Discord marks those, and sends
    them through the application's webhook. The feed's posts are plain channel messages."""
    return message.interaction_metadata is not None or message.webhook_id is not None


def papers_shown(message: discord.Message) -> frozenset[str]:
    """The papers a message of the bot's shows: by its embed's link or its Bookmark button
    (the same custom id on compact and full cards)."""
    found: set[str] = set()
    for embed in message.embeds:
        if embed.url and embed.url.startswith(HF_PAPERS_URL):
            found.add(embed.url.removeprefix(HF_PAPERS_URL))
    for component in message.components:
        for child in getattr(component, "children", ()):
            custom_id = getattr(child, "custom_id", None)
            if isinstance(custom_id, str) and custom_id.startswith(BUTTON_PREFIX):
                found.add(custom_id.removeprefix(BUTTON_PREFIX))
    return frozenset(found)


def _sent(message: discord.Message, emoji: str) -> SentMessage:
    return SentMessage(
        message.id, reacted=any(r.me and str(r.emoji) == emoji for r in message.reactions)
    )


def own_posts(messages: list[discord.Message], me: int, emoji: str) -> list[RecentPost]:
    """The feed's posts among ``messages`` (the bot's plain messages), with what they show."""
    return [
        RecentPost(_sent(message, emoji), papers_shown(message), digest_shown(message))
        for message in messages
        if message.author.id == me and not answered_an_interaction(message)
    ]


def digest_shown(message: discord.Message) -> date | None:
    """The local day of the channel digest a message of the bot's is, or None."""
    for embed in message.embeds:
        if (day := digest_day_of(embed.footer.text)) is not None:
            return day
    return None


class DiscordSender:
    """Sends through a discord.py client: cards with their buttons, notices, edits, reactions."""

    def __init__(
        self,
        client: discord.Client,
        *,
        hint: str,
        bookmark_emoji: str,
        view_factory: ViewFactory | None = None,
    ) -> None:
        self.client = client
        self.hint = hint
        self.bookmark_emoji = bookmark_emoji
        self.view_factory = view_factory

    async def wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    def _channel(self, channel_id: int) -> Sendable:
        channel = self.client.get_channel(channel_id)
        if isinstance(channel, Sendable):
            return channel
        # Not cached (yet): Discord itself will say whether it exists.
        return self.client.get_partial_messageable(channel_id)

    def access(self, channel_id: int) -> ChannelAccess | None:
        channel = self.client.get_channel(channel_id)
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return channel_access(channel.permissions_for(channel.guild.me))
        return None

    def _card(self, paper: Paper, style: CardStyle) -> dict[str, Any]:
        fields: dict[str, Any] = {"embed": card_embed(paper, style, hint=self.hint)}
        if self.view_factory is not None:
            fields["view"] = self.view_factory(paper.id, style)
        return fields

    async def post(
        self,
        channel_id: int,
        paper: Paper,
        nonce: str,
        style: CardStyle,
        mentions: Sequence[int] = (),
    ) -> SentMessage:
        fields = self._card(paper, style)
        if mentions:
            fields["content"] = role_mentions(mentions)
        send = self._channel(channel_id).send(
            nonce=nonce, allowed_mentions=only_roles(mentions), **fields
        )
        return _sent(await _answer(send), self.bookmark_emoji)

    async def notice(self, channel_id: int, text: str, nonce: str) -> SentMessage:
        send = self._channel(channel_id).send(
            content=text, nonce=nonce, allowed_mentions=discord.AllowedMentions.none()
        )
        return _sent(await _answer(send), self.bookmark_emoji)

    async def digest(self, channel_id: int, digest: ChannelDigest, nonce: str) -> SentMessage:
        send = self._channel(channel_id).send(
            embed=channel_digest_embed(digest),
            nonce=nonce,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return _sent(await _answer(send), self.bookmark_emoji)

    async def edit(self, channel_id: int, message_id: int, paper: Paper, style: CardStyle) -> None:
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        embed = card_embed(paper, style, hint=self.hint)
        await _answer(message.edit(embed=embed), editing=True)

    async def recent_posts(self, channel_id: int) -> list[RecentPost]:
        me = self.client.user
        if me is None:
            return []

        async def read() -> list[discord.Message]:
            return [m async for m in self._channel(channel_id).history(limit=HISTORY_LIMIT)]

        return own_posts(await _answer(read()), me.id, self.bookmark_emoji)

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        await _answer(message.add_reaction(emoji))

    async def dm(self, user_id: int, digest: AlertDigest, nonce: str) -> SentMessage:
        async def send() -> discord.Message:
            user = self.client.get_user(user_id) or await self.client.fetch_user(user_id)
            # POST /users/@me/channels once; discord.py keeps the DM channel afterwards.
            channel = user.dm_channel or await user.create_dm()
            return await channel.send(
                embed=alert_dm_embed(digest),
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions.none(),
            )

        return _sent(await _answer(send()), self.bookmark_emoji)

    async def _known(self, channel_id: int, kind: type[C]) -> C:
        """The channel as discord.py knows it (threads and forum posts need the real channel,
        not a partial one): from the cache, else asked of Discord, which says if it is gone."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            channel = await _answer(self.client.fetch_channel(channel_id))
        if not isinstance(channel, kind):
            raise SendFailed(transient(f"channel {channel_id} is not a {kind.__name__} now"))
        return channel

    async def create_thread(self, channel_id: int, message_id: int, name: str) -> SentMessage:
        channel = await self._known(channel_id, discord.TextChannel)
        try:
            thread = await _answer(channel.get_partial_message(message_id).create_thread(name=name))
        except SendFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, discord.HTTPException) and cause.code == THREAD_ALREADY_CREATED:
                # A retry after Discord created it: a thread takes its message's id.
                return SentMessage(message_id)
            raise
        return SentMessage(thread.id)

    def forum_tags(self, channel_id: int) -> list[str]:
        forum = self.client.get_channel(channel_id)
        if not isinstance(forum, discord.ForumChannel):
            return []
        return [tag.name for tag in forum.available_tags if not tag.moderated]

    async def forum_post(
        self, channel_id: int, paper: Paper, name: str, tags: Sequence[str], style: CardStyle
    ) -> SentMessage:
        forum = await self._known(channel_id, discord.ForumChannel)
        by_name = {tag.name: tag for tag in forum.available_tags}
        create = forum.create_thread(
            name=name,
            applied_tags=[by_name[tag] for tag in tags if tag in by_name],
            allowed_mentions=discord.AllowedMentions.none(),
            **self._card(paper, style),
        )
        created = await _answer(create)
        # A forum post's first message has the post's (the thread's) id, and lives in it.
        return SentMessage(created.message.id, channel_id=created.thread.id)

    async def forum_posts(self, channel_id: int) -> list[ForumPost]:
        forum = await self._known(channel_id, discord.ForumChannel)
        me = self.client.user
        if me is None:
            return []
        threads = await _answer(forum.guild.active_threads())
        return [
            ForumPost(SentMessage(thread.id, channel_id=thread.id), thread.name)
            for thread in threads
            if thread.parent_id == channel_id and thread.owner_id == me.id
        ]
