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

from bot.catalog import Catalog
from bot.embeds import paper_embed
from bot.errors import PaperBotError
from cogs.paper_buttons import apologise, button_template, paper_button, papers_bot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

BUTTON_PREFIX = "papers-bot:abstract:"
BUTTON_LABEL = "Abstract"
BUTTON_EMOJI = "📄"
BUTTON_TEMPLATE = button_template(BUTTON_PREFIX)


class AbstractButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """Answers a click with the full card of the compact post's paper, privately."""

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
    ) -> AbstractButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: Interaction) -> None:
        bot = papers_bot(interaction, "Abstract")
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
        await apologise(interaction, "Abstract", paper_id)
        return
    await interaction.followup.send(
        embed=paper_embed(paper), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )
