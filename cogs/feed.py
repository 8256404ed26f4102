"""``/feed``: subscribe channels to new papers, inspect them, and run the delivery worker.

Every command needs Manage Server: Discord hides them from others (default permissions) and the
cog checks again at run time, because a server can override the defaults per channel or role.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EXIT_TOKEN_REFUSED
from bot.delivery import DeliveryEngine
from bot.delivery.engine import IDLE_RECHECK, SEND_TIMEOUT, SHARED_OUTBOX_RECHECK
from bot.embeds import (
    notice_embed,
    preview_embed,
    status_embed,
    subscribed_embed,
    subscription_pages,
    unsubscribed_embed,
)
from bot.errors import PaperBotError
from bot.feed import MAX_PER_DAY_LIMIT, NAME_MAX, FeedService, RoleChoice
from bot.feed_filters import CLEAR_KEYWORDS, MAX_MIN_UPVOTES
from bot.guilds import GuildSettings
from bot.models import CardStyle, SubscriptionMode
from bot.timezones import zone_choices
from cogs.bookmarks import paper_post_view
from cogs.discord_sender import DiscordSender, channel_access
from cogs.views import Paginator

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

KEYWORDS_INPUT_LIMIT = 500
# Where papers can be posted: a text channel, or a forum (each paper becomes a forum post).
FeedChannel = discord.TextChannel | discord.ForumChannel


def role_choice(role: discord.Role) -> RoleChoice:
    """The feed's view of the role picked for ``mention``."""
    return RoleChoice(
        id=role.id, name=role.name, mentionable=role.mentionable, everyone=role.is_default()
    )


