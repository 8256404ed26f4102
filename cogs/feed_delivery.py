"""The delivery worker: sends the outbox to Discord, one task per channel, and edits live upvotes.

Exactly once: each delivery carries a stable nonce that is sent with ``enforce_nonce``, and the
attempt is counted in the database *before* the request. If the process dies after Discord
accepted a message but before its id was recorded, the delivery is left "maybe sent". Discord
honours a nonce for a few minutes only, so before resending such a delivery the worker reads the
channel's latest messages (Read Message History) and, if one of them is the feed's post of that
paper, records it instead of posting again. Only plain messages of the bot count: a command's
answer (a public /papers show card of the same paper) is marked by Discord as one. Without that
permission, or when the read fails, the resend relies on the nonce alone: Discord answers with the
message it already has if the nonce is recent enough.

Discord's answers are read by status and JSON error code (``bot.outcomes.read_answer``): the
feed service records what each means for the delivery, notice or edit. A 401 means the token was
reset while the bot ran: the worker stops sending at once, leaves every delivery pending (the
refused attempt is not counted), logs one line and tells the bot, which closes with exit status 1.

Each send is claimed in the database right before it is made (``begin_delivery``): a delivery
read a moment earlier is not sent if its channel was unsubscribed or paused, or its row changed,
since. A message Discord accepted is always recorded, even if its row went away meanwhile.

Isolation: every channel drains in its own task, so a channel that times out or answers 5xx only
delays itself. A paper that fails for another reason (rendering it raised, say) is retried with
backoff and eventually dropped, without holding up the channel's other papers; a drain that fails
outright (the database refused to record a post) makes its channel rest, doubling each time, and
so does a failed round of upvote edits. Nothing is retried in a tight loop. All tasks share one
pacer that keeps the bot under Discord's global rate limit; discord.py still honours any 429
(per-route buckets included) on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord

from bot.embeds import card_embed, safe_url
from bot.feed import ChannelAccess, EditJob, FeedService
from bot.models import CardStyle, Paper
from bot.outcomes import Action, Outcome, read_answer, transient
from bot.store.feed import DueDelivery, DueNotice

log = logging.getLogger(__name__)

# Discord allows 50 requests/s per bot (interactions excluded); stay just under it.
REQUESTS_PER_SECOND = 48.0
# Channels drained at the same time (each one sends its papers in order).
PARALLEL_CHANNELS = 50
# A send that takes longer is abandoned and retried later with the same nonce.
SEND_TIMEOUT = 30.0
# How long the dispatcher sleeps when nothing is scheduled (a safety net; wake-ups are events).
IDLE_RECHECK = 60.0
MIN_RECHECK = 0.05
# Messages read back before resending a delivery that may already be in the channel.
HISTORY_LIMIT = 50
# A channel whose drain failed outright (or the upvote edits, after a failed round) rests this
# long before it is tried again, doubling with each failure in a row up to the cap.
ERROR_COOLDOWN = timedelta(seconds=5)
ERROR_COOLDOWN_CAP = timedelta(minutes=5)
# The key the upvote edits rest under in ``Cooldowns`` (channels rest under their id).
EDITS = "edits"

# The buttons of a post: (paper id, card style) → view.
ViewFactory = Callable[[str, CardStyle], discord.ui.View]
Sendable = discord.abc.Messageable


class RequestPacer:
    """Spaces requests evenly at ``rate`` per second across every task that shares it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def channel_access(permissions: discord.Permissions) -> ChannelAccess:
    """The feed's view of what Discord lets the bot do in a channel."""
    return ChannelAccess(
        view_channel=permissions.view_channel,
        send_messages=permissions.send_messages,
        embed_links=permissions.embed_links,
        add_reactions=permissions.add_reactions,
        read_message_history=permissions.read_message_history,
    )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def outcome_of(exc: BaseException, *, editing: bool = False) -> Outcome | None:
    """What a failed request to Discord means for the outbox; None when the error did not come
    from Discord or the network (a bug, say: the caller decides)."""
    if isinstance(exc, TokenRefused):
        return exc.outcome
    if isinstance(exc, discord.HTTPException):
        text = exc.text or exc.response.reason or ""
        return read_answer(exc.status, exc.code, text, editing=editing)
    if isinstance(exc, discord.RateLimited):
        return transient(f"rate limited for {exc.retry_after}s")
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        return transient(_error_text(exc))
    return None


