"""Discord's documented limits as named constants, and the validators that enforce them.

discord.py enforces almost none of these client-side (only "10 embeds" and "25 view children"),
so without this module an oversized embed would pass every test and fail in production. Each
validator adds to a `FormErrors`; the caller raises the 400/50035 once everything is checked,
as Discord reports every bad field of a request at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .errors import FormErrors
from .mentions import check_allowed_mentions

Path = tuple[str | int, ...]

# Messages (resources/message.mdx).
CONTENT_MAX = 2000
# Threads and forum posts.
THREAD_NAME_LIMIT = 100
FORUM_TAGS_LIMIT = 5  # applied_tags of one forum post
AUTO_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)  # minutes
EMBEDS_PER_MESSAGE = 10
ATTACHMENTS_PER_MESSAGE = 10
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # a guild without boosts; sent as attachment_size_limit
REACTIONS_PER_MESSAGE = 20  # distinct emoji on one message

# Embeds (resources/message.mdx, "Embed Limits").
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_TEXT_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000  # summed over every embed of a message
EMBED_COLOR_MAX = 0xFFFFFF

# Components (components/reference.mdx).
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100  # label, value and description
SELECT_PLACEHOLDER_MAX = 150
SELECT_VALUES_MAX = 25
COMPONENTS_V2_TOTAL_MAX = 40
IS_COMPONENTS_V2 = 1 << 15
MODAL_TITLE_MAX = 45
MODAL_ROWS_MAX = 5

# Application commands (interactions/application-commands.mdx).
AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_VALUE_MAX = 100
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
CHAT_INPUT_COMMANDS_MAX = 100  # per scope: global, or one guild

# Interactions (interactions/receiving-and-responding.mdx).
INTERACTION_ACK_SECONDS = 3.0
INTERACTION_TOKEN_SECONDS = 15 * 60.0

BUTTON = 2
ACTION_ROW = 1
STRING_SELECT = 3
TEXT_INPUT = 4
AUTO_SELECTS = frozenset({5, 6, 7, 8})  # user, role, mentionable, channel selects
SELECTS = frozenset({STRING_SELECT}) | AUTO_SELECTS
LINK_BUTTON_STYLE = 5
PREMIUM_BUTTON_STYLE = 6

_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
_URL_SCHEMES = ("http://", "https://")
_MEDIA_URL_SCHEMES = (*_URL_SCHEMES, "attachment://")


def _check_length(errors: FormErrors, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        errors.too_long(path, limit)


def _check_url(errors: FormErrors, path: Path, url: Any, schemes: tuple[str, ...]) -> None:
    if url is not None and not (isinstance(url, str) and url.startswith(schemes)):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def validate_message(payload: dict[str, Any], errors: FormErrors, prefix: Path = ()) -> None:
    """Check content, embeds, components and flags of a message create/edit body."""
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.add(
                (*prefix, "content"), "STRING_TYPE_CONVERT", "Could not interpret as string."
            )
        else:
            _check_length(errors, (*prefix, "content"), content, CONTENT_MAX)

    check_allowed_mentions(payload, errors)
    flags = payload.get("flags") or 0
    embeds = payload.get("embeds")
    if embeds is not None:
        validate_embeds(embeds, errors, (*prefix, "embeds"))

    components = payload.get("components")
    if components is not None:
        if flags & IS_COMPONENTS_V2:
            if content:
                errors.add(
                    (*prefix, "content"),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            if embeds:
                errors.add(
                    (*prefix, "embeds"),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            validate_components_v2(components, errors, (*prefix, "components"))
        else:
            validate_action_rows(components, errors, (*prefix, "components"))


def validate_embeds(embeds: Any, errors: FormErrors, path: Path) -> None:
    """Check the embed list: count, every embed's fields, and the 6000-character total."""
    if not isinstance(embeds, list):
        errors.add(path, "BASE_TYPE_BAD_TYPE", "Must be a list.")
        return
    _check_length(errors, path, embeds, EMBEDS_PER_MESSAGE)
    total = 0
    for index, embed in enumerate(embeds):
        total += _validate_embed(embed, errors, (*path, index))
    if total > EMBED_TOTAL_MAX:
        errors.add(
            path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
        )


