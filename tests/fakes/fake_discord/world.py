"""The fake's state: users, guilds, roles, members, channels, overwrites and messages.

Plain dataclasses and lookups, no I/O: the REST routes and the drivers change the world, and
`payloads` renders it as Discord JSON. Ids are real snowflakes (discord.py derives
``created_at`` from them), increasing in creation order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import permissions as perms
from .errors import (
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    THREAD_ALREADY_CREATED,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    DiscordError,
)
from .mentions import NO_PINGS, Pings

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
LOADING = 1 << 7  # "Bot is thinking…": a deferred response not filled in yet

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
GUILD_FORUM = 15


class Snowflakes:
    """Generates strictly increasing snowflakes that encode the current time."""

    def __init__(self) -> None:
        self._last = 0
        self._increment = itertools.count()

    def next(self) -> int:
        """A fresh id, later than every id handed out before."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        snowflake = (millis << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        self._last = max(snowflake, self._last + 1)
        return self._last

    def next_on_shard(self, shard: int, count: int) -> int:
        """A fresh id of a guild on ``shard`` of ``count`` (``(id >> 22) % count``): its
        timestamp moved up to ``count - 1`` ms ahead."""
        base = self.next()
        ahead = (shard - (base >> 22)) % count
        self._last = base + (ahead << 22)
        return self._last


def iso_now() -> str:
    """The current time as Discord writes timestamps."""
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    # False: the member closed direct messages from server members; a DM gets 403/50007.
    accepts_dms: bool = True


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None  # set on a bot's managed role, rendered as tags.bot_id
    mentionable: bool = False  # "Allow anyone to @mention this role"


@dataclass
class Member:
    user_id: int
    role_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)
    nick: str | None = None
    flags: int = 0


@dataclass
class Overwrite:
    id: int
    type: int  # ROLE_OVERWRITE or MEMBER_OVERWRITE
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    position: int
    type: int = GUILD_TEXT
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None
    # A forum's tags: {"id", "name", "moderated", "emoji_id", "emoji_name"} each.
    available_tags: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Thread:
    """A public thread: opened on a message (same id as the message) of its parent channel."""

    id: int
    guild_id: int
    parent_id: int
    owner_id: int
    name: str
    type: int = PUBLIC_THREAD
    auto_archive_duration: int = 1440
    created_at: str = field(default_factory=iso_now)
    applied_tags: list[int] = field(default_factory=list)  # a forum post's tags


@dataclass
class DmChannel:
    """A private channel between the bot and one user (``POST /users/@me/channels``)."""

    id: int
    recipient_id: int
    type: int = DM
    last_message_id: int | None = None


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)


@dataclass
class StoredAttachment:
    """An uploaded file: what the bot sent, byte for byte."""

    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Reaction:
    emoji: dict[str, Any]  # {"id": None, "name": "🔖"} or a custom {"id": "…", "name": "…"}
    user_ids: list[int] = field(default_factory=list)