class TokenRefused(Exception):
    """Discord answered 401: the bot's token no longer works (it was reset while running)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _answered_an_interaction(message: discord.Message) -> bool:
    """True for a command's answer (a /papers show card, say): Discord marks those, and sends
    them through the application's webhook. The feed's posts are plain channel messages."""
    return message.interaction_metadata is not None or message.webhook_id is not None


def _custom_ids(view: discord.ui.View) -> set[str]:
    return {
        custom_id
        for item in view.children
        if isinstance(custom_id := getattr(item, "custom_id", None), str)
    }


def _message_custom_ids(message: discord.Message) -> set[str]:
    found: set[str] = set()
    for component in message.components:
        for child in getattr(component, "children", ()):
            custom_id = getattr(child, "custom_id", None)
            if isinstance(custom_id, str):
                found.add(custom_id)
    return found


class Cooldowns:
    """Channels (by id) and the edit round (``EDITS``) resting after a failure, so that a
    persistent error is retried with growing pauses instead of at once, over and over."""

    def __init__(self, base: timedelta, cap: timedelta) -> None:
        self.base = base
        self.cap = cap
        self._until: dict[int | str, datetime] = {}
        self._failures: dict[int | str, int] = {}

    def failed(self, key: int | str, now: datetime) -> timedelta:
        """Note a failure; returns how long ``key`` rests."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        factor: int = 2 ** min(failures - 1, 16)
        rest = min(self.base * factor, self.cap)
        self._until[key] = now + rest
        return rest

    def succeeded(self, key: int | str) -> None:
        self._failures.pop(key, None)
        self._until.pop(key, None)

    def resting(self, now: datetime) -> dict[int | str, datetime]:
        """Keys still resting at ``now``, with when each may go again."""
        return {key: until for key, until in self._until.items() if until > now}


class RecentPosts:
    """The channel's latest messages, read at most once per batch of deliveries, to find a post
    Discord accepted before the bot could record it."""

    def __init__(
        self,
        worker: DeliveryWorker,
        channel: Sendable,
        channel_id: int,
        access: ChannelAccess | None,
    ) -> None:
        self.worker = worker
        self.channel = channel
        self.channel_id = channel_id
        self.access = access
        self._messages: list[discord.Message] | None = None
        self._read = False

    async def _load(self) -> list[discord.Message] | None:
        if self._read:
            return self._messages
        self._read = True
        if self.access is not None and not self.access.read_message_history:
            return None  # Discord would answer with an empty list: rely on the nonce
        worker = self.worker
        me = worker.client.user
        try:
            await worker.pacer.wait()
            async with asyncio.timeout(worker.send_timeout):
                messages = [m async for m in self.channel.history(limit=HISTORY_LIMIT)]
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            log.info(
                "could not read the latest messages of channel %s (%s): relying on the nonce",
                self.channel_id,
                outcome.reason,
            )
            return None
        # Only the feed's own posts: a /papers show card of the same paper is not one.
        self._messages = [
            m
            for m in messages
            if me is not None and m.author.id == me.id and not _answered_an_interaction(m)
        ]
        return self._messages

    async def find(self, paper: Paper) -> discord.Message | None:
        """The feed's earlier post of ``paper`` (a plain message of the bot's whose embed links
        to the paper's page, or which carries the paper's buttons), or None when there is none
        or history is unavailable."""
        messages = await self._load()
        if not messages:
            return None
        url = safe_url(paper.hf_url)
        wanted = (
            _custom_ids(self.worker.view_factory(paper.id, "compact"))
            if self.worker.view_factory
            else set()
        )
        for message in messages:
            if url is not None and any(embed.url == url for embed in message.embeds):
                return message
            if wanted & _message_custom_ids(message):
                return message
        return None


