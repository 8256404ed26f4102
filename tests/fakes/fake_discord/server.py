"""`FakeDiscord`: the server, its world, and the drivers tests use to act as Discord users.

Typical use (in-process bot)::

    async with FakeDiscord() as fake:
        with point_discord_py_at(fake):
            async with running_bot(build_bot(), fake):
                rec = await fake.slash("papers search", query="llama")
                assert "LLaMA" in (await rec.answer())["embeds"][0]["title"]
        assert fake.unhandled == []

A bot in another process gets ``fake.env()`` as its environment instead.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import payloads
from .commands import (
    CommandRegistry,
    build_command_data,
    require_usable,
)
from .errors import STATUS as CODE_STATUS
from .events import Events
from .faults import Fault, Faults
from .gateway import (
    GUILD_MEMBERS,
    GUILD_PRESENCES,
    GUILDS,
    MESSAGE_CONTENT,
    UNKNOWN_ERROR,
    Gateway,
    Session,
)
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    InteractionRecord,
    InteractionRegistry,
)
from .limits import INTERACTION_ACK_SECONDS, INTERACTION_TOKEN_SECONDS, SELECTS, STRING_SELECT
from .mentions import Pings
from .permissions import BOT_DEFAULT, Permission, PermissionLike, to_bits
from .ratelimit import RateLimiter
from .records import Notifier, RecordedError, RecordedRequest
from .rest import API_PREFIX, CDN_PREFIX, GATEWAY_PATH, RestApi
from .world import (
    GUILD_FORUM,
    MEMBER_OVERWRITE,
    ROLE_OVERWRITE,
    Member,
    Message,
    Reaction,
    StoredAttachment,
    World,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
UserRef = int | str  # a user id, or a username such as "alice"
ChannelRef = int | str  # a channel id, or a channel name such as "general"
MessageRef = int | Mapping[str, Any] | InteractionRecord  # id, message payload, or its final()

# Application flags that say a privileged intent is enabled for the app (resources/application).
_PRIVILEGED_FLAGS = {
    GUILD_PRESENCES: 1 << 13,
    GUILD_MEMBERS: 1 << 15,
    MESSAGE_CONTENT: 1 << 19,
}
APPLICATION_COMMAND_BADGE = 1 << 23


class FakeDiscord:
    """A fake Discord (REST + gateway) on 127.0.0.1 that the real discord.py talks to.

    The default world: guild "papers-lab" owned by ``alice`` (who also holds a "moderators"
    role with Manage Server), a plain member ``bob``, the bot with a managed role granting
    `BOT_DEFAULT`, and the text channels ``#general`` (the default for drivers) and ``#papers``.
    """

    def __init__(
        self,
        *,
        rate_limits: bool = False,
        ack_window: float = INTERACTION_ACK_SECONDS,
        token_ttl: float = INTERACTION_TOKEN_SECONDS,
        privileged_intents: int = 0,
        bot_permissions: PermissionLike | Iterable[PermissionLike] = BOT_DEFAULT,
        latency: float = 0.0,
        heartbeat_interval_ms: int = 41_250,
        bot_name: str = "papers-bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.ack_window = ack_window  # seconds to the initial response; shrink it in tests
        self.token_ttl = token_ttl  # seconds the interaction token works for followups
        self.latency = latency  # added to every REST request
        self.recommended_shards = 1  # what GET /gateway/bot answers for "shards"
        self.rate_limiter = RateLimiter() if rate_limits else None
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None

        self.notifier = Notifier()
        self.stats: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.errors: list[RecordedError] = []
        self.unhandled: list[str] = []
        self.faults = Faults()
        self.token = f"fake.{secrets.token_urlsafe(24)}"

        self.world = world = World()
        bot = world.add_user(bot_name, bot=True)
        self.bot_user_id = bot.id
        self.application_id = bot.id  # true of every application created since 2019
        self.alice = world.add_user("alice").id
        self.bob = world.add_user("bob").id
        self.owner_id = self.alice  # owns the application and the default guild
        self._bot_permissions = to_bits(bot_permissions)
        self._moderator_roles: dict[int, int] = {}
        self.guild_id = self._create_guild("papers-lab", owner_id=self.alice)
        self.default_channel_id = self.channel("general")
        self._join(self.guild_id, self.bob)
        world.guilds[self.guild_id].members[self.alice].role_ids.append(
            self._moderator_roles[self.guild_id]
        )

        self.commands = CommandRegistry(world.snowflakes, self.application_id)
        self.interactions = InteractionRegistry()
        self.gateway = Gateway(
            token=self.token,
            bot_user_id=self.bot_user_id,
            notifier=self.notifier,
            stats=self.stats,
            unhandled=self.unhandled,
            on_identify=self._on_identify,
            resume_url=lambda: self.gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
            allowed_privileged_intents=privileged_intents,
        )
        self.events = Events(world, self.gateway, bot_user_id=self.bot_user_id)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port unless one was given)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        RestApi(self).install(app)
        app.router.add_get(GATEWAY_PATH, self.gateway.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.world.cdn_base = self.base_url + CDN_PREFIX

    async def stop(self) -> None:
        """Close every gateway connection and stop listening."""
        if self._runner is not None:
            self.faults.release_all()  # a request still held would keep the server from stopping
            await self.gateway.close_all()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be set to (as a ``yarl.URL``)."""
        return f"ws://{self._host}:{self._port}{GATEWAY_PATH}"

    def env(self) -> dict[str, str]:
        """Environment variables that point a bot process at this fake."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    @property
    def application_flags(self) -> int:
        flags = APPLICATION_COMMAND_BADGE
        for intent, flag in _PRIVILEGED_FLAGS.items():
            if self.gateway.allowed_privileged_intents & intent:
                flags |= flag
        return flags

    @property
    def intents(self) -> int | None:
        """The intents the bot identified with most recently (None before IDENTIFY)."""
        return self.gateway.intents

    def _on_identify(self, session: Session) -> list[tuple[str, dict[str, Any]]]:
        """READY and a GUILD_CREATE for each guild of the session's shard (all, unsharded)."""
        world = self.world
        guilds = [guild for guild in world.guilds.values() if session.receives(guild.id)]
        ready = self.gateway.ready_payload(
            session,
            user=payloads.user_payload(world.users[self.bot_user_id]),
            guild_ids=[guild.id for guild in guilds],
            application={"id": str(self.application_id), "flags": self.application_flags},
        )
        events = [("READY", ready)]
        if session.intents & GUILDS:
            all_members = bool(session.intents & (GUILD_MEMBERS | GUILD_PRESENCES))
            events += [
                (
                    "GUILD_CREATE",
                    payloads.guild_create_payload(
                        world, guild, bot_user_id=self.bot_user_id, all_members=all_members
                    ),
                )
                for guild in guilds
            ]
        return events

    # --- building the world -----------------------------------------------------------------

    def _create_guild(
        self,
        name: str,
        *,
        owner_id: int,
        channels: Iterable[str] = (),
        shard: tuple[int, int] | None = None,
    ) -> int:
        world = self.world
        guild = world.add_guild(name, owner_id=owner_id, shard=shard)
        self._moderator_roles[guild.id] = world.add_role(
            guild.id, "moderators", int(Permission.MANAGE_GUILD | Permission.MANAGE_MESSAGES)
        ).id
        bot_role = world.add_role(
            guild.id,
            world.users[self.bot_user_id].username,
            self._bot_permissions,
            bot_id=self.bot_user_id,
        )
        world.add_member(guild.id, self.bot_user_id, [bot_role.id])
        for channel in channels or ("general", "papers"):
            world.add_channel(guild.id, channel)
        return guild.id

    def add_guild(
        self,
        name: str,
        *,
        channels: Iterable[str] = ("general",),
        shard: tuple[int, int] | None = None,
    ) -> int:
        """Add a guild (owned by alice, bob a member) that the bot is in; return its id.
        ``shard`` (id, count): a guild whose id puts it on that shard."""
        guild_id = self._create_guild(name, owner_id=self.alice, channels=channels, shard=shard)
        self._join(guild_id, self.bob)
        guild = self.world.guilds[guild_id]
        self.gateway.dispatch(
            "GUILD_CREATE",
            payloads.guild_create_payload(
                self.world, guild, bot_user_id=self.bot_user_id, all_members=False
            ),
        )
        return guild_id

    def add_channel(
        self,
        name: str,
        guild: int | None = None,
        *,
        deny_bot: PermissionLike | Iterable[PermissionLike] | None = None,
        topic: str | None = None,
    ) -> int:
        """Add a text channel (optionally denying the bot some permissions); return its id."""
        channel = self.world.add_channel(guild or self.guild_id, name, topic=topic)
        if deny_bot is not None:
            self.world.set_overwrite(
                channel.id, self.bot_user_id, MEMBER_OVERWRITE, deny=to_bits(deny_bot)
            )
        self.events.channel("CHANNEL_CREATE", channel)
        return channel.id

    def add_forum(
        self,
        name: str,
        tags: Iterable[str] = (),
        *,
        moderated: Iterable[str] = (),
        guild: int | None = None,
    ) -> int:
        """Add a forum channel with these tags (``moderated``: more tags only members with
        Manage Threads may apply); return its id."""
        chosen = [(tag, False) for tag in tags] + [(tag, True) for tag in moderated]
        channel = self.world.add_channel(
            guild or self.guild_id, name, type=GUILD_FORUM, tags=chosen
        )
        self.events.channel("CHANNEL_CREATE", channel)
        return channel.id

    def forum_posts(self, forum: ChannelRef) -> list[dict[str, Any]]:
        """A forum's posts, oldest first: each thread with ``message`` (its first message) and
        ``tags`` (the names of its applied tags)."""
        forum_id = self.channel(forum)
        names = {
            int(tag["id"]): tag["name"] for tag in self.world.channels[forum_id].available_tags
        }
        return [
            {
                **thread,
                "message": self.message(int(thread["id"])),
                "tags": [names[int(tag)] for tag in thread["applied_tags"]],
            }
            for thread in self.threads(forum_id)
        ]

    def add_member(self, name: str, *, manage_guild: bool = False, guild: int | None = None) -> int:
        """Add a new user as a member (with Manage Server if asked); return the user id."""
        guild_id = guild or self.guild_id
        user_id = self.world.add_user(name).id
        member = self._join(guild_id, user_id, manage_guild=manage_guild)
        self.gateway.dispatch(
            "GUILD_MEMBER_ADD",
            {
                **payloads.member_payload(self.world, self.world.guilds[guild_id], member),
                "guild_id": str(guild_id),
            },
        )
        return user_id

    def add_role(
        self,
        name: str,
        *,
        mentionable: bool = False,
        permissions: PermissionLike | Iterable[PermissionLike] | None = None,
        guild: int | None = None,
    ) -> int:
        """Add a role to the guild (GUILD_ROLE_CREATE); return its id. ``mentionable`` is
        Discord's "Allow anyone to @mention this role"."""
        guild_id = guild or self.guild_id
        role = self.world.add_role(guild_id, name, to_bits(permissions), mentionable=mentionable)
        self.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": payloads.role_payload(role)}
        )
        return role.id

    def set_role_mentionable(self, role_id: int, mentionable: bool) -> None:
        """Turn "Allow anyone to @mention this role" on or off (GUILD_ROLE_UPDATE)."""
        for guild in self.world.guilds.values():
            if role_id in guild.roles:
                role = guild.roles[role_id]
                role.mentionable = mentionable
                self.gateway.dispatch(
                    "GUILD_ROLE_UPDATE",
                    {"guild_id": str(guild.id), "role": payloads.role_payload(role)},
                )
                return
        raise AssertionError(f"no role {role_id}")

    def pings(self, message: MessageRef) -> Pings:
        """Who a message notified when it was created (@everyone/@here, users, roles), with
        Discord's rules applied: the content's mentions filtered by ``allowed_mentions``, a
        role only if mentionable or the author may Mention Everyone (see ``mentions``)."""
        return self._message_of(message).pings

    def _join(self, guild_id: int, user_id: int, *, manage_guild: bool = False) -> Member:
        roles = [self._moderator_roles[guild_id]] if manage_guild else []
        return self.world.add_member(guild_id, user_id, roles)

    def set_overwrite(
        self,
        channel: ChannelRef,
        *,
        user: UserRef | None = None,
        role: int | None = None,
        allow: PermissionLike | Iterable[PermissionLike] | None = None,
        deny: PermissionLike | Iterable[PermissionLike] | None = None,
    ) -> None:
        """Set the channel overwrite of a user (or a role; the guild id is @everyone)."""
        channel_id = self.channel(channel)
        if (user is None) == (role is None):
            raise ValueError("give exactly one of user= or role=")
        target, kind = (
            (self.user(user), MEMBER_OVERWRITE) if user is not None else (role, ROLE_OVERWRITE)
        )
        assert target is not None
        self.world.set_overwrite(channel_id, target, kind, allow=to_bits(allow), deny=to_bits(deny))
        self.events.channel("CHANNEL_UPDATE", self.world.channels[channel_id])

    def deny_bot(self, channel: ChannelRef, *permissions: PermissionLike) -> None:
        """Take permissions from the bot in one channel (e.g. ``"embed_links"``)."""
        self.set_overwrite(channel, user=self.bot_user_id, deny=permissions)

    def bot_permissions(self, channel: ChannelRef) -> Permission:
        """The bot's effective permissions in a channel."""
        return Permission(self.world.channel_permissions(self.channel(channel), self.bot_user_id))

    def delete_channel(self, channel: ChannelRef) -> None:
        """Delete a channel: from now on the API answers 404/10003 for it."""
        removed = self.world.remove_channel(self.channel(channel))
        self.events.channel("CHANNEL_DELETE", removed)

    def reset_token(self) -> str:
        """The owner resets the bot's token in the developer portal: from now on the old one
        is answered 401 by the REST API and cannot IDENTIFY or RESUME. The gateway connection
        already open stays up until it drops. Returns the new token."""
        self.token = f"fake.{secrets.token_urlsafe(24)}"
        self.gateway.accept_token(self.token)
        return self.token

    def close_dms(self, user: UserRef, *, closed: bool = True) -> None:
        """The member closes (``closed=False``: opens again) direct messages: from now on a DM
        to them is answered 403 with code 50007, as Discord does."""
        self.world.users[self.user(user)].accepts_dms = not closed

    def dm_channel_id(self, user: UserRef) -> int | None:
        """The bot's DM channel with the user, None until the bot opened one."""
        user_id = self.user(user)
        for channel in self.world.dm_channels.values():
            if channel.recipient_id == user_id:
                return channel.id
        return None

    def dms(self, user: UserRef) -> list[dict[str, Any]]:
        """What the user sees in their DMs with the bot, oldest first."""
        channel_id = self.dm_channel_id(user)
        if channel_id is None:
            return []
        return [
            payloads.message_payload(self.world, m, viewer_id=None)
            for m in self.world.channel_messages(channel_id)
        ]

    def forget_nonces(self) -> None:
        """Let time pass for ``enforce_nonce``: Discord only de-duplicates a nonce for a few
        minutes, after which a resend with it creates a second message."""
        self.world.forget_nonces()

    def channel(self, channel: ChannelRef) -> int:
        """A channel id, from an id or a name."""
        if isinstance(channel, str):
            return self.world.channel_named(channel).id
        if channel not in self.world.channels:
            raise AssertionError(f"no channel {channel}")
        return channel

    def user(self, user: UserRef) -> int:
        """A user id, from an id or a username."""
        if isinstance(user, str):
            return self.world.user_named(user).id
        if user not in self.world.users:
            raise AssertionError(f"no user {user}")
        return user

    # --- what tests inspect -------------------------------------------------------------------

    def messages(self, channel: ChannelRef) -> list[dict[str, Any]]:
        """What a member sees in the channel, oldest first (edits applied, reactions counted)."""
        channel_id = self.channel(channel)
        return [
            payloads.message_payload(self.world, m, viewer_id=None)
            for m in self.world.channel_messages(channel_id)
        ]

    def threads(self, channel: ChannelRef) -> list[dict[str, Any]]:
        """The threads opened in a channel (on its messages, or a forum's posts), oldest first."""
        channel_id = self.channel(channel)
        return [
            payloads.thread_payload(t)
            for t in sorted(self.world.threads.values(), key=lambda t: t.id)
            if t.parent_id == channel_id
        ]

    def message(self, message_id: int) -> dict[str, Any]:
        """Any message the fake stores (ephemeral ones included), as Discord renders it."""
        return payloads.message_payload(self.world, self._message(message_id), viewer_id=None)

    def attachments(self, message: MessageRef) -> list[StoredAttachment]:
        """The files of a message, bytes included."""
        return list(self._message_of(message).attachments)

    def reaction_users(self, message: MessageRef, emoji: str = "🔖") -> list[int]:
        """Who reacted to a message with ``emoji``."""
        key, _ = payloads.emoji_from_route(emoji)
        reaction = self._message_of(message).reactions.get(key)
        return list(reaction.user_ids) if reaction else []

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests with this method (or "*") whose path matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if method in ("*", r.method) and pattern.search(r.path) is not None
        ]

    def _message(self, message_id: int) -> Message:
        message = self.world.messages.get(message_id)
        if message is None:
            raise AssertionError(f"no message {message_id}")
        return message

    def _message_of(self, ref: MessageRef) -> Message:
        if isinstance(ref, InteractionRecord):
            return self._message(int(ref.final()["id"]))
        if isinstance(ref, Mapping):
            return self._message(int(ref["id"]))
        return self._message(int(ref))

    # --- waiting ------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109
        describe: str = "the condition",
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it."""
        return await self.notifier.wait_for(predicate, timeout, describe)

    async def wait_for_messages(
        self,
        channel: ChannelRef,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until the channel shows at least ``n`` messages; return them all."""
        channel_id = self.channel(channel)
        await self.notifier.wait_for(
            lambda: len(self.world.channel_messages(channel_id)) >= n,
            timeout,
            lambda: (
                f"{n} message(s) in channel {channel_id} "
                f"(have {len(self.world.channel_messages(channel_id))}; errors: {self.errors[-3:]})"
            ),
        )
        return self.messages(channel_id)

    async def wait_until_connected(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until a bot has identified (or resumed) and holds an open gateway connection."""
        await self.notifier.wait_for(
            lambda: self.gateway.connected, timeout, "a bot connected to the fake gateway"
        )

    async def settle(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until the bot has parsed every gateway event sent so far (its cache is current).

        Use after changing the world (``add_channel``, ``deny_bot``…) before asserting on the
        bot's cache. Event listeners the bot started may still be running: wait on their
        effects instead.
        """
        await self.gateway.settle(timeout)

    async def _wait_for_session(
        self,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        await self.notifier.wait_for(
            lambda: self.gateway.live_sessions,
            timeout,
            "a bot session to dispatch to (has the bot connected?)",
        )

    # --- drivers: acting as users -------------------------------------------------------------

    async def slash(
        self,
        command: str,
        *,
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        options: Mapping[str, Any] | None = None,
        locale: str = "en-US",
        timeout: float = 5.0,  # noqa: ASYNC109
        **more_options: Any,
    ) -> InteractionRecord:
        """Run ``/command`` (e.g. ``"papers search"``) as ``user`` in ``channel``.

        Options come as keywords, or in ``options=`` for names that clash with the
        parameters here (``/feed subscribe channel:`` → ``options={"channel": "papers"}``).
        Users, channels and roles may be given by id or name; attachments as
        ``(filename, bytes)``. Raises AssertionError for anything a Discord client would not
        let the user send (unsynced command, unknown option, wrong type, missing required).
        """
        user_id = self.user(user if user is not None else self.alice)
        channel_id = self.channel(channel if channel is not None else self.default_channel_id)
        guild_id = self.world.channels[channel_id].guild_id
        top, subpath = self.commands.find(command, guild_id)
        require_usable(self.world, top, channel_id, user_id)
        data = build_command_data(
            self.world,
            top,
            subpath,
            {**(options or {}), **more_options},
            channel_id=channel_id,
            user_id=user_id,
        )
        return await self._interact(
            APPLICATION_COMMAND,
            data,
            channel_id=channel_id,
            user_id=user_id,
            locale=locale,
            timeout=timeout,
        )

    async def autocomplete(
        self,
        command: str,
        *,
        focused: str,
        value: Any = "",
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        **more_options: Any,
    ) -> list[dict[str, Any]]:
        """Type ``value`` into option ``focused``; return the choices the bot offers."""
        user_id = self.user(user if user is not None else self.alice)
        channel_id = self.channel(channel if channel is not None else self.default_channel_id)
        guild_id = self.world.channels[channel_id].guild_id
        top, subpath = self.commands.find(command, guild_id)
        require_usable(self.world, top, channel_id, user_id)
        data = build_command_data(
            self.world,
            top,
            subpath,
            {**(options or {}), **more_options, focused: value},
            channel_id=channel_id,
            user_id=user_id,
            focused=focused,
        )
        record = await self._interact(
            AUTOCOMPLETE, data, channel_id=channel_id, user_id=user_id, timeout=timeout
        )
        await record.response(timeout)
        return list(record.choices or [])

    async def click(
        self,
        target: MessageRef,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        user: UserRef | None = None,
        values: Iterable[str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionRecord:
        """Click a button (or pick ``values`` in a select) on a message, by custom_id or label.

        ``target`` is a message id, a message payload, or an InteractionRecord (its final
        message). The user defaults to whoever saw an ephemeral message, else alice.
        """
        message = self._message_of(target)
        if message.deleted:
            raise AssertionError(f"message {message.id} was deleted")
        if user is not None:
            user_id = self.user(user)
        elif isinstance(target, InteractionRecord):
            user_id = target.user_id
        else:
            user_id = message.shown_to or self.alice
        if message.ephemeral and message.shown_to != user_id:
            raise AssertionError(f"message {message.id} is ephemeral: only its user sees it")
        component = find_component(message.components, custom_id=custom_id, label=label)
        data: dict[str, Any] = {
            "custom_id": component["custom_id"],
            "component_type": component["type"],
        }
        if component["type"] in SELECTS:
            data["values"] = _select_values(component, list(values or []))
        return await self._interact(
            MESSAGE_COMPONENT,
            data,
            channel_id=message.channel_id,
            user_id=user_id,
            message=message,
            timeout=timeout,
        )

    async def react(
        self,
        channel: ChannelRef,
        message: MessageRef,
        emoji: str = "🔖",
        *,
        user: UserRef | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any] | None:
        """``user`` adds a reaction; return the MESSAGE_REACTION_ADD sent (None if none was)."""
        return await self._set_reaction(channel, message, emoji, user, timeout, added=True)

    async def unreact(
        self,
        channel: ChannelRef,
        message: MessageRef,
        emoji: str = "🔖",
        *,
        user: UserRef | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any] | None:
        """``user`` removes a reaction; return the MESSAGE_REACTION_REMOVE sent, if any."""
        return await self._set_reaction(channel, message, emoji, user, timeout, added=False)

    async def post_message(
        self, channel: ChannelRef, content: str, *, user: UserRef | None = None
    ) -> dict[str, Any]:
        """``user`` writes a message in a channel (dispatched as MESSAGE_CREATE)."""
        channel_id = self.channel(channel)
        user_id = self.user(user if user is not None else self.alice)
        message = Message(
            id=self.world.snowflakes.next(),
            channel_id=channel_id,
            guild_id=self.world.channels[channel_id].guild_id,
            author_id=user_id,
            content=content,
        )
        self.world.add_message(message)
        self.events.message_created(message)
        await self.gateway.flush()
        self.notifier.changed()
        return payloads.message_payload(self.world, message, viewer_id=user_id)

    async def open_thread(
        self, channel: ChannelRef, message: MessageRef, name: str, *, user: UserRef | None = None
    ) -> dict[str, Any]:
        """``user`` opens a public thread on a message (THREAD_CREATE); the thread."""
        channel_id = self.channel(channel)
        target = self.world.message_in(channel_id, self._message_of(message).id)
        thread = self.world.open_thread(
            target, name, owner_id=self.user(user if user is not None else self.alice)
        )
        self.events.thread_created(thread)
        await self.gateway.flush()
        self.notifier.changed()
        return payloads.thread_payload(thread)

    async def _set_reaction(
        self,
        channel: ChannelRef,
        ref: MessageRef,
        emoji: str,
        user: UserRef | None,
        timeout: float,  # noqa: ASYNC109
        *,
        added: bool,
    ) -> dict[str, Any] | None:
        channel_id = self.channel(channel)
        user_id = self.user(user if user is not None else self.alice)
        message = self._message_of(ref)
        if message.channel_id != channel_id or message.deleted or message.ephemeral:
            raise AssertionError(f"message {message.id} is not visible in channel {channel_id}")
        bits = self.world.channel_permissions(channel_id, user_id)
        needed = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY
        key, emoji_payload = payloads.emoji_from_route(emoji)
        reaction = message.reactions.get(key)
        if added and reaction is None:
            needed |= Permission.ADD_REACTIONS
        if bits & needed != needed:
            raise AssertionError(f"user {user_id} may not react in channel {channel_id}")
        await self._wait_for_session(timeout)
        if added:
            reaction = message.reactions.setdefault(key, Reaction(emoji=emoji_payload))
            if user_id in reaction.user_ids:
                return None
            reaction.user_ids.append(user_id)
        else:
            if reaction is None or user_id not in reaction.user_ids:
                return None
            reaction.user_ids.remove(user_id)
            if not reaction.user_ids:
                del message.reactions[key]
        sent = self.events.reaction(message, user_id=user_id, emoji=emoji_payload, added=added)
        await self.gateway.flush()
        self.notifier.changed()
        return sent

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        channel_id: int,
        user_id: int,
        message: Message | None = None,
        locale: str = "en-US",
        timeout: float,  # noqa: ASYNC109
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE and return the record that collects the bot's answers."""
        guild = self.world.guilds[self.world.channels[channel_id].guild_id]
        if user_id not in guild.members:
            raise AssertionError(f"user {user_id} is not a member of {guild.name!r}")
        await self._wait_for_session(timeout)
        interaction_id = self.world.snowflakes.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(64)
        payload = payloads.interaction_payload(
            self.world,
            interaction_id=interaction_id,
            application_id=self.application_id,
            bot_user_id=self.bot_user_id,
            token=token,
            kind=kind,
            data=data,
            channel_id=channel_id,
            user_id=user_id,
            message=(
                payloads.message_payload(self.world, message, viewer_id=user_id)
                if message is not None
                else None
            ),
            locale=locale,
        )
        record = InteractionRecord(
            world=self.world,
            notifier=self.notifier,
            interaction_id=interaction_id,
            token=token,
            kind=kind,
            payload=payload,
            user_id=user_id,
            channel_id=channel_id,
            message_id=message.id if message is not None else None,
        )
        self.interactions.add(record)
        self.gateway.dispatch("INTERACTION_CREATE", payload)
        record.dispatched_at = time.monotonic()
        await self.gateway.flush()
        self.notifier.changed()
        return record

    # --- gateway control ----------------------------------------------------------------------

    async def drop_connection(self, code: int = UNKNOWN_ERROR) -> None:
        """Cut the bot's gateway connection; it should come back with RESUME."""
        await self.gateway.drop_connection(code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT (the bot should RESUME)."""
        await self.gateway.request_reconnect()

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION (not resumable: the bot must IDENTIFY again)."""
        await self.gateway.invalidate_sessions(resumable=resumable)

    # --- fault injection ------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int | None = 1,
        code: int | None = None,
        retry_after: float | None = None,
        is_global: bool = False,
        message: str | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests (None: all) with ``status`` and the JSON
        error ``code`` (0 when None), in Discord's error body.

        ``path_regex`` is searched in the path relative to the API base. A 429 is shaped like
        Discord's (``Via``, ``Retry-After``, JSON ``retry_after``/``global``), so discord.py
        waits ``retry_after`` and retries. Beware: discord.py also retries 500/502/504 itself,
        sleeping 1 s, 3 s, … in between. Any error status goes with any code Discord does not
        tie to one status (e.g. 403/40333); a code Discord only sends with another status (a
        403 with 10003) is a mistake in the test and refused.
        """
        if not 400 <= status <= 599:
            raise AssertionError(f"{status} is not an error status")
        if code is not None and code in CODE_STATUS and CODE_STATUS[code] != status:
            raise AssertionError(
                f"Discord answers code {code} with {CODE_STATUS[code]}, never with {status}"
            )
        return self.faults.add(
            Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                status=status,
                times=times,
                code=code,
                message=message,
                retry_after=retry_after,
                is_global=is_global,
            )
        )

    def slow(self, method: str, path_regex: str, seconds: float, times: int | None = 1) -> Fault:
        """Delay matching requests by ``seconds`` (then answer them normally)."""
        return self.faults.add(
            Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                times=times,
                delay=seconds,
            )
        )

    def hold(self, method: str, path_regex: str, times: int | None = 1) -> Fault:
        """Keep matching requests in flight (then answer them normally) until the returned
        fault's ``release()``. ``await fake.wait_for(lambda: held.hits == 1)`` waits until one
        is held; a fake that stops releases everything it holds."""
        return self.faults.add(
            Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                times=times,
                gate=asyncio.Event(),
            )
        )

    def expire(self, record: InteractionRecord, *, token: bool = False) -> None:
        """Let an interaction's 3 s window pass now (``token``: its 15 minutes too)."""
        record.expire(token=token)


def find_component(
    components: list[dict[str, Any]], *, custom_id: str | None, label: str | None
) -> dict[str, Any]:
    """The clickable component with this custom_id or label (AssertionError if none/disabled)."""
    if (custom_id is None) == (label is None):
        raise ValueError("give exactly one of custom_id or label")
    found: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            by_id = custom_id is not None and item.get("custom_id") == custom_id
            by_label = label is not None and item.get("label") == label and "custom_id" in item
            if by_id or by_label:
                found.append(item)
            walk(item.get("components") or [])
            accessory = item.get("accessory")
            if isinstance(accessory, dict):
                walk([accessory])

    walk(components)
    if not found:
        ids = []

        def collect(items: list[dict[str, Any]]) -> None:
            for item in items:
                if "custom_id" in item:
                    ids.append((item.get("custom_id"), item.get("label")))
                collect(item.get("components") or [])

        collect(components)
        raise AssertionError(f"no component {custom_id or label!r} on the message (has: {ids})")
    component = found[0]
    if component.get("disabled"):
        raise AssertionError(f"component {custom_id or label!r} is disabled: users cannot use it")
    return component


def _select_values(component: dict[str, Any], values: list[str]) -> list[str]:
    if component["type"] != STRING_SELECT:
        raise AssertionError("user/role/channel selects are not faked yet: add resolved data")
    low, high = component.get("min_values", 1), component.get("max_values", 1)
    if not low <= len(values) <= high:
        raise AssertionError(f"select {component['custom_id']!r} takes {low}–{high} values")
    offered = [o["value"] for o in component.get("options", [])]
    unknown = [v for v in values if v not in offered]
    if unknown:
        raise AssertionError(f"select {component['custom_id']!r} offers no {unknown}")
    return [str(v) for v in values]
