"""``/bookmarks``, the bookmark reaction and the Bookmark button: a private reading list.

Every reply here is ephemeral and about the acting user's own bookmarks only. Reactions get no
reply at all: the reaction itself is the feedback, and any reply would be public. Removing a
reaction is not listened to: it may be a moderator's doing (see ``bot.bookmarks``).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PapersBot
from bot.bookmarks import BookmarkChange, BookmarkPage, BookmarkService, Recommendations
from bot.embeds import bookmark_list_embed, clean, recommendations_embed, truncate
from bot.errors import PaperBotError
from bot.models import CardStyle
from cogs.abstract import AbstractButton
from cogs.paper_buttons import apologise, button_template, paper_button, papers_bot
from cogs.similar import SimilarButton
from cogs.views import Paginator, choice_name, chunk

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

NO_MENTIONS = discord.AllowedMentions.none()
BUTTON_PREFIX = "papers-bot:bookmark:"
BUTTON_LABEL = "Bookmark"
BUTTON_EMOJI = "🔖"
# arXiv ids only ("2406.12345", "hep-th/9901001"): with the prefix, far inside custom_id's 100.
BUTTON_TEMPLATE = button_template(BUTTON_PREFIX)
CONFIRM_TIMEOUT = 60.0
RECOMMENDATIONS_PER_PAGE = 5
TITLE_CHARS = 120
VARIATION_SELECTOR = "\ufe0f"  # "🔖" and "🔖\ufe0f" are the same reaction to a reader


def papers(count: int) -> str:
    return f"{count:,} paper" + ("" if count == 1 else "s")


def _title(change: BookmarkChange) -> str:
    """The paper as a user should read it in a reply (untrusted title made inert)."""
    if change.title:
        return f"**{truncate(clean(change.title[: TITLE_CHARS * 2]), TITLE_CHARS)}**"
    return f"arXiv {change.paper_id}"


def change_message(change: BookmarkChange) -> str:
    """The private reply to a save or a removal ("Saved — 12 papers in your bookmarks.")."""
    if not change.saved:
        return f"Removed {_title(change)} — {papers(change.total)} left in your bookmarks."
    text = f"Saved — {papers(change.total)} in your bookmarks."
    if change.details_pending:
        text += (
            f" Hugging Face is not answering, so the details of arXiv {change.paper_id} "
            "will be filled in later; your bookmark is kept."
        )
    return text


def bookmark_pages_renderer(
    pages: tuple[BookmarkPage, ...], emoji: str
) -> Callable[[int], discord.Embed]:
    """Renders page ``index`` (from 0) of a reading list for the paginator."""

    def render(index: int) -> discord.Embed:
        page = pages[index]
        entries = [(entry.paper, entry.saved_at) for entry in page.entries]
        return bookmark_list_embed(
            entries, page=page.page, pages=page.pages, total=page.total, bookmark_emoji=emoji
        )

    return render


def recommendations_renderer(found: Recommendations) -> Callable[[int], discord.Embed]:
    """Renders page ``index`` (from 0) of a member's recommendations for the paginator."""
    pages = chunk(found.entries, RECOMMENDATIONS_PER_PAGE)

    def render(index: int) -> discord.Embed:
        return recommendations_embed(
            [(entry.paper, entry.because, entry.why) for entry in pages[index]],
            page=index + 1,
            pages=len(pages),
            total=len(found.entries),
            start_rank=index * RECOMMENDATIONS_PER_PAGE + 1,
        )

    return render


def same_emoji(emoji: discord.PartialEmoji, wanted: discord.PartialEmoji) -> bool:
    """A custom emoji by id; a unicode one by text, with or without the variation selector."""
    if wanted.id is not None:
        return emoji.id == wanted.id
    return emoji.id is None and (emoji.name or "").replace(VARIATION_SELECTOR, "") == (
        wanted.name or ""
    ).replace(VARIATION_SELECTOR, "")