class DeliveryWorker:
    """Sends due deliveries and notices, and refreshes the upvotes shown on recent posts."""

    def __init__(
        self,
        client: discord.Client,
        feed: FeedService,
        *,
        bookmark_emoji: str,
        hint: str,
        view_factory: ViewFactory | None = None,
        requests_per_second: float = REQUESTS_PER_SECOND,
        parallel_channels: int = PARALLEL_CHANNELS,
        send_timeout: float = SEND_TIMEOUT,
        on_token_refused: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.feed = feed
        self.bookmark_emoji = bookmark_emoji
        self.hint = hint
        self.view_factory = view_factory
        self.pacer = RequestPacer(requests_per_second)
        self.send_timeout = send_timeout
        self._slots = asyncio.Semaphore(parallel_channels)
        self.cooldowns = Cooldowns(ERROR_COOLDOWN, ERROR_COOLDOWN_CAP)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._editing: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        # Called once when Discord refuses the token (the bot closes with exit status 1).
        self.on_token_refused = on_token_refused
        self.token_refused = False
        self._told_refused = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self.feed.on_outbox_change(self.wake)
            self._task = asyncio.create_task(self._run(), name="papers-bot-delivery")

    async def stop(self) -> None:
        """Cancel everything in flight; an interrupted send is resent (same nonce) next start."""
        self.feed.remove_outbox_listener(self.wake)
        tasks = [t for t in (self._task, self._editing, *self._active.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = self._editing = None
        self._active.clear()

    def wake(self) -> None:
        """Look for due work now (called when the outbox changes)."""
        self._idle.clear()
        self._wake.set()

    async def wait_until_idle(self) -> None:
        """Wait until nothing is due or in flight, channels resting after a failure aside (tests
        and the benchmark; wrap in a timeout)."""
        await self._idle.wait()

    # --- the dispatcher -----------------------------------------------------------------------

    async def _run(self) -> None:
        await self.client.wait_until_ready()
        while True:
            self._wake.clear()
            recheck = IDLE_RECHECK
            try:
                recheck = await self._dispatch()
            except Exception:  # the loop must survive a bug; the traceback is in the log
                log.exception("the delivery dispatcher failed; retrying shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), recheck)

    async def _dispatch(self) -> float:
        """Start a drain for each channel with due work and an edit round; seconds to recheck.

        Resting channels wait for their cooldown. Channels being drained look for their own due
        work, so an overdue retry of theirs does not make the dispatcher poll meanwhile.
        """
        if self.token_refused:
            # Nothing more is sent. Once the sends in flight have ended (each refused too, its
            # attempt given back), the bot is told; closing earlier would cancel them midway
            # and leave their deliveries "maybe sent".
            if not self._active and self._editing is None:
                self._idle.set()
                if self.on_token_refused is not None and not self._told_refused:
                    self._told_refused = True
                    self.on_token_refused()
            return IDLE_RECHECK
        now = self.feed.clock()
        resting = self.cooldowns.resting(now)
        for channel_id in await self.feed.due_channels():
            if channel_id not in self._active and channel_id not in resting:
                self._active[channel_id] = asyncio.create_task(
                    self._drain(channel_id), name=f"papers-bot-deliver-{channel_id}"
                )
        if self._editing is None and EDITS not in resting:
            jobs = await self.feed.edits_due()
            if jobs:
                self._editing = asyncio.create_task(self._edit_round(jobs))
        if not self._active and self._editing is None and not self._wake.is_set():
            self._idle.set()
        busy = set(self._active) | {key for key in resting if isinstance(key, int)}
        moments = [*resting.values()]
        if (next_due := await self.feed.next_due_at(busy=busy)) is not None:
            moments.append(next_due)
        if not moments:
            return IDLE_RECHECK
        wait = (min(moments) - self.feed.clock()).total_seconds()
        return min(max(wait, MIN_RECHECK), IDLE_RECHECK)

    async def _drain(self, channel_id: int) -> None:
        try:
            async with self._slots:
                await self._drain_channel(channel_id)
        except TokenRefused as exc:
            self._refuse(exc.outcome)
        except Exception:
            rest = self.cooldowns.failed(channel_id, self.feed.clock())
            log.exception(
                "delivering to channel %s failed; trying it again in %ss",
                channel_id,
                rest.total_seconds(),
            )
        else:
            self.cooldowns.succeeded(channel_id)
        finally:
            self._active.pop(channel_id, None)
            self.wake()

    async def _drain_channel(self, channel_id: int) -> None:
        while not self.token_refused and (outbox := await self.feed.outbox_for(channel_id)):
            channel = self._channel(channel_id)
            recent = RecentPosts(self, channel, channel_id, self._access(channel))
            for notice in outbox.notices:
                if self.token_refused:
                    return
                await self._send_notice(channel, notice)
            for delivery, paper in outbox.deliveries:
                if self.token_refused or not await self._deliver(channel, delivery, paper, recent):
                    # Paused, removed, postponed or changed: the dispatcher looks again.
                    return

    def _refuse(self, outcome: Outcome) -> None:
        """Discord refused the token: stop sending for good and say so once (the dispatcher
        tells the bot when the sends in flight have ended)."""
        if self.token_refused:
            return  # another channel's send was refused too
        self.token_refused = True
        log.error(
            "Discord refused DISCORD_TOKEN (%s) while sending: stopping; pending deliveries are "
            "kept. Put the bot's current token in DISCORD_TOKEN and start it again.",
            outcome.reason,
        )
        self.wake()

    # --- sending ------------------------------------------------------------------------------

    def _channel(self, channel_id: int) -> Sendable:
        channel = self.client.get_channel(channel_id)
        if isinstance(channel, Sendable):
            return channel
        # Not cached (yet): Discord itself will say whether it exists.
        return self.client.get_partial_messageable(channel_id)

    @staticmethod
    def _access(channel: Sendable) -> ChannelAccess | None:
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return channel_access(channel.permissions_for(channel.guild.me))
        return None

    async def _send(self, channel: Sendable, **fields: Any) -> discord.Message:
        await self.pacer.wait()
        return await asyncio.wait_for(
            channel.send(allowed_mentions=discord.AllowedMentions.none(), **fields),
            self.send_timeout,
        )

    def _post_fields(self, paper: Paper, style: CardStyle) -> dict[str, Any]:
        fields: dict[str, Any] = {"embed": card_embed(paper, style, hint=self.hint)}
        if self.view_factory is not None:
            fields["view"] = self.view_factory(paper.id, style)
        return fields

    async def _deliver(
        self, channel: Sendable, delivery: DueDelivery, paper: Paper, recent: RecentPosts
    ) -> bool:
        """Post one paper. True to go on with the channel's next paper; False to stop draining
        the channel (paused, removed, postponed, or its outbox changed since it was read).

        A failure to record a message Discord accepted propagates: the channel rests, and the
        next attempt finds the post among the channel's latest messages.
        """
        access = self._access(channel)
        missing = access.missing_to_post() if access else []
        if missing:
            # Known from the gateway's permissions: skip a request that can only fail.
            await self.feed.record_forbidden(delivery.channel_id, missing)
            return False
        if not await self.feed.begin_delivery(delivery):
            log.info(
                "paper %s for channel %s is no longer due as read (unsubscribed, paused or "
                "re-planned meanwhile): not sent",
                paper.id,
                delivery.channel_id,
            )
            return False
        try:
            # Tried before: Discord may hold the post already, past the nonce's few minutes.
            found = await recent.find(paper) if delivery.attempts > 0 else None
            if found is None:
                message = await self._send(
                    channel, nonce=delivery.nonce, **self._post_fields(paper, delivery.style)
                )
            else:
                message = found
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:  # rendering, the view, a bug: this paper's problem alone
                await self._record_error(delivery, exc)
                return True
            await self.feed.record_outcome(delivery, outcome, missing=missing)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            # A message refused for itself holds up nothing; a channel's or server's trouble
            # (pause, gone, 5xx, timeout) ends this drain.
            return outcome.action is Action.DROP or (
                outcome.action is Action.RETRY and outcome.attempts is not None
            )
        if found is not None:
            log.info(
                "paper %s was already posted to channel %s (message %s): recorded it",
                paper.id,
                delivery.channel_id,
                found.id,
            )
        await self.feed.record_sent(delivery, paper, message.id)
        if (access is None or access.can_react) and not any(
            reaction.me and str(reaction.emoji) == self.bookmark_emoji
            for reaction in message.reactions
        ):
            await self._add_bookmark_reaction(message)
        return True

    async def _record_error(self, delivery: DueDelivery, exc: Exception) -> None:
        """Retry a delivery that failed unexpectedly later (or give up on it), and log it once,
        with its traceback. If even that cannot be recorded, the drain fails and the channel
        rests."""
        error = _error_text(exc)
        retry_at = await self.feed.record_error(delivery, error)
        log.error(
            "could not deliver paper %s to channel %s (attempt %d): %s; %s",
            delivery.paper_id,
            delivery.channel_id,
            delivery.attempts + 1,
            error,
            f"retrying at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "gave up on it",
            exc_info=exc,
        )

    async def _add_bookmark_reaction(self, message: discord.Message) -> None:
        try:
            await self.pacer.wait()
            await asyncio.wait_for(message.add_reaction(self.bookmark_emoji), self.send_timeout)
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            # The hint is a courtesy: readers can still react themselves.
            log.info(
                "could not add %s to message %s: %s",
                self.bookmark_emoji,
                message.id,
                outcome.reason,
            )

    async def _send_notice(self, channel: Sendable, notice: DueNotice) -> None:
        if not await self.feed.begin_notice(notice):
            return  # dropped since it was read (unsubscribed, or resumed before a pause notice)
        try:
            message = await self._send(channel, content=notice.body, nonce=notice.nonce)
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            # 403 included: a notice is sent "if possible", never forced.
            await self.feed.record_notice_outcome(notice, outcome)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
        else:
            await self.feed.record_notice_sent(notice, message.id)

    # --- live upvotes -------------------------------------------------------------------------

    async def _edit_round(self, jobs: list[EditJob]) -> None:
        try:
            for job in jobs:
                if self.token_refused:
                    break
                await self._edit(job)
        except TokenRefused as exc:
            self._refuse(exc.outcome)
        except Exception:
            # The database could not record an edit: edits rest, or they would be redone at once.
            rest = self.cooldowns.failed(EDITS, self.feed.clock())
            log.exception("refreshing upvotes failed; trying again in %ss", rest.total_seconds())
        else:
            self.cooldowns.succeeded(EDITS)
        finally:
            self._editing = None
            self.wake()

    async def _edit(self, job: EditJob) -> None:
        channel = self.client.get_partial_messageable(job.post.channel_id)
        message = channel.get_partial_message(job.post.message_id)
        try:
            embed = card_embed(job.paper, job.post.style, hint=self.hint)
            await self.pacer.wait()
            await asyncio.wait_for(message.edit(embed=embed), self.send_timeout)
        except Exception as exc:
            outcome = outcome_of(exc, editing=True)
            if outcome is None:
                log.exception(
                    "could not refresh message %s (paper %s); trying again later",
                    job.post.message_id,
                    job.paper.id,
                )
                # The message still shows the old counts: note only the attempt, so it is
                # tried again after the usual interval, never in a tight loop.
                await self.feed.record_edit_failed(job)
                return
            await self.feed.record_edit_outcome(job, outcome)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            if outcome.action is not Action.REMOVE:
                log.info(
                    "could not refresh message %s: %s; trying again later",
                    job.post.message_id,
                    outcome.reason,
                )
        else:
            await self.feed.record_edited(job)
