"""Render the world as Discord JSON: users, members, guilds, channels, messages, events.

Every key discord.py reads with ``data[...]`` (a KeyError inside the library if absent) is
always present here; the comments name the ones that bit the prototype. Optional keys follow
what Discord sends today, so the bot sees realistic payloads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .limits import ATTACHMENT_SIZE_LIMIT
from .world import (
    GUILD_FORUM,
    Channel,
    DmChannel,
    Guild,
    Member,
    Message,
    Reaction,
    Role,
    StoredAttachment,
    Thread,
    User,
    World,
)


def snowflake(value: int | None) -> str | None:
    """Ids travel as strings."""
    return None if value is None else str(value)


def user_payload(user: User) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(user.id),
        "username": user.username,
        "global_name": user.global_name,
        "discriminator": "0",  # required by discord.py's User
        "avatar": None,  # required by discord.py's User
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if user.bot:
        payload["bot"] = True
    return payload


def member_payload(
    world: World,
    guild: Guild,
    member: Member,
    *,
    permissions: int | None = None,
    with_user: bool = True,
) -> dict[str, Any]:
    """A guild member; ``permissions`` is only sent inside interactions."""
    payload: dict[str, Any] = {
        "roles": [str(r) for r in member.role_ids],  # required; never lists @everyone
        "joined_at": member.joined_at,
        "flags": member.flags,  # required by discord.py's Member
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "pending": False,
        "deaf": False,
        "mute": False,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(world.users[member.user_id])
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def role_payload(role: Role) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


def thread_payload(thread: Thread) -> dict[str, Any]:
    """A thread channel as Discord renders it (discord.py's Thread reads thread_metadata)."""
    return {
        "id": str(thread.id),
        "type": thread.type,
        "guild_id": str(thread.guild_id),
        "parent_id": str(thread.parent_id),
        "owner_id": str(thread.owner_id),
        "name": thread.name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "applied_tags": [str(tag) for tag in thread.applied_tags],
        "thread_metadata": {  # required by discord.py's Thread
            "archived": False,
            "auto_archive_duration": thread.auto_archive_duration,
            "archive_timestamp": thread.created_at,
            "locked": False,
            "create_timestamp": thread.created_at,
        },
    }


def channel_payload(channel: Channel) -> dict[str, Any]:
    return {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,  # required by TextChannel
        "position": channel.position,  # required by TextChannel
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.overwrites.values()
        ],
        "topic": channel.topic,
        "nsfw": False,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "last_message_id": snowflake(channel.last_message_id),
        "flags": 0,
        **({"available_tags": channel.available_tags} if channel.type == GUILD_FORUM else {}),
    }


def dm_channel_payload(world: World, channel: DmChannel) -> dict[str, Any]:
    """A DM channel object (type 1) with its one recipient."""
    return {
        "id": str(channel.id),
        "type": channel.type,
        "recipients": [user_payload(world.users[channel.recipient_id])],
        "last_message_id": snowflake(channel.last_message_id),
        "flags": 0,
    }