def _validate_embed(embed: Any, errors: FormErrors, path: Path) -> int:
    """Check one embed; return the characters it counts towards the 6000 total."""
    if not isinstance(embed, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return 0
    counted = 0
    for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
        value = embed.get(key)
        if value is not None:
            _check_length(errors, (*path, key), value, limit)
            counted += len(str(value))
    _check_url(errors, (*path, "url"), embed.get("url"), _URL_SCHEMES)

    color = embed.get("color")
    if color is not None and not (isinstance(color, int) and 0 <= color <= EMBED_COLOR_MAX):
        errors.add(
            (*path, "color"),
            "NUMBER_TYPE_MAX",
            f"int value should be less than or equal to {EMBED_COLOR_MAX}.",
        )
    timestamp = embed.get("timestamp")
    if timestamp is not None:
        try:
            datetime.fromisoformat(str(timestamp))
        except ValueError:
            errors.add((*path, "timestamp"), "DATE_TYPE_PARSE", "Could not parse timestamp.")

    fields = embed.get("fields") or []
    _check_length(errors, (*path, "fields"), fields, EMBED_FIELDS_MAX)
    for index, field in enumerate(fields):
        field_path = (*path, "fields", index)
        for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
            value = field.get(key) if isinstance(field, dict) else None
            if value is None or value == "":
                errors.required((*field_path, key))
            else:
                _check_length(errors, (*field_path, key), value, limit)
                counted += len(str(value))

    footer = embed.get("footer")
    if footer is not None:
        text = footer.get("text")
        if not text:
            errors.required((*path, "footer", "text"))
        else:
            _check_length(errors, (*path, "footer", "text"), text, EMBED_FOOTER_TEXT_MAX)
            counted += len(text)
        _check_url(
            errors, (*path, "footer", "icon_url"), footer.get("icon_url"), _MEDIA_URL_SCHEMES
        )

    author = embed.get("author")
    if author is not None:
        name = author.get("name")
        if not name:
            errors.required((*path, "author", "name"))
        else:
            _check_length(errors, (*path, "author", "name"), name, EMBED_AUTHOR_NAME_MAX)
            counted += len(name)
        _check_url(errors, (*path, "author", "url"), author.get("url"), _URL_SCHEMES)
        _check_url(
            errors, (*path, "author", "icon_url"), author.get("icon_url"), _MEDIA_URL_SCHEMES
        )

    for media in ("image", "thumbnail"):
        if embed.get(media) is not None:
            _check_url(errors, (*path, media, "url"), embed[media].get("url"), _MEDIA_URL_SCHEMES)
    return counted


def validate_action_rows(rows: Any, errors: FormErrors, path: Path) -> None:
    """Check legacy components: ≤5 rows, each ≤5 buttons or exactly one select."""
    if not isinstance(rows, list):
        errors.add(path, "BASE_TYPE_BAD_TYPE", "Must be a list.")
        return
    _check_length(errors, path, rows, ACTION_ROWS_MAX)
    seen_ids: set[str] = set()
    for row_index, row in enumerate(rows):
        row_path = (*path, row_index)
        if not isinstance(row, dict) or row.get("type") != ACTION_ROW:
            errors.add(
                (*row_path, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" must be one of (1,).',
            )
            continue
        children = row.get("components") or []
        if not children:
            errors.too_short((*row_path, "components"), 1)
        kinds = {child.get("type") for child in children if isinstance(child, dict)}
        if kinds & SELECTS and len(children) > 1:
            errors.add(
                (*row_path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        else:
            _check_length(errors, (*row_path, "components"), children, BUTTONS_PER_ROW_MAX)
        for index, child in enumerate(children):
            validate_interactive(child, errors, (*row_path, "components", index), seen_ids)


def validate_interactive(
    component: Any, errors: FormErrors, path: Path, seen_ids: set[str]
) -> None:
    """Check a button or select: custom_id, label, options and values."""
    if not isinstance(component, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    kind = component.get("type")
    style = component.get("style")
    needs_custom_id = (
        kind in SELECTS
        or kind == TEXT_INPUT
        or (kind == BUTTON and style not in (LINK_BUTTON_STYLE, PREMIUM_BUTTON_STYLE))
    )
    custom_id = component.get("custom_id")
    if needs_custom_id:
        if not custom_id:
            errors.required((*path, "custom_id"))
        else:
            _check_length(errors, (*path, "custom_id"), custom_id, CUSTOM_ID_MAX)
            if custom_id in seen_ids:
                errors.add(
                    (*path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            seen_ids.add(custom_id)
    if kind == BUTTON:
        _check_length(errors, (*path, "label"), component.get("label"), BUTTON_LABEL_MAX)
        if style == LINK_BUTTON_STYLE:
            if custom_id is not None:
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "A custom id cannot be specified for link buttons",
                )
            _check_url(errors, (*path, "url"), component.get("url"), (*_URL_SCHEMES, "discord://"))
            if component.get("url") is None:
                errors.required((*path, "url"))
        elif (
            style != PREMIUM_BUTTON_STYLE
            and not component.get("label")
            and not component.get("emoji")
        ):
            errors.add(
                path,
                "BUTTON_COMPONENT_MISSING_LABEL_OR_EMOJI",
                "A label or emoji must be specified",
            )
    elif kind in SELECTS:
        _validate_select(component, errors, path)


def _validate_select(select: dict[str, Any], errors: FormErrors, path: Path) -> None:
    _check_length(errors, (*path, "placeholder"), select.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    min_values = select.get("min_values", 1)
    max_values = select.get("max_values", 1)
    if not 0 <= min_values <= SELECT_VALUES_MAX:
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "Must be between 0 and 25.")
    if not 1 <= max_values <= SELECT_VALUES_MAX:
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "Must be between 1 and 25.")
    if select.get("type") != STRING_SELECT:
        return
    options = select.get("options") or []
    if not options:
        errors.too_short((*path, "options"), 1)
    _check_length(errors, (*path, "options"), options, SELECT_OPTIONS_MAX)
    if options and max_values > len(options):
        errors.add(
            (*path, "max_values"),
            "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS",
            "max_values must be less than or equal to the number of options",
        )
    for index, option in enumerate(options):
        for key in ("label", "value"):
            if not option.get(key):
                errors.required((*path, "options", index, key))
        for key in ("label", "value", "description"):
            _check_length(
                errors, (*path, "options", index, key), option.get(key), SELECT_OPTION_TEXT_MAX
            )


def validate_components_v2(components: Any, errors: FormErrors, path: Path) -> None:
    """Check a Components V2 tree: at most 40 components, interactive ones as usual."""
    seen_ids: set[str] = set()
    total = 0

    def walk(items: list[Any], item_path: Path) -> None:
        nonlocal total
        for index, item in enumerate(items):
            total += 1
            if not isinstance(item, dict):
                continue
            here = (*item_path, index)
            if item.get("type") == BUTTON or item.get("type") in SELECTS:
                validate_interactive(item, errors, here, seen_ids)
            accessory = item.get("accessory")
            if isinstance(accessory, dict):
                total += 1
                if accessory.get("type") == BUTTON:
                    validate_interactive(accessory, errors, (*here, "accessory"), seen_ids)
            walk(item.get("components") or [], (*here, "components"))

    walk(components if isinstance(components, list) else [], path)
    if total > COMPONENTS_V2_TOTAL_MAX:
        errors.too_long(path, COMPONENTS_V2_TOTAL_MAX)


def validate_choices(choices: Any, errors: FormErrors, path: Path) -> None:
    """Check an autocomplete result: ≤25 choices, names 1–100, string values ≤100."""
    if not isinstance(choices, list):
        errors.add(path, "BASE_TYPE_BAD_TYPE", "Must be a list.")
        return
    _check_length(errors, path, choices, AUTOCOMPLETE_CHOICES_MAX)
    for index, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, dict) else None
        if not name:
            errors.required((*path, index, "name"))
        else:
            _check_length(errors, (*path, index, "name"), name, CHOICE_NAME_MAX)
        value = choice.get("value") if isinstance(choice, dict) else None
        if value is None:
            errors.required((*path, index, "value"))
        elif isinstance(value, str):
            _check_length(errors, (*path, index, "value"), value, CHOICE_STRING_VALUE_MAX)


def validate_modal(modal: Any, errors: FormErrors, path: Path) -> None:
    """Check a modal: title 1–45, custom_id 1–100, 1–5 top-level components."""
    if not isinstance(modal, dict):
        errors.required(path)
        return
    title = modal.get("title")
    if not title:
        errors.required((*path, "title"))
    else:
        _check_length(errors, (*path, "title"), title, MODAL_TITLE_MAX)
    custom_id = modal.get("custom_id")
    if not custom_id:
        errors.required((*path, "custom_id"))
    else:
        _check_length(errors, (*path, "custom_id"), custom_id, CUSTOM_ID_MAX)
    components = modal.get("components") or []
    if not components:
        errors.too_short((*path, "components"), 1)
    _check_length(errors, (*path, "components"), components, MODAL_ROWS_MAX)


def validate_commands(commands: Any, errors: FormErrors) -> None:
    """Check a bulk-overwrite body: names, descriptions, options and the per-scope count."""
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_BAD_TYPE", "Must be a list.")
        return
    chat_input = [c for c in commands if isinstance(c, dict) and c.get("type", 1) == 1]
    if len(chat_input) > CHAT_INPUT_COMMANDS_MAX:
        errors.too_long((), CHAT_INPUT_COMMANDS_MAX)
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        kind = command.get("type", 1)
        name = command.get("name", "")
        if (kind, name) in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMAND_ALREADY_EXISTS",
                "Application command names must be unique",
            )
        seen.add((kind, name))
        _validate_command_node(command, errors, (index,), chat_input=kind == 1)


def _validate_command_node(
    node: dict[str, Any], errors: FormErrors, path: Path, *, chat_input: bool
) -> None:
    name = node.get("name")
    if not isinstance(name, str) or not name:
        errors.required((*path, "name"))
    elif chat_input and (not _COMMAND_NAME_RE.match(name) or name != name.lower()):
        errors.add(
            (*path, "name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        )
    elif len(name) > COMMAND_NAME_MAX:
        errors.too_long((*path, "name"), COMMAND_NAME_MAX)
    if chat_input:
        description = node.get("description")
        if not description:
            errors.too_short((*path, "description"), 1)
        else:
            _check_length(errors, (*path, "description"), description, COMMAND_DESCRIPTION_MAX)
    options = node.get("options") or []
    _check_length(errors, (*path, "options"), options, COMMAND_OPTIONS_MAX)
    seen_optional = False
    for index, option in enumerate(options):
        option_path = (*path, "options", index)
        if option.get("type") in (1, 2):
            _validate_command_node(option, errors, option_path, chat_input=True)
            continue
        _validate_command_node(option, errors, option_path, chat_input=True)
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*option_path, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            errors.add(
                (*option_path, "autocomplete"),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_WITH_CHOICES",
                "Autocomplete cannot be enabled on options that have choices",
            )
        validate_choices(choices, errors, (*option_path, "choices"))
