"""Turning create/edit request bodies (JSON or multipart) into stored messages.

Shared by the channel routes, the interaction callback and the interaction webhook, which all
accept the same message body: ``content``, ``embeds``, ``components``, ``flags``,
``allowed_mentions`` and ``attachments`` (``{"id": n}`` pointing at the ``files[n]`` part, or
at an existing attachment's id when editing).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from .errors import (
    CANNOT_SEND_EMPTY_MESSAGE,
    REQUEST_ENTITY_TOO_LARGE,
    DiscordError,
    FormErrors,
)
from .limits import ATTACHMENT_SIZE_LIMIT, ATTACHMENTS_PER_MESSAGE, IS_COMPONENTS_V2
from .mentions import resolve_pings
from .records import UploadedFile
from .world import EPHEMERAL, Message, StoredAttachment, World

SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
CHANNEL_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
"""Flags a bot may set on a channel message."""
WEBHOOK_FLAGS = CHANNEL_FLAGS | EPHEMERAL
"""Flags an interaction response or followup may set."""

NONCE_MAX = 25


def check_files(files: dict[int, UploadedFile], errors: FormErrors) -> None:
    """Raise 413/40005 for an oversized file; record too many files as a form error."""
    for upload in files.values():
        if len(upload.data) > ATTACHMENT_SIZE_LIMIT:
            raise DiscordError.of(REQUEST_ENTITY_TOO_LARGE)
    if len(files) > ATTACHMENTS_PER_MESSAGE:
        errors.too_long(("files",), ATTACHMENTS_PER_MESSAGE)


def _content_type(upload: UploadedFile) -> str | None:
    guessed, _ = mimetypes.guess_type(upload.filename)
    content_type = guessed or upload.content_type
    if content_type and content_type.startswith("text/"):
        return f"{content_type}; charset=utf-8"
    return content_type


def new_attachments(
    world: World, payload: dict[str, Any], files: dict[int, UploadedFile]
) -> list[StoredAttachment]:
    """The uploaded files, named and described as the ``attachments`` entries say."""
    entries = {
        int(a["id"]): a
        for a in payload.get("attachments") or []
        if isinstance(a, dict) and str(a.get("id", "")).isdigit() and int(a["id"]) in files
    }
    stored = []
    for index, upload in sorted(files.items()):
        entry = entries.get(index, {})
        stored.append(
            StoredAttachment(
                id=world.snowflakes.next(),
                filename=entry.get("filename") or upload.filename,
                data=upload.data,
                content_type=_content_type(upload),
                description=entry.get("description"),
            )
        )
    return stored


def build_message(
    world: World,
    payload: dict[str, Any],
    files: dict[int, UploadedFile],
    *,
    channel_id: int,
    author_id: int,
    allowed_flags: int,
    **fields: Any,
) -> Message:
    """A new, not yet stored message from a create body; 400/50006 if it would be empty."""
    channel = world.channels.get(channel_id)
    message = Message(
        id=world.snowflakes.next(),
        channel_id=channel_id,
        guild_id=channel.guild_id if channel is not None else None,  # None: a DM
        author_id=author_id,
        content=payload.get("content") or "",
        embeds=list(payload.get("embeds") or []),
        components=list(payload.get("components") or []),
        attachments=new_attachments(world, payload, files),
        flags=int(payload.get("flags") or 0) & allowed_flags,
        tts=bool(payload.get("tts")),
        allowed_mentions=payload.get("allowed_mentions"),
        **fields,
    )
    require_not_empty(message)
    if channel is not None and channel.guild_id in world.guilds:  # DMs ping no roles
        message.pings = resolve_pings(
            world, channel_id, author_id, message.content, message.allowed_mentions
        )
    return message


def apply_edit(
    world: World,
    message: Message,
    payload: dict[str, Any],
    files: dict[int, UploadedFile],
    *,
    edited: bool = True,
) -> None:
    """Apply an edit body: present keys replace, ``attachments`` lists what to keep.

    ``edited=False`` fills in a deferred response, which Discord does not mark as edited.
    """
    if "content" in payload:
        message.content = payload["content"] or ""
    if "embeds" in payload:
        message.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        message.components = list(payload["components"] or [])
    if "allowed_mentions" in payload:
        message.allowed_mentions = payload["allowed_mentions"]
    if "flags" in payload and payload["flags"] is not None:
        keep = message.flags & ~(SUPPRESS_EMBEDS | IS_COMPONENTS_V2)
        message.flags = keep | (int(payload["flags"]) & (SUPPRESS_EMBEDS | IS_COMPONENTS_V2))
    added = new_attachments(world, payload, files)
    if "attachments" in payload:
        keep_ids = {str(a.get("id")) for a in payload["attachments"] or [] if isinstance(a, dict)}
        message.attachments = [a for a in message.attachments if str(a.id) in keep_ids]
    message.attachments += added
    world.store_attachments(added)
    require_not_empty(message)
    world.touch(message, edited=edited)


def require_not_empty(message: Message) -> None:
    """Discord refuses a message with nothing to show: 400/50006."""
    if not (message.content or message.embeds or message.components or message.attachments):
        raise DiscordError.of(CANNOT_SEND_EMPTY_MESSAGE)


def check_nonce(payload: dict[str, Any], errors: FormErrors) -> None:
    """A nonce is an integer or a string of at most 25 characters."""
    nonce = payload.get("nonce")
    if isinstance(nonce, str) and len(nonce) > NONCE_MAX:
        errors.too_long(("nonce",), NONCE_MAX)
