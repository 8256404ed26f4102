"""``/feed``: subscribe channels to new papers, inspect them, and run the delivery worker.

Every command needs Manage Server: Discord hides them from others (default permissions) and the
cog checks again at run time, because a server can override the defaults per channel or role.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import (
    DESCRIPTION_LIMIT,
    FIELD_COUNT_LIMIT,
    FIELD_VALUE_LIMIT,
    LIST_TITLE_CHARS,
    notice_embed,
    plain,
    safe_url,
    truncate,
)
from bot.errors import PaperBotError
from bot.feed import (
    FeedService,
    FeedStatus,
    Preview,
    PreviewEntry,
    SubscribeResult,
    feed_filter,
)
from bot.feed_filters import MAX_MIN_UPVOTES
from bot.store.feed import SubscriptionStats
from cogs.bookmarks import paper_post_view
from cogs.feed_delivery import DeliveryWorker, channel_access

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

# What /feed preview lists of each kind before "+N more".
PREVIEW_LINES = 15
KEYWORDS_INPUT_LIMIT = 500


class ManageServerRequired(app_commands.CheckFailure, PaperBotError):
    """The member lacks Manage Server (the tree's error handler shows the message)."""

    def __init__(self) -> None:
        PaperBotError.__init__(
            self, "You need the Manage Server permission to manage this server's paper feed."
        )


def _when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment else "never"


def _lines(lines: list[str], limit: int) -> str:
    """Join ``lines`` within ``limit`` characters, ending with "+N more" when some do not fit."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"+{len(lines) - index} more"
        if used + len(line) + 1 > limit - len(more) - 1:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def subscribed_embed(channel_id: int, result: SubscribeResult, emoji: str) -> discord.Embed:
    """The answer to /feed subscribe."""
    verb = "Subscribed" if result.created else "Updated"
    lines = [
        f"{verb} <#{channel_id}>: {plain(result.filter.describe(), 1000)}.",
        f"It receives papers listed from {result.subscription.since_day} on, most upvoted first.",
    ]
    if result.queued:
        lines.append(f"{result.queued} of the latest papers are on their way now.")
    if not result.can_react:
        lines.append(
            f"Tip: give me Add Reactions and Read Message History there so I can add {emoji}, "
            "the reaction readers use to bookmark a paper."
        )
    return notice_embed("Paper feed", "\n".join(lines))


def _subscription_field(item: SubscriptionStats) -> str:
    subscription = item.subscription
    state = (
        f"⏸️ paused {_when(subscription.paused_at)}: {subscription.paused_reason}"
        if subscription.paused
        else "▶️ active"
    )
    text = (
        f"<#{subscription.channel_id}> · {state}\n"
        f"Filters: {plain(feed_filter(subscription).describe(), 400)}\n"
        f"Since {subscription.since_day} · {item.delivered} delivered "
        f"(last {_when(item.last_sent_at)}) · {item.pending} waiting"
    )
    return truncate(text, FIELD_VALUE_LIMIT)


def subscriptions_embed(items: list[SubscriptionStats]) -> discord.Embed:
    """The answer to /feed list."""
    if not items:
        return notice_embed(
            "Paper feed", "No channel here is subscribed yet: try `/feed subscribe #channel`."
        )
    embed = notice_embed("Paper feed", f"{len(items)} subscribed channel(s).")
    for item in items[:FIELD_COUNT_LIMIT]:
        embed.add_field(name="\u200b", value=_subscription_field(item), inline=False)
    if len(items) > FIELD_COUNT_LIMIT:
        embed.set_footer(text=f"+{len(items) - FIELD_COUNT_LIMIT} more not shown")
    return embed


def status_embed(status: FeedStatus) -> discord.Embed:
    """The answer to /feed status."""
    poll = status.poll
    lines = [f"Last successful poll of Hugging Face: {_when(poll.last_success_at)}"]
    if poll.consecutive_failures:
        lines.append(
            f"⚠️ The last {poll.consecutive_failures} poll(s) failed; "
            f"latest error {_when(poll.last_error_at)}: {plain(poll.last_error or '?', 300)}"
        )
        if status.outage_announced:
            lines.append("Subscribed channels were told; they'll hear when it is back.")
    elif poll.last_error:
        lines.append(f"Last error {_when(poll.last_error_at)}: {plain(poll.last_error, 300)}")
    lines += [
        f"Papers stored: {status.papers_stored:,}",
        f"Subscribed channels: {status.subscriptions} · deliveries waiting: {status.pending:,}",
    ]
    if status.paused:
        lines.append(f"Paused ({len(status.paused)}):")
        lines += [
            f"• <#{sub.channel_id}> {_when(sub.paused_at)}: {sub.paused_reason}"
            for sub in status.paused
        ]
    warn = bool(poll.consecutive_failures or status.paused)
    return notice_embed(
        "Paper feed status", _lines(lines, DESCRIPTION_LIMIT), kind="warning" if warn else "info"
    )


def _preview_line(entry: PreviewEntry) -> str:
    title = plain(entry.paper.title, LIST_TITLE_CHARS).replace("[", "(").replace("]", ")")
    url = safe_url(entry.paper.hf_url)
    linked = f"[{title}]({url})" if url else title
    done = {"sent": " · ✅ posted", "pending": " · ⏳ queued"}.get(entry.state or "", "")
    return f"▲ {entry.paper.upvotes} {linked} — {plain(entry.verdict.reason, 200)}{done}"


def preview_embed(preview: Preview) -> discord.Embed:
    """The answer to /feed preview: what would be posted, and what each filter blocked."""
    channel = f"<#{preview.subscription.channel_id}>"
    if not preview.entries:
        return notice_embed(
            "Feed preview",
            f"No papers are stored for {preview.day} yet, so there is nothing to preview for "
            f"{channel}. Hugging Face fills the day in gradually; weekends are empty.",
        )
    posted = [_preview_line(entry) for entry in preview.would_post]
    blocked = [_preview_line(entry) for entry in preview.blocked]
    head = (
        f"{channel} · {plain(preview.filter.describe(), 400)} · papers listed {preview.day}:\n"
        f"**{len(posted)}** would be posted, **{len(blocked)}** blocked."
    )
    budget = (DESCRIPTION_LIMIT - len(head) - 64) // 2
    parts = [head]
    if posted:
        parts.append("**Would post**\n" + _lines(posted[:PREVIEW_LINES], budget))
    if blocked:
        parts.append("**Blocked**\n" + _lines(blocked[:PREVIEW_LINES], budget))
    return notice_embed("Feed preview", truncate("\n\n".join(parts), DESCRIPTION_LIMIT))


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class FeedCog(
    commands.GroupCog, group_name="feed", group_description="Auto-post new papers to channels"
):
    """Each handler: one FeedService call, then render. The worker runs while the cog is loaded."""

    def __init__(self, feed: FeedService, worker: DeliveryWorker, *, bookmark_emoji: str) -> None:
        self.feed = feed
        self.worker = worker
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

    @app_commands.command(description="Post new papers to a channel (or change its filters)")
    @app_commands.describe(
        channel="Where to post",
        min_upvotes="Only papers with at least this many upvotes (posted when they get there)",
        keywords="Comma-separated, any of them matches; -word excludes (title, abstract, keywords)",
    )
    async def subscribe(
        self,
        interaction: Interaction,
        channel: discord.TextChannel,
        min_upvotes: app_commands.Range[int, 0, MAX_MIN_UPVOTES] | None = None,
        keywords: app_commands.Range[str, 1, KEYWORDS_INPUT_LIMIT] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.feed.subscribe(
            channel_id=channel.id,
            guild_id=channel.guild.id,
            access=channel_access(channel.permissions_for(channel.guild.me)),
            min_upvotes=min_upvotes,
            keywords=keywords,
            created_by=interaction.user.id,
        )
        await interaction.followup.send(
            embed=subscribed_embed(channel.id, result, self.bookmark_emoji), ephemeral=True
        )

    @app_commands.command(description="Stop posting papers to a channel")
    @app_commands.describe(channel="The subscribed channel")
    async def unsubscribe(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        await self.feed.unsubscribe(channel.id)
        await interaction.response.send_message(
            embed=notice_embed(
                "Paper feed", f"Unsubscribed <#{channel.id}>: no more papers will be posted there."
            ),
            ephemeral=True,
        )

    @app_commands.command(name="list", description="This server's subscriptions and filters")
    async def list_subscriptions(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        items = await self.feed.list_for_guild(interaction.guild_id)
        await interaction.response.send_message(embed=subscriptions_embed(items), ephemeral=True)

    @app_commands.command(description="Polling health, waiting deliveries and paused channels")
    async def status(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # guild_only
        status = await self.feed.status(interaction.guild_id)
        await interaction.response.send_message(embed=status_embed(status), ephemeral=True)

    @app_commands.command(description="Which of today's papers a channel would get, and why not")
    @app_commands.describe(channel="The subscribed channel")
    async def preview(self, interaction: Interaction, channel: discord.TextChannel) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await self.feed.preview(channel.id)
        await interaction.followup.send(embed=preview_embed(preview), ephemeral=True)


async def setup(bot: PapersBot) -> None:
    """Load /feed and its delivery worker (which starts with the cog and stops with it)."""
    services = bot.services
    emoji = services.settings.bookmark_emoji
    worker = DeliveryWorker(
        bot,
        services.feed,
        bookmark_emoji=emoji,
        hint=f"React with {emoji} to save",
        view_factory=paper_post_view,
    )
    await bot.add_cog(FeedCog(services.feed, worker, bookmark_emoji=emoji))
