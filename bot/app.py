"""The composition root: settings → logging → HTTP session, database, services → the Bot.

Nothing here runs at import time. Tests build the same objects through ``open_services`` and
``PapersBot`` so that the wiring they exercise is the wiring that runs in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import __version__
from bot.alerts import AlertService
from bot.bookmarks import BookmarkService
from bot.catalog import Catalog
from bot.config import Settings, SettingsError
from bot.errors import PaperBotError
from bot.feed import FeedService
from bot.guilds import GuildSettings
from bot.hf.client import HFClient
from bot.ingest import IngestService
from bot.lease import DatabaseLease, Lease, PollGate, SoleProcess, holder_id
from bot.metrics import Metrics, MetricsServer
from bot.poller import Poller
from bot.shards import ShardSet
from bot.similar import SimilarService
from bot.store.alerts import AlertRepo
from bot.store.bookmarks import BookmarkRepo
from bot.store.db import Database, database_at, utc_now
from bot.store.guilds import GuildSettingsRepo
from bot.store.leases import LeaseRepo
from bot.store.papers import PaperRepo
from bot.store.similar import SimilarRepo
from bot.store.state import StateRepo
from bot.store.top import TopListRepo
from bot.top import TopLists

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.papers", "cogs.feed", "cogs.bookmarks", "cogs.alerts")

# What the bot needs in a channel to post papers, offer the 🔖 reaction and open a thread on
# each post (``thread: true``).
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    add_reactions=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
# The exit status when Discord refuses the token, at start or while running (README).
EXIT_TOKEN_REFUSED = 1
# The gateway's close code for a token it does not accept.
GATEWAY_AUTHENTICATION_FAILED = 4004


@dataclass
class Services:
    """Everything the cogs and the background work use, built once and closed once."""

    settings: Settings
    db: Database
    http: aiohttp.ClientSession
    papers: PaperRepo
    state: StateRepo
    hf: HFClient
    ingest: IngestService
    catalog: Catalog
    poller: Poller
    bookmarks: BookmarkService
    feed: FeedService
    similar: SimilarService
    top: TopLists
    guilds: GuildSettings
    alerts: AlertService
    clock: Callable[[], datetime]
    metrics: Metrics
    # Who does the work done once (polling, syncing commands, digests): always this process on
    # SQLite; on PostgreSQL, whichever process holds the lease row.
    lease: Lease
    # The Discord shards this process runs (None: unsharded, one plain bot).
    shards: ShardSet | None


def open_lease(settings: Settings, db: Database) -> tuple[Lease, PollGate | None]:
    """The lease and the poll gate for this process: on SQLite the one process always holds
    the lease and polls every tick; on PostgreSQL both are rows shared by every process."""
    holder = holder_id()
    if db.dialect == "sqlite":
        return SoleProcess(holder), None
    repo = LeaseRepo(db)
    lease = DatabaseLease(repo, holder=holder, period=settings.lease_seconds)
    return lease, PollGate(lease, repo, settings.poll_interval_seconds)


@asynccontextmanager
async def open_services(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Services]:
    """Open the HTTP session and the (migrated) database, build the services, close both after."""
    async with (
        aiohttp.ClientSession(headers={"User-Agent": f"papers-bot/{__version__}"}) as http,
        database_at(settings.database_target) as db,
    ):
        papers = PaperRepo(db)
        state = StateRepo(db)
        metrics = Metrics()
        hf = HFClient(http, settings.hf_base_url, on_error=metrics.hf_error)
        # For lookups a user waits on (/papers show, a bookmark of an unknown paper, an old day):
        # fail within seconds rather than retrying for minutes like the background poll may.
        lookup = HFClient(
            http,
            settings.hf_base_url,
            timeout=8,
            max_attempts=2,
            backoff_base=0.5,
            max_backoff=2,
            on_error=metrics.hf_error,
        )
        ingest = IngestService(hf, papers, state, clock=clock, lookup=lookup)
        lease, gate = open_lease(settings, db)
        metrics.watch_lease(lease)
        poller = Poller(ingest, settings.poll_interval_seconds, gate=gate)
        poller.add_hook(metrics.on_poll)
        guilds = GuildSettings(GuildSettingsRepo(db), clock=clock)
        # Digests are posted at their time in the server's time zone.
        feed = FeedService.open(
            db,
            papers,
            ingest,
            clock=clock,
            zone=guilds.timezone,
            first_batch=settings.feed_first_batch,
            lease_holder=lease.current_holder,
            # Outbox claims name the lease's holder id; a sharded process sends only to its
            # guilds' channels.
            claimer=lease.holder,
            shards=settings.shards,
            claim_for=timedelta(seconds=settings.outbox_claim_seconds),
        )
        poller.add_hook(feed.on_poll)  # each poll queues deliveries for what it stored
        vocabulary = SimilarRepo(db)  # word counts for similar papers and "did you mean"
        catalog = Catalog(papers, ingest, guilds=guilds, vocabulary=vocabulary)
        similar = SimilarService(vocabulary, catalog)
        poller.add_hook(similar.on_poll)  # recount word frequencies when the store grew
        poller.add_hook(lambda _report: feed.prune_history())  # keeps the outbox small
        alerts = AlertService(AlertRepo(db), feed.outbox, papers, ingest, clock=clock)
        poller.add_hook(alerts.on_poll)  # one DM per member with the papers their alerts found
        yield Services(
            settings=settings,
            db=db,
            http=http,
            papers=papers,
            state=state,
            hf=hf,
            ingest=ingest,
            catalog=catalog,
            poller=poller,
            bookmarks=BookmarkService(
                BookmarkRepo(db), papers, ingest, feed.posts, clock=clock, similar=similar
            ),
            feed=feed,
            similar=similar,
            # A user waits on these fetches: the quick lookup client.
            top=TopLists(lookup, papers, TopListRepo(db), BookmarkRepo(db), clock=clock),
            guilds=guilds,
            alerts=alerts,
            clock=clock,
            metrics=metrics,
            lease=lease,
            shards=settings.shards,
        )


def point_discord_at(settings: Settings) -> None:
    """Honour DISCORD_API_BASE / DISCORD_GATEWAY_URL: discord.py's own two class attributes."""
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


