"""Who a message pings: its content's mentions filtered by ``allowed_mentions``, as Discord does.

Discord parses ``<@id>``/``<@!id>`` (users), ``<@&id>`` (roles) and ``@everyone``/``@here`` in the
content only (never in embeds). ``allowed_mentions`` decides which of them notify:

* absent: every kind is parsed (a bot's default);
* present: only the kinds listed in ``parse`` (``"users"``, ``"roles"``, ``"everyone"``) and the
  ids listed in ``users``/``roles`` (at most 100 each); a kind may not be both parsed and listed
  (400/50035), and a listed id that the content does not mention pings nobody.

On top of that a role pings only when it is mentionable or the author has Mention Everyone in
the channel, and ``@everyone``/``@here`` only with Mention Everyone. Mentions are decided when
the message is created: an edit never pings (Discord notifies on creation only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import permissions as perms
from .errors import FormErrors

if TYPE_CHECKING:
    from .world import World

PARSE_KINDS = ("users", "roles", "everyone")
MAX_IDS = 100

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    """What a message notified: ``everyone`` (@everyone or @here), users and roles by id."""

    everyone: bool = False
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()
    mentioned_roles: tuple[int, ...] = field(default=(), compare=False)  # in content, pinged or not

    @property
    def anything(self) -> bool:
        return self.everyone or bool(self.users or self.roles)


NO_PINGS = Pings()


def check_allowed_mentions(payload: dict[str, Any], errors: FormErrors) -> None:
    """Record Discord's form errors for a malformed ``allowed_mentions``."""
    allowed = payload.get("allowed_mentions")
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errors.add(("allowed_mentions",), "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
        return
    parse = allowed.get("parse") or []
    for index, kind in enumerate(parse):
        if kind not in PARSE_KINDS:
            errors.add(
                ("allowed_mentions", "parse", index),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {PARSE_KINDS}.",
            )
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if len(ids) > MAX_IDS:
            errors.too_long(("allowed_mentions", kind), MAX_IDS)
        if ids and kind in parse:
            errors.add(
                ("allowed_mentions", kind),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )


def _ids(values: Any) -> set[int]:
    return {int(value) for value in values or () if str(value).isdigit()}


def resolve_pings(
    world: World, channel_id: int, author_id: int, content: str, allowed: dict[str, Any] | None
) -> Pings:
    """Who a new message with ``content`` by ``author_id`` in the channel notifies."""
    channel = world.channels[channel_id]
    guild = world.guilds[channel.guild_id]
    may_mention_all = bool(
        world.channel_permissions(channel_id, author_id) & perms.Permission.MENTION_EVERYONE
    )
    if allowed is None:
        parse: set[str] = set(PARSE_KINDS)
        listed_users: set[int] = set()
        listed_roles: set[int] = set()
    else:
        parse = set(allowed.get("parse") or ())
        listed_users = _ids(allowed.get("users"))
        listed_roles = _ids(allowed.get("roles"))
    in_content_roles = [int(match) for match in _ROLE.findall(content)]
    roles = [
        role_id
        for role_id in dict.fromkeys(in_content_roles)
        if role_id in guild.roles
        and role_id != guild.id  # <@&guild_id> is @everyone, never pinged as a role
        and ("roles" in parse or role_id in listed_roles)
        and (guild.roles[role_id].mentionable or may_mention_all)
    ]
    users = [
        user_id
        for user_id in dict.fromkeys(int(match) for match in _USER.findall(content))
        if user_id in world.users and ("users" in parse or user_id in listed_users)
    ]
    everyone = bool(_EVERYONE.search(content)) and "everyone" in parse and may_mention_all
    return Pings(
        everyone=everyone,
        users=tuple(users),
        roles=tuple(roles),
        mentioned_roles=tuple(dict.fromkeys(in_content_roles)),
    )
