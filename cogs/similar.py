"""The Similar button on paper cards: the papers most like this one, shown only to the clicker.

Persistent like the Bookmark button: the paper id is in the custom id, so it keeps working after
restarts. Registered by the papers cog; attached by ``cogs.bookmarks.paper_post_view``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.embeds import similar_embed
from bot.errors import PaperBotError
from bot.similar import SimilarService
from cogs.paper_buttons import apologise, button_template, paper_button, papers_bot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

BUTTON_PREFIX = "papers-bot:similar:"
BUTTON_LABEL = "Similar"
BUTTON_EMOJI = "🔎"
BUTTON_TEMPLATE = button_template(BUTTON_PREFIX)


class SimilarButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """Answers a click with the papers most like the card's paper, privately."""

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
    ) -> SimilarButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: Interaction) -> None:
        bot = papers_bot(interaction, "Similar")
        await similar_by_button(bot.services.similar, interaction, self.paper_id)


async def similar_by_button(
    service: SimilarService, interaction: Interaction, paper_id: str
) -> None:
    """Show the clicker, and only them, the papers most like ``paper_id``."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        result = await service.similar(paper_id)
    except PaperBotError as exc:
        await interaction.followup.send(exc.user_message, ephemeral=True)
        return
    except Exception:
        await apologise(interaction, "Similar", paper_id)
        return
    await interaction.followup.send(
        embed=similar_embed(result.paper, result.neighbours), ephemeral=True
    )
