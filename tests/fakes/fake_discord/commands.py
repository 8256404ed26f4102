"""Synced application commands, and building the interaction ``data`` a user's input produces.

A test can only invoke what the bot synced, with options the synced schema declares, as a
Discord client only offers those: anything else is an AssertionError in the test, not a
payload the bot would never see in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import payloads
from .permissions import Permission
from .world import Snowflakes, StoredAttachment, World

# Application command option types (interactions/application-commands.mdx).
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11

CHAT_INPUT = 1
MAX_SAFE_INTEGER = 2**53
DRIVER_PARAMETERS = frozenset(
    {"user", "channel", "options", "locale", "timeout", "focused", "value"}
)


class CommandNotAvailable(AssertionError):
    """The user could not run this command in Discord (hidden by its permissions)."""


class CommandRegistry:
    """The commands the bot synced, globally and per guild, as Discord stores them."""

    def __init__(self, snowflakes: Snowflakes, application_id: int) -> None:
        self._snowflakes = snowflakes
        self._application_id = application_id
        self._scopes: dict[int | None, list[dict[str, Any]]] = {None: []}
        self._ids: dict[tuple[int | None, int, str], int] = {}
        self.sync_count = 0

    def overwrite(self, guild_id: int | None, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Bulk-overwrite one scope; ids stay stable for commands that keep their name."""
        stored = [self._store(guild_id, command) for command in body]
        self._scopes[guild_id] = stored
        self.sync_count += 1
        return stored

    def _store(self, guild_id: int | None, command: dict[str, Any]) -> dict[str, Any]:
        kind = command.get("type", CHAT_INPUT)
        key = (guild_id, kind, command["name"])
        command_id = self._ids.setdefault(key, self._snowflakes.next())
        stored: dict[str, Any] = {
            "id": str(command_id),
            "application_id": str(self._application_id),
            "version": str(self._snowflakes.next()),
            "type": kind,
            "name": command["name"],
            "description": command.get("description", ""),
            "options": command.get("options") or [],
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": command.get("nsfw", False),
            "name_localizations": command.get("name_localizations"),
            "description_localizations": command.get("description_localizations"),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The commands of one scope (global when ``guild_id`` is None)."""
        return self._scopes.get(guild_id, [])

    def names(self, guild_id: int | None) -> list[str]:
        """Every chat-input command a user in ``guild_id`` can see, for error messages."""
        scopes = [None] if guild_id is None else [guild_id, None]
        return [c["name"] for s in scopes for c in self.commands(s) if c["type"] == CHAT_INPUT]

    def find(self, path: str, guild_id: int) -> tuple[dict[str, Any], list[str]]:
        """The top-level command of ``"papers search"`` and the rest of the path."""
        name, *rest = path.split()
        for scope in (guild_id, None):  # a guild command shadows a global one
            for command in self.commands(scope):
                if command["type"] == CHAT_INPUT and command["name"] == name:
                    return command, rest
        raise AssertionError(
            f"/{name} was not synced, so Discord would not offer it "
            f"(synced: {sorted(self.names(guild_id))}; syncs so far: {self.sync_count})"
        )


def require_usable(world: World, command: dict[str, Any], channel_id: int, user_id: int) -> None:
    """Raise CommandNotAvailable when Discord would hide the command from this user."""
    bits = world.channel_permissions(channel_id, user_id)
    if not bits & Permission.USE_APPLICATION_COMMANDS:
        raise CommandNotAvailable(
            f"the user lacks USE_APPLICATION_COMMANDS in channel {channel_id}"
        )
    required = command.get("default_member_permissions")
    if required is None:
        return
    guild_id = world.channels[channel_id].guild_id
    granted = world.guild_permissions(guild_id, user_id)
    if int(required) & ~granted:
        raise CommandNotAvailable(
            f"/{command['name']} needs default_member_permissions={required}; "
            f"{world.users[user_id].username} has {granted}, so Discord hides the command"
        )


def build_command_data(
    world: World,
    command: dict[str, Any],
    subpath: list[str],
    values: Mapping[str, Any],
    *,
    channel_id: int,
    user_id: int,
    focused: str | None = None,
) -> dict[str, Any]:
    """The ``data`` of an APPLICATION_COMMAND (or, with ``focused``, AUTOCOMPLETE) interaction."""
    chain = [command]
    node = command
    for name in subpath:
        children = [o for o in _options(node) if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        match = next((o for o in children if o["name"] == name), None)
        if match is None:
            raise AssertionError(
                f"/{' '.join(c['name'] for c in chain)} has no subcommand {name!r} "
                f"(has: {[o['name'] for o in children]})"
            )
        chain.append(match)
        node = match
    nested = [o for o in _options(node) if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if nested:
        raise AssertionError(
            f"/{' '.join(c['name'] for c in chain)} is a group: name one of "
            f"{[o['name'] for o in nested]}"
        )

    resolved: dict[str, dict[str, Any]] = {}
    options = _leaf_options(
        world,
        _options(node),
        values,
        resolved=resolved,
        channel_id=channel_id,
        user_id=user_id,
        focused=focused,
        where=f"/{' '.join(c['name'] for c in chain)}",
    )
    for parent in reversed(chain[1:]):
        options = [{"name": parent["name"], "type": parent["type"], "options": options}]

    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": CHAT_INPUT,
        "options": options,
    }
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    if resolved and focused is None:  # Discord sends no resolved data with autocomplete
        data["resolved"] = resolved
    return data


def _options(node: dict[str, Any]) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = node.get("options") or []
    return options


def _leaf_options(
    world: World,
    schema: list[dict[str, Any]],
    values: Mapping[str, Any],
    *,
    resolved: dict[str, dict[str, Any]],
    channel_id: int,
    user_id: int,
    focused: str | None,
    where: str,
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise AssertionError(f"{where} has no option(s) {unknown} (has: {sorted(by_name)})")
    if focused is None:
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing:
            hint = ""
            if set(missing) & DRIVER_PARAMETERS:
                hint = " (options named like the driver's own parameters go in options={...})"
            raise AssertionError(f"{where} requires option(s) {missing}{hint}")
    elif focused not in by_name:
        raise AssertionError(f"{where} has no option {focused!r} to focus")
    elif not by_name[focused].get("autocomplete"):
        raise AssertionError(f"{where} option {focused!r} has no autocomplete")

    options: list[dict[str, Any]] = []
    for option in schema:
        name = option["name"]
        if name not in values:
            continue
        if name == focused:
            options.append(
                {"name": name, "type": option["type"], "value": values[name], "focused": True}
            )
            continue
        value = convert_option(
            world,
            option,
            values[name],
            resolved=resolved,
            channel_id=channel_id,
            user_id=user_id,
            where=f"{where} {name}:",
        )
        options.append({"name": name, "type": option["type"], "value": value})
    return options


def convert_option(
    world: World,
    option: dict[str, Any],
    value: Any,
    *,
    resolved: dict[str, dict[str, Any]],
    channel_id: int,
    user_id: int,
    where: str,
) -> Any:
    """Turn a test's Python value into the wire value Discord sends for this option type."""
    kind = option["type"]
    if kind == STRING:
        _expect(isinstance(value, str), where, "a str", value)
        low, high = option.get("min_length"), option.get("max_length")
        _expect(low is None or len(value) >= low, where, f"at least {low} characters", value)
        _expect(high is None or len(value) <= high, where, f"at most {high} characters", value)
    elif kind in (INTEGER, NUMBER):
        numeric = int if kind == INTEGER else int | float
        _expect(
            isinstance(value, numeric) and not isinstance(value, bool), where, "a number", value
        )
        low, high = option.get("min_value"), option.get("max_value")
        _expect(low is None or value >= low, where, f">= {low}", value)
        _expect(high is None or value <= high, where, f"<= {high}", value)
        _expect(abs(value) <= MAX_SAFE_INTEGER, where, "within ±2**53", value)
    elif kind == BOOLEAN:
        _expect(isinstance(value, bool), where, "a bool", value)
    elif kind == USER:
        return str(_resolve_user(world, value, resolved, channel_id))
    elif kind == CHANNEL:
        return str(_resolve_channel(world, option, value, resolved, user_id, where))
    elif kind == ROLE:
        return str(_resolve_role(world, value, resolved, channel_id))
    elif kind == MENTIONABLE:
        try:
            return str(_resolve_user(world, value, resolved, channel_id))
        except AssertionError:
            return str(_resolve_role(world, value, resolved, channel_id))
    elif kind == ATTACHMENT:
        return str(_resolve_attachment(world, value, resolved, channel_id, where))
    else:
        raise AssertionError(f"{where} option type {kind} is not supported by the fake yet")

    choices = option.get("choices")
    if choices:
        allowed = [c["value"] for c in choices]
        _expect(value in allowed, where, f"one of the choices {allowed}", value)
    return value


def _expect(ok: bool, where: str, wanted: str, value: Any) -> None:
    if not ok:
        raise AssertionError(f"{where} Discord only accepts {wanted}, got {value!r}")


def _resolve_user(
    world: World, value: Any, resolved: dict[str, dict[str, Any]], channel_id: int
) -> int:
    user = world.users.get(value) if isinstance(value, int) else None
    if isinstance(value, str):
        user = world.user_named(value)
    if user is None:
        raise AssertionError(f"no user {value!r}")
    resolved.setdefault("users", {})[str(user.id)] = payloads.user_payload(user)
    guild = world.guilds[world.channels[channel_id].guild_id]
    member = guild.members.get(user.id)
    if member is not None:
        resolved.setdefault("members", {})[str(user.id)] = payloads.member_payload(
            world,
            guild,
            member,
            permissions=world.channel_permissions(channel_id, user.id),
            with_user=False,
        )
    return user.id


def _resolve_channel(
    world: World,
    option: dict[str, Any],
    value: Any,
    resolved: dict[str, dict[str, Any]],
    user_id: int,
    where: str,
) -> int:
    channel = (
        world.channel_named(value) if isinstance(value, str) else world.channels.get(int(value))
    )
    if channel is None:
        raise AssertionError(f"{where} no channel {value!r}")
    allowed_types = option.get("channel_types") or []
    _expect(
        not allowed_types or channel.type in allowed_types,
        where,
        f"channel types {allowed_types}",
        value,
    )
    resolved.setdefault("channels", {})[str(channel.id)] = {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "guild_id": str(channel.guild_id),
        "position": channel.position,
        "parent_id": None,
        "topic": channel.topic,
        "nsfw": False,
        "flags": 0,
        "rate_limit_per_user": 0,
        "last_message_id": payloads.snowflake(channel.last_message_id),
        "permissions": str(world.channel_permissions(channel.id, user_id)),
    }
    return channel.id


def _resolve_role(
    world: World, value: Any, resolved: dict[str, dict[str, Any]], channel_id: int
) -> int:
    guild = world.guilds[world.channels[channel_id].guild_id]
    role = next(
        (r for r in guild.roles.values() if value in (r.id, r.name)),
        None,
    )
    if role is None:
        raise AssertionError(f"no role {value!r} in guild {guild.name!r}")
    resolved.setdefault("roles", {})[str(role.id)] = payloads.role_payload(role)
    return role.id


def _resolve_attachment(
    world: World,
    value: Any,
    resolved: dict[str, dict[str, Any]],
    channel_id: int,
    where: str,
) -> int:
    _expect(
        isinstance(value, tuple) and len(value) == 2,
        where,
        "a (filename, bytes) tuple for an attachment option",
        value,
    )
    filename, data = value
    attachment = StoredAttachment(id=world.snowflakes.next(), filename=filename, data=bytes(data))
    world.store_attachments([attachment])
    url = f"{world.cdn_base}/attachments/{channel_id}/{attachment.id}/{filename}"
    resolved.setdefault("attachments", {})[str(attachment.id)] = {
        "id": str(attachment.id),
        "filename": filename,
        "size": attachment.size,
        "url": url,
        "proxy_url": url,
        "ephemeral": True,
    }
    return attachment.id
