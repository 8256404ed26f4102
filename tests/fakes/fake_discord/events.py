"""What Discord tells the bot over the gateway when the world changes.

Both the REST routes (the bot's own actions) and the drivers (a test acting as a user) change the
world; they all announce it through `Events`, so the bot sees the same events either way — the
bot's own messages and reactions included, as on Discord.
"""

from __future__ import annotations

from typing import Any

from . import payloads
from .gateway import Gateway
from .world import Channel, Message, Thread, World


class Events:
    """Builds gateway events from world changes and hands them to the gateway."""

    def __init__(self, world: World, gateway: Gateway, *, bot_user_id: int) -> None:
        self._world = world
        self._gateway = gateway
        self._bot_user_id = bot_user_id

    def message_created(self, message: Message) -> None:
        """MESSAGE_CREATE for a message members can see (never for ephemeral ones)."""
        if message.ephemeral or message.loading:
            return
        payload = payloads.message_event_payload(self._world, message, viewer_id=self._bot_user_id)
        self._gateway.dispatch("MESSAGE_CREATE", payload, author_id=message.author_id)

    def message_updated(self, message: Message) -> None:
        """MESSAGE_UPDATE after an edit."""
        if message.ephemeral or message.loading:
            return
        payload = payloads.message_event_payload(self._world, message, viewer_id=self._bot_user_id)
        self._gateway.dispatch("MESSAGE_UPDATE", payload, author_id=message.author_id)

    def message_deleted(self, message: Message) -> None:
        """MESSAGE_DELETE."""
        if message.ephemeral:
            return
        payload: dict[str, Any] = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        self._gateway.dispatch("MESSAGE_DELETE", payload)

    def reaction(
        self, message: Message, *, user_id: int, emoji: dict[str, Any], added: bool
    ) -> dict[str, Any] | None:
        """MESSAGE_REACTION_ADD/REMOVE; the payload, or None if no session may receive it."""
        payload = payloads.reaction_event_payload(
            self._world, message, user_id=user_id, emoji=emoji, added=added
        )
        event = "MESSAGE_REACTION_ADD" if added else "MESSAGE_REACTION_REMOVE"
        return payload if self._gateway.dispatch(event, payload) else None

    def thread_created(self, thread: Thread) -> None:
        """THREAD_CREATE for a thread just opened."""
        self._gateway.dispatch(
            "THREAD_CREATE", {**payloads.thread_payload(thread), "newly_created": True}
        )

    def channel(self, event: str, channel: Channel) -> None:
        """CHANNEL_CREATE, CHANNEL_UPDATE (e.g. new overwrites) or CHANNEL_DELETE."""
        self._gateway.dispatch(event, payloads.channel_payload(channel))
