"""``/papers``: today's list, search, summaries, digests and single papers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import Catalog, DayListing, Digest
from bot.embeds import (
    bookmarked_list_embed,
    clean,
    digest_embed,
    format_day,
    notice_embed,
    paper_embed,
    paper_list_embed,
    plain,
    search_results_embed,
    similar_embed,
    summary_embed,
    truncate,
)
from bot.feed import FeedService
from bot.similar import SimilarService
from bot.top import ServerTop, TopList, TopLists
from cogs.abstract import AbstractButton
from cogs.bookmarks import paper_post_view
from cogs.similar import SimilarButton
from cogs.views import NOT_YOURS, Paginator, choice_name, chunk

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)

PAPERS_PER_PAGE = 10
HITS_PER_PAGE = 5
LATEST_DAY_TIMEOUT = 300.0
DATE_HELP = "YYYY-MM-DD, 'today' or 'yesterday' (default: today in this server's time zone)"
BUTTON_LABEL_LIMIT = 80  # Discord's limit on a button label
SUGGESTION_TIMEOUT = 300.0

Interaction = discord.Interaction[Any]


class LatestDayButton(discord.ui.View):
    """Offered on an empty day: one click by the invoker shows the latest day that has papers."""

    def __init__(
        self,
        day_text: str,
        owner_id: int,
        show: Callable[[Interaction, str], Awaitable[None]],
    ) -> None:
        super().__init__(timeout=LATEST_DAY_TIMEOUT)
        self.day_text = day_text
        self.owner_id = owner_id
        self.show = show
        self.origin: Interaction | None = None
        self.show_latest.label = f"Show {day_text}"

    async def interaction_check(self, interaction: Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return False
        return True

    @discord.ui.button(style=discord.ButtonStyle.primary)
    async def show_latest(self, interaction: Interaction, _: discord.ui.Button[Any]) -> None:
        self.stop()
        await self.show(interaction, self.day_text)

    async def on_timeout(self) -> None:
        self.show_latest.disabled = True
        if self.origin is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.origin.edit_original_response(view=self)


class SuggestionButton(discord.ui.View):
    """ "Did you mean …?" under a search: a click runs the corrected search for the clicker."""

    def __init__(self, suggestion: str, run: Callable[[Interaction, str], Awaitable[None]]) -> None:
        super().__init__(timeout=SUGGESTION_TIMEOUT)
        self.suggestion = suggestion
        self.run = run
        self.origin: Interaction | None = None  # when the button is on the original response
        self.message: discord.WebhookMessage | None = None  # when it is on a followup
        self.search_suggestion.label = plain(f"Search {suggestion}", BUTTON_LABEL_LIMIT)

    @discord.ui.button(style=discord.ButtonStyle.primary, emoji="🔎")
    async def search_suggestion(self, interaction: Interaction, _: discord.ui.Button[Any]) -> None:
        await self.run(interaction, self.suggestion)

    async def on_timeout(self) -> None:
        self.search_suggestion.disabled = True
        with contextlib.suppress(discord.HTTPException):
            if self.message is not None:
                await self.message.edit(view=self)
            elif self.origin is not None:
                await self.origin.edit_original_response(view=self)


class PapersCog(
    commands.GroupCog, group_name="papers", group_description="Hugging Face Daily Papers"
):
    """Each handler: one catalogue call, then render."""

    def __init__(
        self,
        catalog: Catalog,
        feed: FeedService,
        *,
        bookmark_hint: str,
        similar: SimilarService,
        bot: commands.Bot,
        top: TopLists,
        bookmark_emoji: str = "🔖",
    ) -> None:
        self.catalog = catalog
        self.feed = feed
        self.bookmark_hint = bookmark_hint
        self.similar_papers = similar
        self.bot = bot
        self.top_lists = top
        self.bookmark_emoji = bookmark_emoji
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SimilarButton, AbstractButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SimilarButton, AbstractButton)

    async def send_listing(
        self, interaction: Interaction, listing: DayListing, *, replace: bool = False
    ) -> None:
        if not listing.papers:
            await self._send_empty_day(interaction, listing, self._show_day)
            return
        pages = chunk(listing.papers, PAPERS_PER_PAGE)
        total = len(listing.papers)

        def render(index: int) -> discord.Embed:
            return paper_list_embed(
                f"Daily Papers — {format_day(listing.day)}",
                pages[index],
                page=index + 1,
                pages=len(pages),
                start_rank=index * PAPERS_PER_PAGE + 1,
                description=f"{total} papers, most upvoted first."
                + (f"\n{listing.incomplete}" if listing.incomplete else ""),
                total=total,
            )

        paginator = Paginator(render, len(pages), owner_id=interaction.user.id)
        await paginator.send(interaction, replace=replace)

    async def _send_empty_day(
        self,
        interaction: Interaction,
        listing: DayListing,
        show: Callable[[Interaction, str], Awaitable[None]],
    ) -> None:
        text = listing.empty_reason or "No papers."
        button: LatestDayButton | None = None
        if listing.latest_day is not None and listing.latest_day != listing.day:
            text += f"\nThe latest day with papers is **{format_day(listing.latest_day)}**."
            button = LatestDayButton(listing.latest_day.isoformat(), interaction.user.id, show)
            button.origin = interaction
        elif listing.latest_day is None:
            text += "\nNo papers are stored yet: they arrive with the next poll of Hugging Face."
        embed = notice_embed(f"No papers for {format_day(listing.day)}", text)
        view: discord.ui.View = button or discord.utils.MISSING
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, view=view)
        else:
            await interaction.response.send_message(embed=embed, view=view)

    async def _show_day(self, interaction: Interaction, day_text: str) -> None:
        await self.send_listing(
            interaction,
            await self.catalog.day_listing(day_text, guild_id=interaction.guild_id),
            replace=True,
        )

    async def _show_digest(self, interaction: Interaction, day_text: str) -> None:
        await self.send_digest(
            interaction,
            await self.catalog.digest(day_text, guild_id=interaction.guild_id),
            replace=True,
        )

    async def send_digest(
        self, interaction: Interaction, result: Digest | DayListing, *, replace: bool = False
    ) -> None:
        if not isinstance(result, Digest):
            await self._send_empty_day(interaction, result, self._show_digest)
            return
        embed = digest_embed(
            result.day,
            result.entries,
            result.keywords,
            total_papers=result.total_papers,
            incomplete=result.incomplete,
        )
        if replace:
            await interaction.response.edit_message(embed=embed, view=None)
        else:
            await interaction.followup.send(embed=embed)

    @app_commands.command(name="today", description="A day's papers, most upvoted first")
    @app_commands.describe(date=DATE_HELP)
    async def today(self, interaction: Interaction, date: str | None = None) -> None:
        await interaction.response.defer(thinking=True)  # an old day is fetched on demand
        await self.send_listing(
            interaction, await self.catalog.day_listing(date, guild_id=interaction.guild_id)
        )

    @app_commands.command(
        name="search", description="Search stored papers by title, abstract, author or keyword"
    )
    @app_commands.describe(
        query='Words to find; "exact phrase", -exclude, OR, title:/author:/keyword: also work'
    )
    async def search(
        self, interaction: Interaction, query: app_commands.Range[str, 1, 1000]
    ) -> None:
        await self.send_search(interaction, query)

    async def send_search(self, interaction: Interaction, query: str) -> None:
        """Search and answer: the results a page at a time, and a "did you mean" button to the
        asker alone when a word looks misspelt."""
        result = await self.catalog.search(query)
        shown = truncate(clean(query), 200)
        view: SuggestionButton | None = None
        did_you_mean = ""
        if result.suggestion is not None:
            view = SuggestionButton(result.suggestion, self.send_search)
            did_you_mean = f"Did you mean **{truncate(clean(result.suggestion), 200)}**?"
        if not result.hits:
            text = f"No stored paper matches **{shown}**. "
            text += (
                did_you_mean + " Press the button to search for it."
                if view
                else "Try fewer or different words, or `/papers today` to browse."
            )
            if view is not None:
                view.origin = interaction
            await interaction.response.send_message(
                text, ephemeral=True, view=view or discord.utils.MISSING
            )
            return
        pages = chunk(result.hits, HITS_PER_PAGE)

        def render(index: int) -> discord.Embed:
            return search_results_embed(
                query,
                pages[index],
                page=index + 1,
                pages=len(pages),
                start_rank=index * HITS_PER_PAGE + 1,
                total=len(result.hits),
                note="No paper has every word; these match some of them."
                if result.relaxed
                else None,
            )

        await Paginator(render, len(pages), owner_id=interaction.user.id).send(interaction)
        if view is not None:
            view.message = await interaction.followup.send(
                did_you_mean, ephemeral=True, view=view, wait=True
            )

    @app_commands.command(name="summary", description="A short summary of one paper")
    @app_commands.describe(paper="arXiv id or title (pick from the suggestions)")
    async def summary(self, interaction: Interaction, paper: str) -> None:
        await interaction.response.defer(thinking=True)  # may fetch from Hugging Face
        found, summary = await self.catalog.summary(paper)
        await interaction.followup.send(embed=summary_embed(found, summary))

    @app_commands.command(name="digest", description="One message summarising a day's papers")
    @app_commands.describe(date=DATE_HELP)
    async def digest(self, interaction: Interaction, date: str | None = None) -> None:
        await interaction.response.defer(thinking=True)  # an old day is fetched on demand
        await self.send_digest(
            interaction, await self.catalog.digest(date, guild_id=interaction.guild_id)
        )

    @app_commands.command(name="show", description="The full card of one paper")
    @app_commands.describe(paper="arXiv id, Hugging Face or arXiv link, or title")
    async def show(self, interaction: Interaction, paper: str) -> None:
        await interaction.response.defer(thinking=True)  # may fetch from Hugging Face
        found = await self.catalog.paper(paper)
        message = await interaction.followup.send(
            embed=paper_embed(found, hint=self.bookmark_hint),
            view=paper_post_view(found.id),
            wait=True,
        )
        # Registered like an auto-post, so a 🔖 reaction on it bookmarks the paper. The card is
        # already out: a failure here must not turn into an error reply that replaces it.
        try:
            await self.feed.record_post(
                message_id=message.id,
                channel_id=message.channel.id,
                guild_id=interaction.guild_id,
                paper=found,
            )
        except Exception:
            log.exception("could not register the /papers show card %s", message.id)

    @app_commands.command(name="similar", description="Stored papers most like one paper, and why")
    @app_commands.describe(paper="arXiv id, Hugging Face or arXiv link, or title")
    async def similar(self, interaction: Interaction, paper: str) -> None:
        await interaction.response.defer(thinking=True)  # may fetch the paper from Hugging Face
        result = await self.similar_papers.similar(paper)
        await interaction.followup.send(embed=similar_embed(result.paper, result.neighbours))

    @app_commands.command(
        name="top", description="This week's or month's top papers, or this server's most saved"
    )
    @app_commands.describe(
        period="week or month: Hugging Face's list (UTC); server: bookmarked here in 7 days"
    )
    async def top(
        self, interaction: Interaction, period: Literal["week", "month", "server"] = "week"
    ) -> None:
        if period == "server":
            await self.send_server_top(
                interaction, await self.top_lists.server_top(interaction.guild_id)
            )
            return
        await interaction.response.defer(thinking=True)  # may fetch from Hugging Face
        await self.send_top_list(interaction, await self.top_lists.period_top(period))

    async def send_top_list(self, interaction: Interaction, top: TopList) -> None:
        label = top.period.label
        if not top.papers:
            await interaction.followup.send(
                embed=notice_embed(
                    f"No top papers for {label} yet",
                    f"Hugging Face has not listed any papers for {label} yet: the list fills in "
                    "as each day's papers are listed. Try again later, or `/papers today`.",
                )
            )
            return
        if top.fetched_at is None:
            note = (
                f"⚠️ Hugging Face is not answering right now and its list for {label} was never "
                "fetched, so these are the papers stored for its days; its own list may differ."
            )
        else:
            when = discord.utils.format_dt(top.fetched_at, "R")
            note = f"Hugging Face's list, fetched {when}."
            if top.upstream_error:
                note = f"⚠️ Hugging Face is not answering right now: this is its list as of {when}."
        shown = len(top.papers)
        if shown < top.total:
            description = f"The {shown} most upvoted of {top.total:,} papers. {note}"
        else:
            description = f"{top.total:,} papers, most upvoted first. {note}"
        pages = chunk(top.papers, PAPERS_PER_PAGE)

        def render(index: int) -> discord.Embed:
            return paper_list_embed(
                f"Top papers — {label}",
                pages[index],
                page=index + 1,
                pages=len(pages),
                start_rank=index * PAPERS_PER_PAGE + 1,
                description=description,
                total=top.total,
            )

        await Paginator(render, len(pages), owner_id=interaction.user.id).send(interaction)

    async def send_server_top(self, interaction: Interaction, top: ServerTop) -> None:
        if not top.entries:
            await interaction.response.send_message(
                embed=notice_embed(
                    "Nothing bookmarked here yet",
                    f"No one in this server has bookmarked a paper in the last {top.days} days. "
                    f"To bookmark a paper, react with {self.bookmark_emoji} to a paper the bot "
                    "posted (a feed post or a `/papers show` card) or press its Bookmark button; "
                    "the papers saved most often show up here. Only counts are shown, never who.",
                )
            )
            return
        pages = chunk(top.entries, PAPERS_PER_PAGE)
        description = (
            f"Bookmarked most by members of this server in the last {top.days} days "
            "(counts only, never who)."
        )

        def render(index: int) -> discord.Embed:
            return bookmarked_list_embed(
                "Most bookmarked in this server",
                pages[index],
                page=index + 1,
                pages=len(pages),
                start_rank=index * PAPERS_PER_PAGE + 1,
                description=description,
            )

        await Paginator(render, len(pages), owner_id=interaction.user.id).send(interaction)

    @summary.autocomplete("paper")
    @show.autocomplete("paper")
    @similar.autocomplete("paper")
    async def paper_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        papers = await self.catalog.suggest(current)
        return [
            app_commands.Choice(name=choice_name(paper.title, paper.id), value=paper.id)
            for paper in papers
        ]


async def setup(bot: PapersBot) -> None:
    services = bot.services
    emoji = services.settings.bookmark_emoji
    await bot.add_cog(
        PapersCog(
            services.catalog,
            services.feed,
            bookmark_hint=f"React with {emoji} to save",
            similar=services.similar,
            bot=bot,
            top=services.top,
            bookmark_emoji=emoji,
        )
    )