# Where PapersTree notes when it received a command (Interaction.extras).
STARTED = "papers_bot_started"


class PapersTree(app_commands.CommandTree["PapersBot"]):
    """Turns errors into short ephemeral replies; unexpected ones are logged with an error id.
    Times every slash command into ``papers_bot_interaction_seconds``."""

    async def interaction_check(self, interaction: discord.Interaction[PapersBot], /) -> bool:
        interaction.extras[STARTED] = time.perf_counter()
        return True

    async def on_error(
        self, interaction: discord.Interaction[PapersBot], error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, PaperBotError):
            message = cause.user_message
        elif isinstance(cause, app_commands.MissingPermissions):
            missing = ", ".join(p.replace("_", " ").title() for p in cause.missing_permissions)
            message = f"You need the {missing} permission to use this command."
        elif isinstance(cause, app_commands.CheckFailure):
            message = "You cannot use this command here."
        else:
            error_id = uuid.uuid4().hex[:8]
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("error id %s in /%s", error_id, command, exc_info=cause)
            message = f"Sorry, something went wrong on my side (error id `{error_id}`)."
        await reply_ephemeral(interaction, message)
        self.client.observe_interaction(interaction, "error")


async def reply_ephemeral(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    try:
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # A public "thinking…" placeholder would turn the followup public: remove it first.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(message, ephemeral=True)
        elif interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send an error reply for interaction %s", interaction.id)


def command_set_hash(tree: app_commands.CommandTree[Any], guild: discord.Object | None) -> str:
    """A stable hash of the commands that would be synced (to skip needless syncs)."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id, permissions=REQUIRED_PERMISSIONS, scopes=INVITE_SCOPES
    )


class PapersBot(commands.Bot):
    """The Discord side: loads the cogs, syncs commands when they change, runs the poller."""

    def __init__(self, services: Services, **options: Any) -> None:
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        # Discord's error answers, by status, counted where discord.py reads them.
        options.setdefault("http_trace", services.metrics.discord_trace())
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            tree_cls=PapersTree,
            help_command=None,
            **options,
        )
        self.services = services
        # Set when the bot closes itself over a fatal error: run() exits with it.
        self.fatal_exit_status: int | None = None
        self._fatal_close: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self.metrics_server: MetricsServer | None = None

    def close_with_status(self, status: int) -> None:
        """Close the bot from inside its own work (the delivery worker, when Discord refuses
        the token); the process then exits with ``status``."""
        if self.fatal_exit_status is None:
            self.fatal_exit_status = status
            # A task of its own: the caller is among the tasks closing cancels.
            self._fatal_close = asyncio.create_task(self.close(), name="papers-bot-fatal-close")

    async def setup_hook(self) -> None:
        await self.start_metrics_server()
        for extension in EXTENSIONS:
            # A cog that does not load is a missing feature: fail at start, loudly.
            await self.load_extension(extension)
        lease = self.services.lease
        await lease.start()
        if lease.held:  # else the holder syncs; this process does when it takes over
            await self.sync_commands_if_changed()
        lease.on_acquired(self._took_lease)
        if self.application_id is not None:
            log.info("invite papers-bot with: %s", invite_url(self.application_id))
        self.services.poller.start()

    def _took_lease(self) -> None:
        """This process took the lease over: poll (at the next tick) and sync commands."""
        self.services.poller.wake()
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.create_task(self._sync_quietly(), name="papers-bot-sync")

    async def _sync_quietly(self) -> None:
        try:
            await self.sync_commands_if_changed()
        except Exception:  # the next holder, or the next start, tries again
            log.exception("could not sync slash commands after taking the lease")

    async def start_metrics_server(self) -> None:
        """Serve /healthz and /metrics when METRICS_PORT is set (it is closed with the bot)."""
        settings = self.services.settings
        if settings.metrics_port is None or self.metrics_server is not None:
            return
        server = MetricsServer(
            self.services.metrics,
            self.services.db,
            gateway_connected=self.gateway_connected,
            host=settings.metrics_host,
            port=settings.metrics_port,
        )
        try:
            await server.start()
        except OSError as exc:  # not Discord being unreachable: a setting to fix, exit 2
            raise SettingsError(
                f"METRICS_PORT: cannot listen on {settings.metrics_host}:{settings.metrics_port} "
                f"({exc.strerror or exc}): choose a free port, or unset it"
            ) from None
        self.metrics_server = server

    def gateway_connected(self) -> bool:
        """Ready, not closed, and a heartbeat answered (a finite latency)."""
        return self.is_ready() and not self.is_closed() and math.isfinite(self.latency)

    def observe_interaction(self, interaction: discord.Interaction[Any], outcome: str) -> None:
        """Record how long a slash command took, from ``PapersTree.interaction_check`` on."""
        started = interaction.extras.get(STARTED)
        if started is None or interaction.type is not discord.InteractionType.application_command:
            return
        command = interaction.command.qualified_name if interaction.command else "?"
        seconds = time.perf_counter() - started
        self.services.metrics.observe_interaction(command, outcome, seconds)

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], _command: object
    ) -> None:
        self.observe_interaction(interaction, "ok")

    async def sync_commands_if_changed(self) -> bool:
        """Sync to DEV_GUILD_ID (instant) or globally, only when the command set changed."""
        guild_id = self.services.settings.dev_guild_id
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = f"guild:{guild_id}" if guild_id else "global"
        digest = command_set_hash(self.tree, guild)
        if await self.services.state.get(f"command_hash:{scope}") == digest:
            log.info("slash commands unchanged since the last sync (%s)", scope)
            return False
        synced = await self.tree.sync(guild=guild)
        await self.services.state.set(f"command_hash:{scope}", digest)
        log.info("synced %d slash commands (%s)", len(synced), scope)
        return True

    async def on_ready(self) -> None:
        log.info(
            "logged in as %s (%s) in %d servers",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )

    async def close(self) -> None:
        await self.services.poller.stop()
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        self.services.lease.remove_listener(self._took_lease)
        await self.services.lease.stop()  # another process takes over at once
        if self.metrics_server is not None:
            server, self.metrics_server = self.metrics_server, None
            await server.stop()
        await super().close()


class ShardedPapersBot(PapersBot, commands.AutoShardedBot):
    """``PapersBot`` over the shards SHARD_COUNT and SHARD_IDS name (an AutoShardedBot: one
    gateway connection per shard, each guild's events on its shard's)."""


def build_bot(services: Services, **options: Any) -> PapersBot:
    """The bot for these settings: sharded when SHARD_COUNT is set, a plain Bot otherwise."""
    shards = services.shards
    if shards is None:
        return PapersBot(services, **options)
    return ShardedPapersBot(
        services, shard_count=shards.count, shard_ids=sorted(shards.ids), **options
    )


# What an unreachable Discord looks like at login: DNS failure, refused connection, timeout, or
# server errors after discord.py's own retries. Worth waiting out, unlike a refused token.
UNREACHABLE = (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError)
RETRY_CAP_SECONDS = 300.0


def retry_delays(first: float, cap: float = RETRY_CAP_SECONDS) -> Iterator[float]:
    """``first``, doubling up to ``cap``, forever: the waits between login attempts."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, max(cap, first))


async def run_bot(settings: Settings, **bot_options: Any) -> int:
    """Run until SIGTERM/SIGINT or a fatal error; always closes gateway, database and session.
    Returns the exit status: 0, or the bot's own after a fatal error (``fatal_exit_status``).

    While Discord cannot be reached at start, logs one line per attempt and tries again after
    DISCORD_RETRY_SECONDS, doubling up to five minutes: a worker comes up when the network does.
    """
    point_discord_at(settings)
    token = settings.token_value()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with open_services(settings) as services:
        for attempt, delay in enumerate(retry_delays(settings.discord_retry_seconds), start=1):
            # A fresh client per attempt: discord.py's HTTP client cannot log in twice.
            async with build_bot(services, **bot_options) as bot:
                try:
                    await _run_until_stopped(bot, token, stop)
                    break
                except UNREACHABLE as exc:
                    log.warning(
                        "cannot reach Discord at %s (attempt %d: %s); trying again in %g s",
                        settings.discord_api_base,
                        attempt,
                        str(exc) or type(exc).__name__,
                        delay,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
    log.info("papers-bot stopped")
    return bot.fatal_exit_status or 0


async def _run_until_stopped(bot: PapersBot, token: str, stop: asyncio.Event) -> None:
    """``bot.start(token)``, closed cleanly when ``stop`` is set, even in the middle of login."""
    running = asyncio.ensure_future(bot.start(token))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not running.done():
        await bot.close()  # once connected, start() returns after this
        running.cancel()  # still logging in: give up that attempt
        with contextlib.suppress(asyncio.CancelledError, *UNREACHABLE):
            await running
        return
    running.result()


def run(settings: Settings) -> int:
    """Run the bot; returns the process exit status."""
    try:
        return asyncio.run(run_bot(settings))
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the token in .env (see .env.example)")
        return EXIT_TOKEN_REFUSED
    except discord.ConnectionClosed as exc:
        if exc.code != GATEWAY_AUTHENTICATION_FAILED:
            raise
        # The token was reset while the bot ran, and the gateway said so before any request.
        log.error("Discord's gateway refused DISCORD_TOKEN (4004): put the current token in .env")
        return EXIT_TOKEN_REFUSED
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents (papers-bot asks for no privileged ones)")
        return 1
    except KeyboardInterrupt:
        pass
    return 0