def is_bookmark_reaction(
    payload: discord.RawReactionActionEvent,
    wanted: discord.PartialEmoji,
    *,
    bot_user_id: int | None,
) -> bool:
    """A person's bookmark emoji: not the bot's own (added as a hint), not another bot's."""
    if payload.user_id == bot_user_id:
        return False
    if payload.member is not None and payload.member.bot:
        return False
    return same_emoji(payload.emoji, wanted)


def _log_reaction(payload: discord.RawReactionActionEvent, change: BookmarkChange | None) -> None:
    if change is None:
        log.debug("reaction on message %s ignored: it shows no paper", payload.message_id)
    else:
        log.debug(
            "reaction on message %s: saved %s for user %s",
            payload.message_id,
            change.paper_id,
            payload.user_id,
        )


class BookmarkButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """The persistent Bookmark button on paper posts: its custom id carries the paper id, so it
    keeps working after restarts without any state in memory."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(paper_button(BUTTON_PREFIX, BUTTON_LABEL, BUTTON_EMOJI, paper_id))
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> BookmarkButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: Interaction) -> None:
        # discord.py builds this item from the custom id (or from a view another cog sent, with
        # its own import of this module), so the service comes from the bot, not from a cog.
        bot = papers_bot(interaction, "Bookmark")
        await toggle_by_button(bot.services.bookmarks, interaction, self.paper_id)


async def toggle_by_button(
    service: BookmarkService, interaction: Interaction, paper_id: str
) -> None:
    """Save or forget the paper of a Bookmark button, and say which, privately."""
    await interaction.response.defer(ephemeral=True, thinking=True)  # may ask Hugging Face
    try:
        change = await service.toggle(interaction.user.id, paper_id, guild_id=interaction.guild_id)
    except PaperBotError as exc:
        await interaction.followup.send(exc.user_message, ephemeral=True)
        return
    except Exception:
        # Answered here, or the user is left looking at "thinking…" until the token expires.
        await apologise(interaction, "Bookmark", paper_id)
        return
    await interaction.followup.send(
        change_message(change), ephemeral=True, allowed_mentions=NO_MENTIONS
    )


def paper_post_view(paper_id: str, style: CardStyle = "full") -> discord.ui.View:
    """The buttons to attach to a message that shows a paper (persistent: no timeout); a
    compact card also gets Abstract, which shows the full card privately."""
    view = discord.ui.View(timeout=None)
    view.add_item(BookmarkButton(paper_id))
    view.add_item(SimilarButton(paper_id))
    if style == "compact":
        view.add_item(AbstractButton(paper_id))
    return view


class ConfirmClear(discord.ui.View):
    """Asks before clearing a reading list; only the user who asked can answer."""

    def __init__(self, service: BookmarkService, *, owner_id: int) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.service = service
        self.owner_id = owner_id
        self.origin: Interaction | None = None

    async def interaction_check(self, interaction: Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the person who asked can confirm this.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Remove all", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: Interaction, _: discord.ui.Button[ConfirmClear]) -> None:
        self.stop()
        removed = await self.service.clear(interaction.user.id)
        await interaction.response.edit_message(
            content=f"Removed {papers(removed)} from your bookmarks.", view=None
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: Interaction, _: discord.ui.Button[ConfirmClear]) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Nothing removed: your bookmarks are as they were.", view=None
        )

    async def on_timeout(self) -> None:
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(
                content="Nothing removed (no answer).", view=None
            )
        except discord.HTTPException:
            log.debug("could not close the clear confirmation (message gone or token expired)")


class BookmarksCog(
    commands.GroupCog,
    group_name="bookmarks",
    group_description="Your private reading list (only you see it)",
):
    """Each handler: one bookmark-service call, then a private reply."""

    def __init__(self, bot: PapersBot, service: BookmarkService, *, emoji: str) -> None:
        self.bot = bot
        self.service = service
        self.emoji = discord.PartialEmoji.from_str(emoji)
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(BookmarkButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(BookmarkButton)

    # -- reactions ----------------------------------------------------------------------------

    def _is_bookmark_reaction(self, payload: discord.RawReactionActionEvent) -> bool:
        bot_id = self.bot.user.id if self.bot.user is not None else None
        return is_bookmark_reaction(payload, self.emoji, bot_user_id=bot_id)

    # Raw events: they arrive for every message, cached or not (old posts, after restarts).
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if not self._is_bookmark_reaction(payload):
            return
        try:
            change = await self.service.bookmark_message(
                payload.user_id, payload.message_id, guild_id=payload.guild_id
            )
        except PaperBotError as exc:
            log.warning("bookmark reaction on message %s failed: %s", payload.message_id, exc)
            return
        _log_reaction(payload, change)

    # -- commands -----------------------------------------------------------------------------

    @app_commands.command(name="list", description="Your saved papers, newest first")
    async def list_bookmarks(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # may fetch details
        pages = await self.service.pages(interaction.user.id)
        render = bookmark_pages_renderer(pages, str(self.emoji))
        await Paginator(render, len(pages), owner_id=interaction.user.id).send(
            interaction, ephemeral=True
        )

    @app_commands.command(name="remove", description="Remove one paper from your bookmarks")
    @app_commands.describe(paper="One of your bookmarks (pick from the suggestions)")
    async def remove(
        self, interaction: Interaction, paper: app_commands.Range[str, 1, 200]
    ) -> None:
        change = await self.service.remove(interaction.user.id, paper)
        await interaction.response.send_message(
            change_message(change), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @remove.autocomplete("paper")
    async def remove_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        matches = await self.service.suggest(interaction.user.id, current)
        return [
            app_commands.Choice(
                name=choice_name(match.title or "arXiv", match.paper_id), value=match.paper_id
            )
            for match in matches
        ]

    @app_commands.command(name="export", description="Your bookmarks as a BibTeX file")
    async def export(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # may fetch details
        export = await self.service.export(interaction.user.id)
        if not export.count:
            await interaction.followup.send(
                f"You have no bookmarks to export yet: react with {self.emoji} to a paper the "
                "bot posted, or press its Bookmark button.",
                ephemeral=True,
            )
            return
        text = f"Your {papers(export.count)} as BibTeX."
        if export.details_pending:
            text += (
                f" Hugging Face is not answering: for {papers(export.details_pending)} the file "
                "holds only the arXiv id, link and year. Export again later for full entries."
            )
        file = discord.File(io.BytesIO(export.text.encode("utf-8")), filename=export.filename)
        await interaction.followup.send(
            text, file=file, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="recommend", description="Papers like the ones you saved")
    async def recommend(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.service.recommend(interaction.user.id)
        if not found.entries:
            if found.saved:
                text = (
                    "No stored paper is like your bookmarks yet: more arrive with every day the "
                    "bot stores, so try again in a day or two."
                )
            else:
                text = (
                    "Recommendations come from your bookmarks, and you have none yet: react with "
                    f"{self.emoji} to a paper the bot posted, press its Bookmark button, or find "
                    "one with `/papers show` or `/papers search`."
                )
            await interaction.followup.send(text, ephemeral=True)
            return
        pages = -(-len(found.entries) // RECOMMENDATIONS_PER_PAGE)
        await Paginator(recommendations_renderer(found), pages, owner_id=interaction.user.id).send(
            interaction, ephemeral=True
        )

    @app_commands.command(name="clear", description="Remove all your bookmarks (asks first)")
    async def clear(self, interaction: Interaction) -> None:
        count = await self.service.count(interaction.user.id)
        if not count:
            await interaction.response.send_message(
                "Your bookmarks are already empty.", ephemeral=True
            )
            return
        view = ConfirmClear(self.service, owner_id=interaction.user.id)
        await interaction.response.send_message(
            f"Remove all {papers(count)} from your bookmarks? This cannot be undone.",
            view=view,
            ephemeral=True,
        )
        view.origin = interaction


async def setup(bot: PapersBot) -> None:
    settings = bot.services.settings
    await bot.add_cog(BookmarksCog(bot, bot.services.bookmarks, emoji=settings.bookmark_emoji))
