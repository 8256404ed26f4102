"""Discord permission bits and the server-side permission computation.

The fake never imports discord.py's `Permissions`: it models the wire protocol on its own, so a
test proves that the bot and Discord agree, not that discord.py agrees with itself.

The computation follows Discord's documented algorithm (topics/permissions, "Permission
Hierarchy"): base permissions from @everyone and the member's roles, then channel overwrites
(@everyone, roles, member), then the implicit rules (no VIEW_CHANNEL → nothing; no SEND_MESSAGES
→ no embeds, files, mentions of @everyone or TTS).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Permission(enum.IntFlag):
    """The permission bits the fake cares about (values are Discord's)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 53) - 1
"""What an owner or an administrator gets: every bit Discord could define."""

EVERYONE_DEFAULT = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.CHANGE_NICKNAME
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
)
"""The @everyone role of a freshly created guild (the text-chat subset of Discord's default)."""

BOT_DEFAULT = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.USE_EXTERNAL_EMOJIS
)
"""What the bot's managed role grants: what an invite link for papers-bot would ask for."""

_NEED_SEND_MESSAGES = (
    Permission.SEND_TTS_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
)

PermissionLike = Permission | int | str
"""A permission given by a test: a `Permission`, raw bits, or a name like ``"embed_links"``."""


def to_bits(permissions: PermissionLike | Iterable[PermissionLike] | None) -> int:
    """Combine permissions given as flags, ints or (case-insensitive) names into raw bits."""
    if permissions is None:
        return 0
    if isinstance(permissions, int | str):
        permissions = [permissions]
    bits = 0
    for item in permissions:
        if isinstance(item, str):
            try:
                bits |= Permission[item.upper()]
            except KeyError:
                raise ValueError(f"unknown permission name {item!r}") from None
        else:
            bits |= int(item)
    return bits


def base_permissions(*, is_owner: bool, everyone: int, role_permissions: Iterable[int]) -> int:
    """Guild-level permissions of a member: @everyone plus every role they hold."""
    if is_owner:
        return ALL_PERMISSIONS
    bits = everyone
    for role_bits in role_permissions:
        bits |= role_bits
    if bits & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    return bits


def apply_overwrites(
    base: int,
    *,
    everyone: tuple[int, int] | None,
    roles: Iterable[tuple[int, int]],
    member: tuple[int, int] | None,
) -> int:
    """Apply channel overwrites, each an ``(allow, deny)`` pair, in Discord's order."""
    if base & Permission.ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    bits = base
    if everyone is not None:
        allow, deny = everyone
        bits = (bits & ~deny) | allow
    role_allow = role_deny = 0
    for allow, deny in roles:
        role_allow |= allow
        role_deny |= deny
    bits = (bits & ~role_deny) | role_allow
    if member is not None:
        allow, deny = member
        bits = (bits & ~deny) | allow
    return implicit_rules(bits)


def implicit_rules(bits: int) -> int:
    """Discord's implicit denials: hidden channels grant nothing, no sending means no embeds."""
    if not bits & Permission.VIEW_CHANNEL:
        return 0
    if not bits & Permission.SEND_MESSAGES:
        bits &= ~_NEED_SEND_MESSAGES
    return bits


def missing(bits: int, required: int) -> Permission:
    """The required permissions that ``bits`` lacks (empty when none)."""
    return Permission(required & ~bits & ALL_PERMISSIONS)
