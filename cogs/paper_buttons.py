"""What the persistent paper buttons (Bookmark, Similar, Abstract) share.

Each is a ``DynamicItem`` whose custom id carries the paper id, so it works after restarts with
no state in memory; discord.py builds it from the custom id, so its service comes from the bot.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import discord

from bot.app import PapersBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

# arXiv ids only: with any prefix here, far inside custom_id's 100 characters.
_PAPER_ID = r"(?P<paper_id>[A-Za-z0-9./-]{1,64})"


def button_template(prefix: str) -> str:
    """The custom id pattern of a paper button: ``prefix`` then the paper id."""
    return re.escape(prefix) + _PAPER_ID


def paper_button(
    prefix: str, label: str, emoji: str, paper_id: str
) -> discord.ui.Button[discord.ui.View]:
    """The secondary button a paper card carries, its custom id ``prefix + paper_id``."""
    return discord.ui.Button(
        label=label, emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=prefix + paper_id
    )


def papers_bot(interaction: Interaction, button: str) -> PapersBot:
    """The bot behind a button click (its services answer the click)."""
    bot = interaction.client
    if not isinstance(bot, PapersBot):
        raise TypeError(f"the {button} button needs a PapersBot, not {type(bot).__name__}")
    return bot


async def apologise(interaction: Interaction, button: str, paper_id: str) -> None:
    """An unexpected failure of a button: logged with its traceback and an error id, and the
    clicker told that id (item errors never reach the command tree's handler)."""
    error_id = uuid.uuid4().hex[:8]
    log.exception("error id %s: the %s button for %s failed", error_id, button, paper_id)
    await interaction.followup.send(
        f"Sorry, something went wrong on my side (error id `{error_id}`).", ephemeral=True
    )
