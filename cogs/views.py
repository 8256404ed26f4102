"""Reusable Discord UI: a Previous/Next paginator that only the invoker may turn."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import discord

from bot.embeds import CHOICE_NAME_LIMIT, plain

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGINATOR_TIMEOUT = 300.0  # well inside the 15-minute life of an interaction token
NOT_YOURS = (
    "Only the person who ran the command can turn these pages: run it yourself for your own."
)


def chunk(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in pages of ``size`` (at least one page, possibly empty)."""
    return [items[start : start + size] for start in range(0, len(items), size)] or [items[:0]]


def choice_name(title: str, paper_id: str) -> str:
    """An autocomplete label that always keeps the id visible, whatever the title's length."""
    suffix = f" ({paper_id})"
    return plain(title, CHOICE_NAME_LIMIT - len(suffix)) + suffix


class Paginator(discord.ui.View):
    """Turns pages of an embed with Previous/Next; disables its buttons when it times out."""

    def __init__(
        self,
        render: Callable[[int], discord.Embed],
        pages: int,
        *,
        owner_id: int,
        timeout: float | None = None,
    ) -> None:
        super().__init__(timeout=PAGINATOR_TIMEOUT if timeout is None else timeout)
        self.render = render
        self.pages = pages
        self.owner_id = owner_id
        self.page = 0
        self.origin: discord.Interaction[Any] | None = None
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        self.position.label = f"{self.page + 1} / {self.pages}"

    async def send(
        self,
        interaction: discord.Interaction[Any],
        *,
        ephemeral: bool = False,
        replace: bool = False,
    ) -> None:
        """Answer with the first page (and the buttons when there is more).

        ``replace``: a button's interaction edits the message it sits on instead of adding one.
        """
        self.origin = interaction
        embed = self.render(0)
        if replace:
            view_or_none = self if self.pages > 1 else None
            await interaction.response.edit_message(embed=embed, view=view_or_none)
            if self.pages <= 1:
                self.stop()
            return
        view: discord.ui.View = self if self.pages > 1 else discord.utils.MISSING
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, view=view, ephemeral=ephemeral)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=ephemeral)
        if self.pages <= 1:
            self.stop()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return False
        return True

    async def _show(self, interaction: discord.Interaction[Any], page: int) -> None:
        self.page = max(0, min(page, self.pages - 1))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.render(self.page), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, emoji="◀️")
    async def previous(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="1 / 1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Paginator]
    ) -> None:
        await interaction.response.defer()  # a label, not a control; never enabled

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, emoji="▶️")
    async def next(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.page + 1)

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(view=self)
        except discord.HTTPException:
            log.debug("could not disable paginator buttons (message gone or token expired)")
