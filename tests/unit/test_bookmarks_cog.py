"""The Discord pieces of bookmarks that need no server: button ids, reaction filter, replies."""

from __future__ import annotations

import discord
import pytest

from bot.bookmarks import BookmarkChange
from cogs.bookmarks import (
    BookmarkButton,
    change_message,
    is_bookmark_reaction,
    paper_post_view,
)
from cogs.similar import SimilarButton

BOT_ID = 99
BOOKMARK = discord.PartialEmoji.from_str("🔖")


def reaction(emoji: str, *, user_id: int = 7) -> discord.RawReactionActionEvent:
    data = {"message_id": "1", "channel_id": "2", "user_id": str(user_id), "type": 0}
    return discord.RawReactionActionEvent(
        data,  # type: ignore[arg-type]
        discord.PartialEmoji.from_str(emoji),
        "REACTION_ADD",
    )


@pytest.mark.parametrize("paper_id", ["2406.12345", "hep-th/9901001", "1" * 64])
def test_the_button_id_carries_the_paper_id_within_discords_limit(paper_id: str) -> None:
    button = BookmarkButton(paper_id)
    custom_id = button.item.custom_id
    assert custom_id is not None
    assert len(custom_id) <= 100
    match = BookmarkButton.__discord_ui_compiled_template__.fullmatch(custom_id)
    assert match is not None
    assert match["paper_id"] == paper_id


def test_foreign_button_ids_are_not_ours() -> None:
    template = BookmarkButton.__discord_ui_compiled_template__
    assert template.fullmatch("papers-bot:bookmark:") is None
    assert template.fullmatch("papers-bot:bookmark:2406.12345 extra") is None
    assert template.fullmatch("other:bookmark:2406.12345") is None


async def test_the_post_view_is_persistent() -> None:
    view = paper_post_view("2406.12345")
    assert view.timeout is None
    assert view.is_persistent()
    [button, similar] = view.children
    assert isinstance(button, BookmarkButton)
    assert button.item.label == "Bookmark"
    assert isinstance(similar, SimilarButton)
    assert similar.item.label == "Similar"
    assert similar.item.custom_id == "papers-bot:similar:2406.12345"


@pytest.mark.parametrize(
    ("emoji", "user_id", "counts"),
    [
        ("🔖", 7, True),
        ("🔖\ufe0f", 7, True),
        ("🔖", BOT_ID, False),  # the bot's own hint reaction
        ("👍", 7, False),
        ("<:bookmark:112233445566778899>", 7, False),
    ],
)
def test_only_people_reacting_with_the_bookmark_emoji_count(
    emoji: str, user_id: int, *, counts: bool
) -> None:
    event = reaction(emoji, user_id=user_id)
    assert is_bookmark_reaction(event, BOOKMARK, bot_user_id=BOT_ID) is counts


def test_a_custom_bookmark_emoji_is_matched_by_id() -> None:
    wanted = discord.PartialEmoji.from_str("<:save:112233445566778899>")

    def counts(emoji: str) -> bool:
        return is_bookmark_reaction(reaction(emoji), wanted, bot_user_id=BOT_ID)

    assert counts("<:renamed:112233445566778899>")
    assert not counts("<:save:998877665544332211>")
    assert not counts("save")


def test_replies_say_what_changed_and_how_many_are_saved() -> None:
    saved = BookmarkChange("2406.12345", saved=True, changed=True, total=12, title="T")
    removed = BookmarkChange("2406.12345", saved=False, changed=True, total=1, title="T")
    assert change_message(saved) == "Saved — 12 papers in your bookmarks."
    assert change_message(removed) == "Removed **T** — 1 paper left in your bookmarks."


def test_a_pending_save_says_the_bookmark_is_kept() -> None:
    change = BookmarkChange("2406.12345", saved=True, changed=True, total=1, details_pending=True)
    text = change_message(change)
    assert text.startswith("Saved — 1 paper in your bookmarks.")
    assert "Hugging Face is not answering" in text
    assert "kept" in text


def test_titles_in_replies_cannot_format_or_ping() -> None:
    change = BookmarkChange(
        "2406.12345", saved=False, changed=True, total=0, title="**Bold** @everyone " + "x" * 900
    )
    text = change_message(change)
    assert "@everyone" not in text
    assert "\\*\\*Bold\\*\\*" in text
    assert len(text) < 300
