"""The Similar button on paper cards: the papers most like this one, shown only to the clicker.

Persistent like the Bookmark button: the paper id is in the custom id, so it keeps working after
restarts. Registered by the papers cog; attached by ``cogs.bookmarks.paper_post_view``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.app import PapersBot
from bot.embeds import similar_embed
from bot.errors import PaperBotError
from bot.similar import SimilarService

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

BUTTON_PREFIX = "papers-bot:similar:"
BUTTON_LABEL = "Similar"
BUTTON_EMOJI = "🔎"
BUTTON_TEMPLATE = re.escape(BUTTON_PREFIX) + r"(?P<paper_id>[A-Za-z0-9./-]{1,64})"


class SimilarButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """Answers a click with the papers most like the card's paper, privately."""

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
    ) -> SimilarButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: Interaction) -> None:
        bot = interaction.client
        if not isinstance(bot, PapersBot):
            raise TypeError(f"the Similar button needs a PapersBot, not {type(bot).__name__}")
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
        # Item errors never reach the command tree's handler: answer here.
        log.exception("the Similar button for %s failed", paper_id)
        await interaction.followup.send(
            "Sorry, something went wrong on my side: please try again.", ephemeral=True
        )
        return
    await interaction.followup.send(
        embed=similar_embed(result.paper, result.neighbours), ephemeral=True
    )