class ManageServerRequired(app_commands.CheckFailure, PaperBotError):
    """The member lacks Manage Server (the tree's error handler shows the message)."""

    def __init__(self) -> None:
        PaperBotError.__init__(
            self, "You need the Manage Server permission to manage this server's paper feed."
        )


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class FeedCog(
    commands.GroupCog, group_name="feed", group_description="Auto-post new papers to channels"
):
    """Each handler: one FeedService call, then render. The worker runs while the cog is loaded."""

    def __init__(
        self,
        feed: FeedService,
        worker: DeliveryEngine,
        *,
        bookmark_emoji: str,
        guilds: GuildSettings,
    ) -> None:
        self.feed = feed
        self.worker = worker
        self.guilds = guilds
        self.bookmark_emoji = bookmark_emoji
        super().__init__()

    async def cog_load(self) -> None:
        self.worker.start()

    async def cog_unload(self) -> None:
        await self.worker.stop()

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        # Default permissions can be overridden by server admins: check at run time as well.
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise ManageServerRequired()
        return True

    @app_commands.command(
        description="Post new papers to a channel, or change its filters or resume it"
    )
    @app_commands.describe(
        channel="Where to post: a text channel, or a forum (each paper becomes a forum post)",
        min_upvotes="Only papers with at least this many upvotes; 0 clears it (omit: keep as is)",
        keywords=(
            f"Comma-separated, any matches; -word excludes; {CLEAR_KEYWORDS} clears them "
            "(omit: keep as is)"
        ),
        name=(
            "Which of the channel's subscriptions (new name: another one); omit for its only one"
        ),
        mention="A role to ping in posts that pass these filters (omit: keep as is)",
        clear_mention="True: stop pinging a role",
        max_per_day="At most this many posts per listing day, the most upvoted; 0 removes the cap",
        mode="posts: one post per paper (default); digest: one message a day at `at`",
        at="Digest time, HH:MM in the server's time zone (default 09:00)",
        style="compact: a few lines and an Abstract button (default); full: the whole card",
        thread=(
            "Open a public thread on each posted paper, for discussion; not for forums "
            "(omit: keep as is)"
        ),
    )
    async def subscribe(
        self,
        interaction: Interaction,
        channel: FeedChannel,
        min_upvotes: app_commands.Range[int, 0, MAX_MIN_UPVOTES] | None = None,
        keywords: app_commands.Range[str, 1, KEYWORDS_INPUT_LIMIT] | None = None,
        name: app_commands.Range[str, 1, NAME_MAX] | None = None,
        mention: discord.Role | None = None,
        clear_mention: bool = False,
        max_per_day: app_commands.Range[int, 0, MAX_PER_DAY_LIMIT] | None = None,
        mode: SubscriptionMode | None = None,
        at: app_commands.Range[str, 1, 5] | None = None,
        style: CardStyle | None = None,
        thread: bool | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.feed.subscribe(
            channel_id=channel.id,
            guild_id=channel.guild.id,
            access=channel_access(channel.permissions_for(channel.guild.me)),
            min_upvotes=min_upvotes,
            keywords=keywords,
            created_by=interaction.user.id,
            name=name,
            mention=None if mention is None else role_choice(mention),
            clear_mention=clear_mention,
            max_per_day=max_per_day,
            mode=mode,
            at=at,
            style=style,
            thread=thread,
            forum=isinstance(channel, discord.ForumChannel),
        )
        await interaction.followup.send(
            embed=subscribed_embed(channel.id, result, self.bookmark_emoji), ephemeral=True
        )

    @app_commands.command(description="Stop one of a channel's subscriptions")
    @app_commands.describe(
        channel="The subscribed channel",
        name="Which subscription (omit when the channel has only one)",
    )
    async def unsubscribe(
        self,
        interaction: Interaction,
        channel: FeedChannel,
        name: app_commands.Range[str, 1, NAME_MAX] | None = None,
    ) -> None:
        removed = await self.feed.unsubscribe(channel.id, name)
        await interaction.response.send_message(
            embed=unsubscribed_embed(channel.id, removed), ephemeral=True
        )

    @app_commands.command(name="list", description="This server's subscriptions and filters")
    async def list_subscriptions(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        items = await self.feed.list_for_guild(interaction.guild_id)
        pages = subscription_pages(items)
        paginator = Paginator(lambda page: pages[page], len(pages), owner_id=interaction.user.id)
        await paginator.send(interaction, ephemeral=True)

    @app_commands.command(description="Polling health, waiting deliveries and paused channels")
    async def status(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        status = await self.feed.status(interaction.guild_id)
        zone = await self.guilds.timezone(interaction.guild_id)
        await interaction.response.send_message(
            embed=status_embed(status, timezone=zone.key), ephemeral=True
        )

    @app_commands.command(
        description="This server's time zone: what /papers today means here (default UTC)"
    )
    @app_commands.describe(zone="An IANA time zone, like Europe/Berlin or Asia/Tokyo")
    async def timezone(
        self, interaction: Interaction, zone: app_commands.Range[str, 1, 100]
    ) -> None:
        assert interaction.guild_id is not None  # guild_only
        chosen = await self.guilds.set_timezone(interaction.guild_id, zone)
        today = await self.guilds.local_today(interaction.guild_id)
        await interaction.response.send_message(
            embed=notice_embed(
                "Server time zone",
                f"This server's time zone is now **{chosen.key}**: `/papers today` and "
                f"`/papers digest` show the local day here (today is {today}). Hugging Face "
                "still lists papers by UTC day.",
            ),
            ephemeral=True,
        )

    @timezone.autocomplete("zone")
    async def zone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=name) for name in zone_choices(current)]

    @app_commands.command(description="Which of today's papers a channel would get, and why not")
    @app_commands.describe(
        channel="The subscribed channel",
        name="Which subscription (omit when the channel has only one)",
    )
    async def preview(
        self,
        interaction: Interaction,
        channel: FeedChannel,
        name: app_commands.Range[str, 1, NAME_MAX] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await self.feed.preview(channel.id, name=name)
        await interaction.followup.send(embed=preview_embed(preview), ephemeral=True)


async def setup(bot: PapersBot) -> None:
    """Load /feed and its delivery worker (which starts with the cog and stops with it)."""
    services = bot.services
    emoji = services.settings.bookmark_emoji
    sender = DiscordSender(
        bot, hint=f"React with {emoji} to save", bookmark_emoji=emoji, view_factory=paper_post_view
    )
    worker = DeliveryEngine(
        services.feed,
        sender,
        bookmark_emoji=emoji,
        on_token_refused=lambda: bot.close_with_status(EXIT_TOKEN_REFUSED),
        alerts=services.alerts,  # alert DMs go through the same engine
        requests_per_second=services.settings.discord_requests_per_second,
        # Given up (and retried) well before its claim expires and another process may send it.
        send_timeout=min(SEND_TIMEOUT, services.settings.outbox_claim_seconds / 2),
        holds_lease=lambda: services.lease.held,
        # Another process's poll queues this one's posts: look for them every second.
        idle_recheck=SHARED_OUTBOX_RECHECK if services.shards else IDLE_RECHECK,
    )
    await bot.add_cog(FeedCog(services.feed, worker, bookmark_emoji=emoji, guilds=services.guilds))
