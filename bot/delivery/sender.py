"""The engine's view of Discord: a small sending interface and what its calls return.

The Discord layer (``cogs/discord_sender.py``) implements ``Sender`` with discord.py. Each call
makes one request; it returns what was sent, or raises ``SendFailed`` carrying Discord's answer
read as an ``Outcome`` (``bot.outcomes.read_answer``): retry later, pause, remove, drop with the
reason, or stop (the token was refused). Any other exception is a bug of the caller's own making
(rendering a paper raised, say), which the engine handles as such. Pacing and time limits are the
engine's: an implementation neither waits for a slot nor times itself out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.alerts import AlertDigest
from bot.feed import ChannelAccess, ChannelDigest
from bot.models import CardStyle, Paper
from bot.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message Discord holds: its id, and whether the bot's bookmark reaction is on it."""

    id: int
    reacted: bool = False
    # Where the message is when not in the channel it was sent to: a forum post's first
    # message is in the post's own thread (edits and reactions go there).
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class ForumPost:
    """One of the bot's open posts in a forum: its first message (in its thread) and its name."""

    message: SentMessage
    name: str


@dataclass(frozen=True, slots=True)
class RecentPost:
    """One of the feed's own recent posts in a channel (a plain message of the bot's, not a
    command's answer), with the papers it shows (by its link or its buttons)."""

    message: SentMessage
    paper_ids: frozenset[str]
    digest_day: date | None = None  # a digest: the local day it was posted for


class SendFailed(Exception):
    """Discord (or the way to it) did not take the request; ``outcome`` says what to do."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class Sender(Protocol):
    """What the delivery engine asks of Discord. Every coroutine makes one request and raises
    ``SendFailed`` when Discord's answer is not a success."""

    async def wait_until_ready(self) -> None:
        """Return once requests can be made (the gateway is connected)."""

    def access(self, channel_id: int) -> ChannelAccess | None:
        """What the bot may do in the channel, as the gateway last said; None when unknown."""

    async def post(
        self,
        channel_id: int,
        paper: Paper,
        nonce: str,
        style: CardStyle,
        mentions: Sequence[int] = (),
    ) -> SentMessage:
        """Post ``paper``'s card in ``style`` (sent with ``nonce``, enforced: a resend returns
        the same message while Discord remembers the nonce), pinging the roles in ``mentions``
        and nothing else (no @everyone, no user, whatever the card says)."""

    async def notice(self, channel_id: int, text: str, nonce: str) -> SentMessage:
        """Post a plain-text notice, mentions disabled."""

    async def digest(self, channel_id: int, digest: ChannelDigest, nonce: str) -> SentMessage:
        """Post a channel's daily digest (one message; sent with ``nonce``, enforced)."""

    async def edit(self, channel_id: int, message_id: int, paper: Paper, style: CardStyle) -> None:
        """Show ``paper``'s current counts on a card posted earlier in ``style``."""

    async def recent_posts(self, channel_id: int) -> Sequence[RecentPost]:
        """The feed's own posts among the channel's latest messages (the look-back that finds a
        post Discord accepted before the bot could record it)."""

    async def add_reaction(self, channel_id: int, message_id: int, emoji: str) -> None:
        """Add ``emoji`` to a message as the bot."""

    async def dm(self, user_id: int, digest: AlertDigest, nonce: str) -> SentMessage:
        """Send the member one direct message listing ``digest``'s papers (opening the DM
        channel first when needed), mentions disabled, with ``nonce`` enforced."""

    def forum_tags(self, channel_id: int) -> Sequence[str]:
        """The names of the tags the bot may apply in a forum (not moderated ones), in the
        forum's order, as the gateway last said; empty when unknown."""

    async def forum_post(
        self, channel_id: int, paper: Paper, name: str, tags: Sequence[str], style: CardStyle
    ) -> SentMessage:
        """Create a forum post called ``name`` whose first message is ``paper``'s card (in
        ``style``), with
        the forum's tags of these names. Discord takes no nonce here: the engine looks for an
        earlier attempt first (``forum_posts``)."""

    async def forum_posts(self, channel_id: int) -> Sequence[ForumPost]:
        """The bot's posts among the forum's active ones (the look-back of forum posts)."""

    async def create_thread(self, channel_id: int, message_id: int, name: str) -> SentMessage:
        """Open a public thread called ``name`` on a message; returns the thread (its id). A
        message has at most one thread: when Discord says it has one already (160004), that
        one is returned as created."""
