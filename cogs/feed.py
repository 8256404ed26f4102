"""``/feed``: subscribe channels to new papers, inspect them, and run the delivery worker.

Every command needs Manage Server: Discord hides them from others (default permissions) and the
cog checks again at run time, because a server can override the defaults per channel or role.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import EXIT_TOKEN_REFUSED
from bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    clean,
    embed_length,
    linked_title,
    notice_embed,
    plain,
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
from bot.feed_filters import CLEAR_KEYWORDS, MAX_MIN_UPVOTES
from bot.store.feed import SubscriptionStats
from cogs.bookmarks import paper_post_view
from cogs.feed_delivery import DeliveryWorker, channel_access
from cogs.views import Paginator

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

# What /feed preview lists of each kind before "+N more".
PREVIEW_LINES = 15
KEYWORDS_INPUT_LIMIT = 500
# /feed list: subscriptions on one page at most (fewer when their filters are long).
LIST_PAGE_SIZE = 10
# Room kept on each /feed list page for its footer ("Page 2/3 · 25 subscriptions").
LIST_FOOTER_RESERVE = 100
TITLE_CHARS = 120


class ManageServerRequired(app_commands.CheckFailure, PaperBotError):
    """The member lacks Manage Server (the tree's error handler shows the message)."""

    def __init__(self) -> None:
        PaperBotError.__init__(
            self, "You need the Manage Server permission to manage this server's paper feed."
        )


def _when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment else "never"


def _lines(lines: list[str], limit: int, *, at_most: int | None = None) -> str:
    """Join ``lines`` within ``limit`` characters (and ``at_most`` lines), ending with
    "+N more" when some do not fit."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        more = f"+{len(lines) - index} more"
        too_many = at_most is not None and index >= at_most
        if too_many or used + len(line) + 1 > limit - len(more) - 1:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def _filters(description: str) -> str:
    """A filter description (the admin's own keywords): escaped, since it is shown as markdown."""
    return clean(description)


CHANGE_HINT = (
    "To change the filters, subscribe again: options you leave out keep their value; "
    f"`keywords: {CLEAR_KEYWORDS}` clears the keywords and `min_upvotes: 0` the upvote bar."
)


def subscribed_embed(channel_id: int, result: SubscribeResult, emoji: str) -> discord.Embed:
    """The answer to /feed subscribe: what it is set to now, and what changed."""
    filters = truncate(_filters(result.filter.describe()), 1500)
    channel = f"<#{channel_id}>"
    if result.created:
        lines = [f"Subscribed {channel}: {filters}."]
    elif result.resumed:
        previous = result.previous
        reason = previous.paused_reason if previous is not None else None
        lines = [f"Resumed {channel}: {filters}."]
        if reason:
            lines.append(f"It had been paused: {plain(reason, 300)}.")
    elif result.changed:
        lines = [f"Updated {channel}: {filters}."]
    else:
        lines = [f"{channel} is already subscribed: {filters}. Nothing changed."]
    lines.append(
        f"It receives papers listed from {result.subscription.since_day} on, most upvoted first."
    )
    if result.waiting:
        lines.append(f"{result.waiting} paper(s) are on their way now.")
    if not result.can_react:
        lines.append(
            f"Tip: give me Add Reactions and Read Message History there so I can add {emoji}, "
            "the reaction readers use to bookmark a paper."
        )
    lines.append(CHANGE_HINT)
    return notice_embed("Paper feed", "\n".join(lines))


def _subscription_field(item: SubscriptionStats) -> str:
    subscription = item.subscription
    state = (
        f"⏸️ paused {_when(subscription.paused_at)}: {plain(subscription.paused_reason or '', 300)}"
        if subscription.paused
        else "▶️ active"
    )
    head = f"<#{subscription.channel_id}> · {state}"
    tail = (
        f"Since {subscription.since_day} · {item.delivered} delivered "
        f"(last {_when(item.last_sent_at)}) · {item.pending} waiting"
    )
    # The filters get whatever room the field has left: admins retype them to change them.
    room = FIELD_VALUE_LIMIT - len(head) - len(tail) - len("\nFilters: \n")
    filters = truncate(_filters(feed_filter(subscription).describe()), max(room, 40))
    return truncate(f"{head}\nFilters: {filters}\n{tail}", FIELD_VALUE_LIMIT)


def _list_header(count: int) -> discord.Embed:
    return notice_embed("Paper feed", f"{count} subscribed channel(s).")


def subscription_pages(items: list[SubscriptionStats]) -> list[discord.Embed]:
    """The answer to /feed list: every subscription, on as many pages as Discord's limits need
    (at most LIST_PAGE_SIZE a page, and never more than 6000 characters in one embed)."""
    if not items:
        return [
            notice_embed(
                "Paper feed", "No channel here is subscribed yet: try `/feed subscribe #channel`."
            )
        ]
    values = [_subscription_field(item) for item in items]
    budget = EMBED_TOTAL_LIMIT - embed_length(_list_header(len(items))) - LIST_FOOTER_RESERVE
    pages: list[list[str]] = [[]]
    used = 0
    for value in values:
        size = len(value) + 1  # the field's name: a zero-width space
        if pages[-1] and (used + size > budget or len(pages[-1]) >= LIST_PAGE_SIZE):
            pages.append([])
            used = 0
        pages[-1].append(value)
        used += size
    embeds = []
    for number, page in enumerate(pages, start=1):
        embed = _list_header(len(items))
        for value in page:
            embed.add_field(name="\u200b", value=value, inline=False)
        if len(pages) > 1:
            embed.set_footer(
                text=truncate(
                    f"Page {number}/{len(pages)} · {len(items)} subscriptions", FOOTER_LIMIT
                )
            )
        embeds.append(embed)
    return embeds


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
    if status.process:
        lines.append(f"Polling and posting: process `{status.process}` (the only one)")
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
    """One paper: votes, the escaped linked title, and where it stands for this channel."""
    head = f"▲ {entry.paper.upvotes} {linked_title(entry.paper, TITLE_CHARS)}"
    delivery = entry.delivery
    if delivery is None:
        return f"{head} — {clean(entry.verdict.reason)}"
    if delivery.state == "sent":
        return f"{head} — ✅ already posted"
    if delivery.state == "dropped":
        why = plain(delivery.error or "gave up", 200)
        return f"{head} — ⚠️ dropped: {clean(why)}"
    retrying = ""
    if delivery.error:  # tried and failed: it is retried later
        retrying = f" · last attempt failed: {clean(plain(delivery.error, 200))}"
    if entry.verdict.passed:
        return f"{head} — {clean(entry.verdict.reason)} · ⏳ queued{retrying}"
    # An attempt was made before the filters changed: Discord may hold it, so it stays queued.
    return f"{head} — ⏳ queued (already attempted before the filters changed){retrying}"


def _sections(head: str, sections: list[tuple[str, list[str]]]) -> str:
    """``head`` and each non-empty section (a title and its lines), sharing the description's
    room fairly: a short section leaves what it does not use to the next ones."""
    shown = [(title, lines) for title, lines in sections if lines]
    room = DESCRIPTION_LIMIT - len(head) - sum(len(f"\n\n{title}\n") for title, _ in shown)
    parts = [head]
    for index, (title, lines) in enumerate(shown):
        text = _lines(lines, room // (len(shown) - index), at_most=PREVIEW_LINES)
        parts.append(f"{title}\n{text}")
        room -= len(text)
    return truncate("\n\n".join(parts), DESCRIPTION_LIMIT)


def preview_embed(preview: Preview) -> discord.Embed:
    """The answer to /feed preview: each of the day's papers, in one group: already posted,
    would be posted, dropped (and why), or blocked (and by which filter)."""
    subscription = preview.subscription
    channel = f"<#{subscription.channel_id}>"
    if not preview.entries:
        return notice_embed(
            "Feed preview",
            f"No papers are stored for {preview.day} yet, so there is nothing to preview for "
            f"{channel}. Hugging Face fills the day in gradually; weekends are empty.",
        )
    posted = [_preview_line(entry) for entry in preview.posted]
    would = [_preview_line(entry) for entry in preview.would_post]
    dropped = [_preview_line(entry) for entry in preview.dropped]
    blocked = [_preview_line(entry) for entry in preview.blocked]
    lines = [
        f"{channel} · {truncate(_filters(preview.filter.describe()), 400)} · "
        f"papers listed {preview.day}:"
    ]
    would_title = "**Would post**"
    if preview.paused:
        reason = plain(subscription.paused_reason or "Discord refused to post", 300)
        lines.append(
            f"⏸️ Paused {_when(subscription.paused_at)}: {reason}. Nothing is posted until "
            "an admin fixes that and runs `/feed subscribe` for this channel again."
        )
        counts = f"**{len(would)}** would be posted once resumed"
        would_title = "**Would post once resumed**"
    else:
        counts = f"**{len(would)}** would be posted"
    counts += f", **{len(posted)}** already posted, **{len(blocked)}** blocked by the filters"
    if dropped:
        counts += f", **{len(dropped)}** dropped"
    lines.append(counts + ".")
    text = _sections(
        "\n".join(lines),
        [
            (would_title, would),
            ("**Already posted**", posted),
            ("**Dropped**", dropped),
            ("**Blocked**", blocked),
        ],
    )
    kind: Literal["info", "warning"] = "warning" if preview.paused else "info"
    return notice_embed("Feed preview", text, kind=kind)


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

    @app_commands.command(
        description="Post new papers to a channel, or change its filters or resume it"
    )
    @app_commands.describe(
        channel="Where to post",
        min_upvotes="Only papers with at least this many upvotes; 0 clears it (omit: keep as is)",
        keywords=(
            f"Comma-separated, any matches; -word excludes; {CLEAR_KEYWORDS} clears them "
            "(omit: keep as is)"
        ),
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
        pages = subscription_pages(items)
        paginator = Paginator(lambda page: pages[page], len(pages), owner_id=interaction.user.id)
        await paginator.send(interaction, ephemeral=True)

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
        on_token_refused=lambda: bot.close_with_status(EXIT_TOKEN_REFUSED),
    )
    await bot.add_cog(FeedCog(services.feed, worker, bookmark_emoji=emoji))
