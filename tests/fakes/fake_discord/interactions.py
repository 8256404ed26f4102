"""Interactions the fake dispatched, and what the bot answered to each.

An `InteractionRecord` is what a test holds after ``fake.slash(...)`` or ``fake.click(...)``:
it waits for the bot's answer and shows what the invoking user ends up seeing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .payloads import message_payload
from .world import Message, StoredAttachment, World

if TYPE_CHECKING:
    from .errors import DiscordError
    from .records import Notifier

# Interaction types (interactions/receiving-and-responding.mdx).
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Interaction callback types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
    ),
}


class InteractionRejected(AssertionError):
    """Discord refused the bot's answer (e.g. 10062 too late, 50035 invalid, 40060 twice)."""


class InteractionRecord:
    """One dispatched interaction and the bot's answers to it.

    Waiting: ``await rec.response()`` (the initial callback), ``await rec.followups(n)``,
    ``await rec.answer()`` (until the user sees a message). Inspecting: ``rec.final()`` and its
    shortcuts ``content``, ``embeds``, ``components``, ``attachments``, ``ephemeral``;
    ``rec.choices`` for autocomplete, ``rec.modal`` for a modal.

    A wait ends early with `InteractionRejected` when the fake refused one of the bot's
    callbacks or webhook calls for this interaction while the awaited answer is still missing,
    so a test sees "400 50035 In data.embeds.0.title: …" instead of a timeout.
    """

    def __init__(
        self,
        *,
        world: World,
        notifier: Notifier,
        interaction_id: int,
        token: str,
        kind: int,
        payload: dict[str, Any],
        user_id: int,
        channel_id: int,
        message_id: int | None = None,
    ) -> None:
        self._world = world
        self._notifier = notifier
        self.id = interaction_id
        self.token = token
        self.kind = kind
        self.payload = payload  # the INTERACTION_CREATE data as dispatched
        self.user_id = user_id
        self.channel_id = channel_id
        self.message_id = message_id  # the message a clicked component belongs to
        self.dispatched_at = time.monotonic()
        self.callbacks: list[dict[str, Any]] = []  # accepted callback bodies; [0] is initial
        self.response_type: int | None = None
        self.original_id: int | None = None  # the message "@original" refers to
        self.followup_ids: list[int] = []
        self.choices: list[dict[str, Any]] | None = None
        self.modal: dict[str, Any] | None = None
        self.rejections: list[DiscordError] = []  # errors the fake answered the bot with
        self.ack_expired = False  # forced by expire(): the 3 s window has passed
        self.token_expired = False  # forced by expire(token=True): the 15 min have passed

    def __repr__(self) -> str:
        return (
            f"<InteractionRecord id={self.id} kind={self.kind} response_type={self.response_type} "
            f"followups={len(self.followup_ids)}>"
        )

    # --- state ---------------------------------------------------------------------------

    @property
    def responded(self) -> bool:
        """Whether the initial response (any callback type) was accepted."""
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        """Whether the initial response was a deferral (type 5 or 6)."""
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE)

    def expire(self, *, token: bool = False) -> None:
        """Let the 3 s window pass now (and with ``token``, the 15 min token lifetime too)."""
        self.ack_expired = True
        self.token_expired = self.token_expired or token

    def owns(self, message_id: int) -> bool:
        """Whether the interaction webhook may reach this message."""
        return message_id == self.original_id or message_id in self.followup_ids

    def _messages(self) -> list[Message]:
        ids = [self.original_id, *self.followup_ids]
        found = {i: self._world.messages.get(i) for i in ids if i is not None}
        return [m for m in found.values() if m is not None and not m.deleted and not m.loading]

    def _describe(self) -> str:
        return (
            f"the bot's answer to interaction {self.id} (response type: {self.response_type}, "
            f"followups: {len(self.followup_ids)}, callbacks: {self.callbacks}, "
            f"rejections: {self.rejections})"
        )

    # --- waiting -------------------------------------------------------------------------

    async def _wait(
        self,
        done: Callable[[], object],
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``done()``; fail at once if a rejection leaves it unmet."""
        await self._notifier.wait_for(lambda: done() or self.rejections, timeout, self._describe)
        if not done():
            raise InteractionRejected(
                f"Discord refused the bot's answer to interaction {self.id}: "
                + "; ".join(
                    f"{e.status} {e.code} {e.message} {e.errors or ''}".strip()
                    for e in self.rejections
                )
            )

    async def response(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait for the initial callback; return its body (``{"type": 4, "data": …}``)."""
        await self._wait(lambda: self.responded, timeout)
        return self.callbacks[0]

    async def followups(
        self,
        n: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until the bot sent ``n`` followups; return them as the user sees them."""
        await self._wait(lambda: len(self.followup_ids) >= n, timeout)
        return [self._render(self._world.messages[i]) for i in self.followup_ids]

    async def answer(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait until the user sees a message (not the "thinking…" placeholder); `final()`."""
        await self._wait(self._messages, timeout)
        return self.final()

    # --- what the user sees ------------------------------------------------------------------

    def final(self) -> dict[str, Any]:
        """The message the user ends up seeing: the most recently sent or edited answer."""
        messages = self._messages()
        if not messages:
            raise AssertionError(f"no visible answer yet: {self._describe()}")
        return self._render(max(messages, key=lambda m: m.revision))

    def _render(self, message: Message) -> dict[str, Any]:
        return message_payload(self._world, message, viewer_id=self.user_id)

    def _final_message(self) -> Message:
        final_id = int(self.final()["id"])
        return self._world.messages[final_id]

    @property
    def ephemeral(self) -> bool:
        """Whether the final message is only visible to the invoking user."""
        return self._final_message().ephemeral

    @property
    def content(self) -> str:
        return str(self.final()["content"])

    @property
    def embeds(self) -> list[dict[str, Any]]:
        embeds: list[dict[str, Any]] = self.final()["embeds"]
        return embeds

    @property
    def components(self) -> list[dict[str, Any]]:
        components: list[dict[str, Any]] = self.final()["components"]
        return components

    @property
    def attachments(self) -> list[StoredAttachment]:
        """The files of the final message, with their bytes."""
        return list(self._final_message().attachments)


class InteractionRegistry:
    """Every interaction dispatched, by id and by token."""

    def __init__(self) -> None:
        self.records: list[InteractionRecord] = []
        self._by_id: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}

    def add(self, record: InteractionRecord) -> None:
        self.records.append(record)
        self._by_id[record.id] = record
        self._by_token[record.token] = record

    def by_id(self, interaction_id: int) -> InteractionRecord | None:
        return self._by_id.get(interaction_id)

    def by_token(self, token: str) -> InteractionRecord | None:
        return self._by_token.get(token)
