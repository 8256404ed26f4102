"""``/alerts``: a member's saved searches, delivered by DM when a newly listed paper matches.

Every reply is private. The cog also shows a member, once, what happened to their alerts (paused
because their DMs are closed, say): as a private followup to the next command they use.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.alerts import MAX_ALERTS, AlertService
from bot.embeds import CHOICE_NAME_LIMIT, alerts_embed, notice_embed, truncate
from bot.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
Command = app_commands.Command[Any, Any, Any] | app_commands.ContextMenu


class AlertsCog(
    commands.GroupCog,
    group_name="alerts",
    group_description="DM me when a newly listed paper matches your search",
):
    """Each handler: one alert-service call, then a private reply."""

    def __init__(self, service: AlertService) -> None:
        self.service = service
        super().__init__()

    @app_commands.command(description="DM me when a newly listed paper matches this search")
    @app_commands.describe(
        query='As for /papers search: words, "phrases", author:name, -word to exclude'
    )
    async def add(
        self, interaction: Interaction, query: app_commands.Range[str, 1, MAX_QUERY_CHARS]
    ) -> None:
        added = await self.service.add(interaction.user.id, query)
        text = (
            f"Saved: I will send you a direct message when a newly listed paper matches "
            f"`{added.alert.query.replace('`', 'ˋ')[:200]}` (each paper once, all of a poll's "
            f"papers in one message). You have {added.count} of {MAX_ALERTS} alerts."
        )
        if added.paused:
            text += " Some of your alerts are paused: `/alerts list` says why."
        await interaction.response.send_message(
            embed=notice_embed("Alert saved", text), ephemeral=True
        )

    @app_commands.command(name="list", description="Your alerts, paused or active")
    async def list_alerts(self, interaction: Interaction) -> None:
        alerts = await self.service.for_member(interaction.user.id)
        await interaction.response.send_message(
            embed=alerts_embed(alerts, cap=MAX_ALERTS), ephemeral=True
        )

    @app_commands.command(description="Stop one of your alerts")
    @app_commands.describe(alert="The alert to remove")
    async def remove(self, interaction: Interaction, alert: str) -> None:
        removed = await self.service.remove(interaction.user.id, alert)
        await interaction.response.send_message(
            embed=notice_embed(
                "Alert removed",
                f"Removed `{removed.query.replace('`', 'ˋ')[:200]}`: no more DMs for it.",
            ),
            ephemeral=True,
        )

    @remove.autocomplete("alert")
    async def remove_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        alerts = await self.service.suggest(interaction.user.id, current)
        return [
            app_commands.Choice(
                name=truncate(" ".join(alert.query.split()), CHOICE_NAME_LIMIT) or str(alert.id),
                value=str(alert.id),
            )
            for alert in alerts
        ]

    @app_commands.command(description="Turn your paused alerts back on")
    async def resume(self, interaction: Interaction) -> None:
        resumed = await self.service.resume(interaction.user.id)
        text = (
            f"Resumed {resumed} alert{'s' if resumed != 1 else ''}: I will DM you about newly "
            "listed papers again (keep direct messages from this server's members allowed)."
            if resumed
            else "None of your alerts is paused: there is nothing to resume."
        )
        await interaction.response.send_message(embed=notice_embed("Alerts", text), ephemeral=True)

    @commands.Cog.listener()
    async def on_app_command_completion(self, interaction: Interaction, command: Command) -> None:
        """After any of the bot's commands, tell the member (once, privately) what happened to
        their alerts since they last heard from the bot."""
        notice = await self.service.take_notice(interaction.user.id)
        if notice is None:
            return
        try:
            if interaction.response.is_done():
                await interaction.followup.send(notice, ephemeral=True)
            else:
                await interaction.response.send_message(notice, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell member %s about their alerts", interaction.user.id)


async def setup(bot: PapersBot) -> None:
    await bot.add_cog(AlertsCog(bot.services.alerts))