def guild_payload(guild: Guild) -> dict[str, Any]:
    """The guild object of ``GET /guilds/{id}`` (no channels or members)."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": snowflake(guild.channel_ids[0] if guild.channel_ids else None),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": [],
    }


def guild_create_payload(
    world: World, guild: Guild, *, bot_user_id: int, all_members: bool
) -> dict[str, Any]:
    """The GUILD_CREATE event: the guild with channels, and members as the intents allow.

    Without GUILD_MEMBERS or GUILD_PRESENCES Discord only sends the bot's own member, so a bot
    that relies on ``guild.get_member`` for other users is caught here as it would be in prod.
    """
    members = [
        member_payload(world, guild, m)
        for m in guild.members.values()
        if all_members or m.user_id == bot_user_id
    ]
    return {
        **guild_payload(guild),
        "unavailable": False,
        "large": False,
        "member_count": len(guild.members),
        "joined_at": guild.members[bot_user_id].joined_at,
        "channels": [channel_payload(world.channels[c]) for c in guild.channel_ids],
        "members": members,
        "threads": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment_payload(
    world: World, message: Message, attachment: StoredAttachment
) -> dict[str, Any]:
    """An attachment whose URL the fake itself serves, so ``Attachment.read()`` works."""
    url = (
        f"{world.cdn_base}/attachments/{message.channel_id}/{attachment.id}/"
        f"{quote(attachment.filename)}"
    )
    payload: dict[str, Any] = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": url,
        "proxy_url": url,
        "content_type": attachment.content_type,
    }
    if attachment.description is not None:
        payload["description"] = attachment.description
    if message.ephemeral:
        payload["ephemeral"] = True
    return payload


def reaction_payload(reaction: Reaction, viewer_id: int | None) -> dict[str, Any]:
    count = len(reaction.user_ids)
    return {
        "emoji": reaction.emoji,
        "count": count,
        "count_details": {"burst": 0, "normal": count},
        "burst_colors": [],
        "me": viewer_id in reaction.user_ids,  # required by discord.py's Reaction
        "me_burst": False,
        "burst_count": 0,
    }


def message_payload(world: World, message: Message, *, viewer_id: int | None) -> dict[str, Any]:
    """A message as ``viewer_id`` sees it (``me`` on reactions is relative to the viewer)."""
    payload: dict[str, Any] = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": user_payload(world.users[message.author_id]),
        "content": message.content,
        "timestamp": message.timestamp,
        "edited_timestamp": message.edited_timestamp,
        "tts": message.tts,
        "mention_everyone": message.pings.everyone,
        "mentions": [user_payload(world.users[user]) for user in message.pings.users],
        "mention_roles": [str(role) for role in message.pings.roles],
        "attachments": [attachment_payload(world, message, a) for a in message.attachments],
        "embeds": message.embeds,
        "pinned": False,
        "type": message.type,  # required by discord.py's Message
        "flags": message.flags,
        "components": message.components,
    }
    if message.reactions:
        payload["reactions"] = [
            reaction_payload(r, viewer_id) for r in message.reactions.values() if r.user_ids
        ]
    if message.nonce is not None:
        payload["nonce"] = message.nonce
    if message.webhook_id is not None:
        payload["webhook_id"] = str(message.webhook_id)
    if message.application_id is not None:
        payload["application_id"] = str(message.application_id)
    if message.interaction_metadata is not None:
        payload["interaction_metadata"] = message.interaction_metadata
    if message.message_reference is not None:
        payload["message_reference"] = message.message_reference
    return payload


def message_event_payload(world: World, message: Message, *, viewer_id: int) -> dict[str, Any]:
    """MESSAGE_CREATE / MESSAGE_UPDATE: the message plus guild_id and the author's member."""
    payload = message_payload(world, message, viewer_id=viewer_id)
    if message.guild_id is not None:
        guild = world.guilds[message.guild_id]
        payload["guild_id"] = str(message.guild_id)
        member = guild.members.get(message.author_id)
        if member is not None and message.webhook_id is None:
            payload["member"] = member_payload(world, guild, member, with_user=False)
    return payload


def interaction_payload(
    world: World,
    *,
    interaction_id: int,
    application_id: int,
    bot_user_id: int,
    token: str,
    kind: int,
    data: dict[str, Any],
    channel_id: int,
    user_id: int,
    message: dict[str, Any] | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """INTERACTION_CREATE in a guild channel, with the member's and the bot's permissions."""
    channel = world.channels[channel_id]
    guild = world.guilds[channel.guild_id]
    member_permissions = world.channel_permissions(channel_id, user_id)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel_id),
        "channel": {**channel_payload(channel), "permissions": str(member_permissions)},
        "member": member_payload(
            world, guild, guild.members[user_id], permissions=member_permissions
        ),
        "token": token,
        "version": 1,
        "app_permissions": str(world.channel_permissions(channel_id, bot_user_id)),
        "locale": locale,
        "guild_locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,  # required: KeyError in discord.py
    }
    if message is not None:
        payload["message"] = message
    return payload


def reaction_event_payload(
    world: World,
    message: Message,
    *,
    user_id: int,
    emoji: dict[str, Any],
    added: bool,
) -> dict[str, Any]:
    """MESSAGE_REACTION_ADD (with ``member``) or MESSAGE_REACTION_REMOVE (without)."""
    payload: dict[str, Any] = {
        "user_id": str(user_id),
        "channel_id": str(message.channel_id),
        "message_id": str(message.id),
        "emoji": emoji,
        "burst": False,
        "type": 0,  # required: KeyError in discord.py's RawReactionActionEvent
    }
    if message.guild_id is not None:
        payload["guild_id"] = str(message.guild_id)
    if added:
        payload["burst_colors"] = []
        payload["message_author_id"] = str(message.author_id)
        if message.guild_id is not None:
            guild = world.guilds[message.guild_id]
            member = guild.members.get(user_id)
            if member is not None:
                payload["member"] = member_payload(world, guild, member)
    return payload


def emoji_from_route(text: str) -> tuple[str, dict[str, Any]]:
    """Parse the ``{emoji}`` of a reaction route: ``🔖`` or ``name:id`` (custom emoji)."""
    name, _, emoji_id = text.partition(":")
    if emoji_id:
        return f"{name}:{emoji_id}", {"id": emoji_id, "name": name}
    return text, {"id": None, "name": text}