@dataclass
class Message:
    """A message as stored; ephemeral and loading ones never appear in channel listings."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    reactions: dict[str, Reaction] = field(default_factory=dict)  # key: "name" or "name:id"
    flags: int = 0
    type: int = 0
    tts: bool = False
    nonce: str | int | None = None
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    pings: Pings = NO_PINGS  # who it notified when created (mentions.resolve_pings)
    shown_to: int | None = None  # the only user who sees an ephemeral message
    deleted: bool = False
    revision: int = 0  # global order of the last create/edit, used by InteractionRecord.final

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)


class World:
    """Everything the fake Discord knows about, with Discord's lookup and permission rules."""

    def __init__(self) -> None:
        self.snowflakes = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_channels: dict[int, DmChannel] = {}
        self.messages: dict[int, Message] = {}
        self.threads: dict[int, Thread] = {}
        self.attachments: dict[int, StoredAttachment] = {}  # served by the fake's CDN route
        self.cdn_base = ""  # set by the server once it knows its port
        self._revisions = itertools.count(1)
        self._nonces: dict[tuple[int, int, str], int] = {}

    # --- users, guilds, roles, members -------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False) -> User:
        """Create a user (not yet a member of any guild)."""
        user = User(id=self.snowflakes.next(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def user_named(self, name: str) -> User:
        """The user called ``name`` (AssertionError if there is none)."""
        for user in self.users.values():
            if user.username == name:
                return user
        raise AssertionError(
            f"no user named {name!r}; known: {[u.username for u in self.users.values()]}"
        )

    def add_guild(self, name: str, *, owner_id: int, shard: tuple[int, int] | None = None) -> Guild:
        """Create a guild with its @everyone role (id = guild id) and the owner as a member;
        ``shard`` (id, count): an id on that shard."""
        snowflakes = self.snowflakes
        guild_id = snowflakes.next() if shard is None else snowflakes.next_on_shard(*shard)
        guild = Guild(id=guild_id, name=name, owner_id=owner_id)
        guild.roles[guild.id] = Role(
            id=guild.id, name="@everyone", permissions=int(perms.EVERYONE_DEFAULT)
        )
        self.guilds[guild.id] = guild
        self.add_member(guild.id, owner_id)
        return guild

    def add_role(
        self,
        guild_id: int,
        name: str,
        permissions: int,
        *,
        bot_id: int | None = None,
        mentionable: bool = False,
    ) -> Role:
        """Create a role, positioned above the existing ones."""
        guild = self.guilds[guild_id]
        role = Role(
            id=self.snowflakes.next(),
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            managed=bot_id is not None,
            bot_id=bot_id,
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        return role

    def add_member(self, guild_id: int, user_id: int, role_ids: list[int] | None = None) -> Member:
        """Make a user a member of a guild."""
        member = Member(user_id=user_id, role_ids=list(role_ids or []))
        self.guilds[guild_id].members[user_id] = member
        return member

    # --- channels ----------------------------------------------------------------------------

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        topic: str | None = None,
        type: int = GUILD_TEXT,
        tags: Sequence[tuple[str, bool]] = (),
    ) -> Channel:
        """Create a text channel (or a forum with ``tags``, (name, moderated) each) at the end
        of the guild's channel list."""
        guild = self.guilds[guild_id]
        channel = Channel(
            id=self.snowflakes.next(),
            guild_id=guild_id,
            name=name,
            position=len(guild.channel_ids),
            topic=topic,
            type=type,
            available_tags=[
                {
                    "id": str(self.snowflakes.next()),
                    "name": tag,
                    "moderated": moderated,
                    "emoji_id": None,
                    "emoji_name": None,
                }
                for tag, moderated in tags
            ],
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def remove_channel(self, channel_id: int) -> Channel:
        """Delete a channel; its messages go with it."""
        channel = self.channels.pop(channel_id)
        self.guilds[channel.guild_id].channel_ids.remove(channel_id)
        for message in self.messages.values():
            if message.channel_id == channel_id:
                message.deleted = True
        return channel

    def dm_channel_with(self, user_id: int) -> DmChannel:
        """The bot's DM channel with ``user_id``, created on first use (Discord keeps one)."""
        for dm in self.dm_channels.values():
            if dm.recipient_id == user_id:
                return dm
        dm = DmChannel(id=self.snowflakes.next(), recipient_id=user_id)
        self.dm_channels[dm.id] = dm
        return dm

    def channel(self, channel_id: int) -> Channel:
        """The channel, or the 404/10003 Discord answers for an unknown one. A thread is
        answered with its parent channel (whose permissions it has)."""
        if channel_id in self.threads:
            channel_id = self.threads[channel_id].parent_id
        try:
            return self.channels[channel_id]
        except KeyError:
            raise DiscordError.of(UNKNOWN_CHANNEL) from None

    def channel_named(self, name: str, guild_id: int | None = None) -> Channel:
        """The channel called ``name`` (AssertionError if there is none)."""
        for channel in self.channels.values():
            if channel.name == name and guild_id in (None, channel.guild_id):
                return channel
        raise AssertionError(f"no channel named {name!r}")

    def set_overwrite(
        self, channel_id: int, target_id: int, target_type: int, *, allow: int = 0, deny: int = 0
    ) -> Overwrite:
        """Add or replace a permission overwrite for a role or member on a channel."""
        overwrite = Overwrite(id=target_id, type=target_type, allow=allow, deny=deny)
        self.channels[channel_id].overwrites[target_id] = overwrite
        return overwrite

    # --- permissions -------------------------------------------------------------------------

    def guild_permissions(self, guild_id: int, user_id: int) -> int:
        """A member's guild-wide permissions (no channel overwrites)."""
        guild = self.guilds[guild_id]
        member = guild.members[user_id]
        return perms.base_permissions(
            is_owner=user_id == guild.owner_id,
            everyone=guild.roles[guild.id].permissions,
            role_permissions=(guild.roles[r].permissions for r in member.role_ids),
        )

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """A member's permissions in a channel (a thread: its parent's), overwrites and
        implicit rules applied."""
        if channel_id in self.threads:
            channel_id = self.threads[channel_id].parent_id
        channel = self.channels[channel_id]
        guild = self.guilds[channel.guild_id]
        if user_id not in guild.members:
            return 0
        member = guild.members[user_id]
        everyone = channel.overwrites.get(guild.id)
        mine = channel.overwrites.get(user_id)
        role_overwrites = [
            (o.allow, o.deny)
            for o in channel.overwrites.values()
            if o.type == ROLE_OVERWRITE and o.id in member.role_ids
        ]
        return perms.apply_overwrites(
            self.guild_permissions(guild.id, user_id),
            everyone=(everyone.allow, everyone.deny) if everyone else None,
            roles=role_overwrites,
            member=(mine.allow, mine.deny) if mine and mine.type == MEMBER_OVERWRITE else None,
        )

    def require(self, channel_id: int, user_id: int, required: int) -> None:
        """Raise Discord's 403 unless the user holds ``required`` in the channel.

        No VIEW_CHANNEL is 50001 Missing Access (the channel is invisible); anything else
        missing is 50013 Missing Permissions.
        """
        bits = self.channel_permissions(channel_id, user_id)
        if not bits & perms.Permission.VIEW_CHANNEL:
            raise DiscordError.of(MISSING_ACCESS)
        if perms.missing(bits, required):
            raise DiscordError.of(MISSING_PERMISSIONS)

    # --- messages ----------------------------------------------------------------------------

    def add_message(self, message: Message) -> Message:
        """Store a new message (and remember its nonce for enforce_nonce)."""
        message.revision = next(self._revisions)
        self.messages[message.id] = message
        self.store_attachments(message.attachments)
        channel = self.channels.get(message.channel_id) or self.dm_channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
        if message.nonce is not None:
            self._nonces[(message.channel_id, message.author_id, str(message.nonce))] = message.id
        return message

    def store_attachments(self, attachments: list[StoredAttachment]) -> None:
        """Make uploaded files downloadable from the CDN route."""
        for attachment in attachments:
            self.attachments[attachment.id] = attachment

    def touch(self, message: Message, *, edited: bool = True) -> None:
        """Mark a message as just changed (and, if ``edited``, stamp the edit time)."""
        message.revision = next(self._revisions)
        if edited:
            message.edited_timestamp = iso_now()

    def message_in(self, channel_id: int, message_id: int) -> Message:
        """A message reachable through the channel routes (not ephemeral, not deleted)."""
        message = self.messages.get(message_id)
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.loading
            or message.channel_id != channel_id
        ):
            raise DiscordError.of(UNKNOWN_MESSAGE)
        return message

    def open_thread(
        self, message: Message, name: str, *, owner_id: int, duration: int = 1440
    ) -> Thread:
        """Open a public thread on ``message`` (it takes the message's id); 400/160004 if the
        message has one already."""
        if message.id in self.threads:
            raise DiscordError.of(THREAD_ALREADY_CREATED)
        thread = Thread(
            id=message.id,
            guild_id=self.channels[message.channel_id].guild_id,
            parent_id=message.channel_id,
            owner_id=owner_id,
            name=name,
            auto_archive_duration=duration,
        )
        self.threads[thread.id] = thread
        return thread

    def channel_messages(self, channel_id: int) -> list[Message]:
        """What a member sees in the channel, oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and not (m.deleted or m.ephemeral or m.loading)
        ]

    def forget_nonces(self) -> None:
        """Forget every nonce, as Discord does a few minutes after a message was created: from
        now on ``enforce_nonce`` no longer finds the messages already sent."""
        self._nonces.clear()

    def by_nonce(self, channel_id: int, author_id: int, nonce: str | int) -> Message | None:
        """The message this author already created in this channel with this nonce, if any."""
        message_id = self._nonces.get((channel_id, author_id, str(nonce)))
        message = self.messages.get(message_id) if message_id is not None else None
        return message if message is not None and not message.deleted else None
