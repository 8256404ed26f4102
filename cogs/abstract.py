"""The Abstract button on compact cards: the paper's full card, shown only to the clicker.

Persistent like the Bookmark and Similar buttons: the paper id is in the custom id, so it keeps
working after restarts. Registered by the papers cog; attached by ``cogs.bookmarks.paper_post_view``
to compact posts (a full card already shows the abstract).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.app import PapersBot
from bot.catalog import Catalog
from bot.embeds import paper_embed
from bot.errors import PaperBotError

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

BUTTON_PREFIX = "papers-bot:abstract:"
BUTTON_LABEL = "Abstract"
BUTTON_EMOJI = "📄"
# arXiv ids only: with the prefix, far inside custom_id's 100 characters.
BUTTON_TEMPLATE = re.escape(BUTTON_PREFIX) + r"(?P<paper_id>[A-Za-z0-9./-]{1,64})"


class AbstractButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """Answers a click with the full card of the compact post's paper, privately."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=BUTTON_LABEL,
                emoji=BUTTON_EMOJI,
                style=discord.ButtonStyle.secondary,
                custom_id=BUTTON_PREFIX + paper_id,
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> AbstractButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: Interaction) -> None:
        bot = interaction.client
        if not isinstance(bot, PapersBot):
            raise TypeError(f"the Abstract button needs a PapersBot, not {type(bot).__name__}")
        await abstract_by_button(bot.services.catalog, interaction, self.paper_id)


async def abstract_by_button(catalog: Catalog, interaction: Interaction, paper_id: str) -> None:
    """Show the clicker, and only them, the full card of ``paper_id``."""
    await interaction.response.defer(ephemeral=True, thinking=True)  # may ask Hugging Face
    try:
        paper = await catalog.paper(paper_id)
    except PaperBotError as exc:
        await interaction.followup.send(exc.user_message, ephemeral=True)
        return
    except Exception:
        # Item errors never reach the command tree's handler: answer here.
        log.exception("the Abstract button for %s failed", paper_id)
        await interaction.followup.send(
            "Sorry, something went wrong on my side: please try again.", ephemeral=True
        )
        return
    await interaction.followup.send(
        embed=paper_embed(paper), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )
