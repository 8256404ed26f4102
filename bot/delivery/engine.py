"""The delivery engine: sends the outbox through a ``Sender``, one task per channel, and edits
live upvotes.

Exactly once: each outbox row carries a stable nonce that is sent with it, and the attempt is
counted in the database *before* the request. If the process dies after Discord accepted a
message but before its id was recorded, the row is left "maybe sent". Discord honours a nonce for
a few minutes only, so before resending such a post the engine reads the channel's latest posts
(``Sender.recent_posts``) and, if one of them shows that paper, records it instead of posting
again. Without Read Message History, or when the read fails, the resend relies on the nonce alone.

Threads (``thread: true``): the row of a post's thread is queued in the transaction that records
the post as sent, so it exists exactly when the post is recorded. It is claimed like any row
before the request; if the process dies after Discord created the thread but before that was
recorded, the retry is answered "a thread has already been created for this message" (160004),
which the sender reads as created. Nothing else is needed: Discord allows one thread per message.

Forum posts: Discord takes no nonce when it creates a forum post, so the look-back is all there
is. Before resending a forum post it had attempted, the engine lists the bot's active posts in
the forum (``Sender.forum_posts``) and records the one named after the paper instead of posting
again; if that list cannot be read, the post is retried later rather than risk a second one.

Every failed request comes back as an ``Outcome`` (``SendFailed``), which the feed service
records: retry later, pause or remove the channel's subscription, drop the one message with its
reason. A STOP (Discord refused the token, reset while the bot ran) ends all sending at once,
leaves every row pending (the refused attempt is not counted), logs one line and tells the bot,
which closes with exit status 1.

Each send is claimed in the database right before it is made: a row read a moment earlier is not
sent if its channel was unsubscribed or paused, or its row changed, since. A message Discord
accepted is always recorded, even if its row went away meanwhile. A claim names this process and
expires (``OutboxRepo``): processes sharing one PostgreSQL database never send a row at once, a
row whose claimer died is sent again once its claim expires, and a process whose claim was taken
over records nothing. At start the engine releases the claims a crashed run left (on SQLite, one
process, all of them), so its rows go out at once.

Alert DMs (outbox rows of kind 'dm', ``bot.alerts``) drain per member, each member in a task of
its own beside the channels', under the same claim-first policy, rate budget and token-refused stop;
the alert service records their outcomes (a member whose DMs are closed has their alerts paused).
A DM is resent with its nonce alone: a DM channel holds no feed posts to look back through.

Isolation: every channel drains in its own task, so a channel that times out or answers 5xx only
delays itself. A paper that fails for another reason (rendering it raised, say) is retried with
backoff and eventually dropped, without holding up the channel's other papers; a drain that fails
outright (the database refused to record a post) makes its channel rest, doubling each time, and
so does a failed round of upvote edits. Nothing is retried in a tight loop. All tasks share one
rate budget, this process's share of Discord's global limit; discord.py still honours any 429
(per-route buckets included) on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from bot.alerts import AlertService, DmJob
from bot.delivery.budget import RateBudget
from bot.delivery.sender import RecentPost, Sender, SendFailed, SentMessage
from bot.feed import ChannelAccess, ChannelDigest, EditJob, FeedService, forum_tags, thread_name
from bot.models import Paper
from bot.outcomes import Action, Outcome, transient
from bot.store.feed import DueDelivery, DueNotice, DueThread

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord allows 50 requests/s per bot (interactions excluded), shared by all its processes:
# DISCORD_REQUESTS_PER_SECOND sets this process's share (this default: one process, just under).
REQUESTS_PER_SECOND = 48.0
# Channels drained at the same time (each one sends its papers in order).
PARALLEL_CHANNELS = 50
# A send that takes longer is abandoned and retried later with the same nonce.
SEND_TIMEOUT = 30.0
# How long the dispatcher sleeps when nothing is scheduled (a safety net; wake-ups are events).
IDLE_RECHECK = 60.0
# With several processes, another one queues this one's work (the lease holder's poll) and no
# event says so: look this often instead.
SHARED_OUTBOX_RECHECK = 1.0
MIN_RECHECK = 0.05
# A channel whose drain failed outright (or the upvote edits, after a failed round) rests this
# long before it is tried again, doubling with each failure in a row up to the cap.
ERROR_COOLDOWN = timedelta(seconds=5)
ERROR_COOLDOWN_CAP = timedelta(minutes=5)
# The key the upvote edits rest under in ``Cooldowns`` (channels rest under their id).
EDITS = "edits"


def _dm_key(user_id: int) -> str:
    """The key a member's DMs rest under in ``Cooldowns`` (a string: never a channel's)."""
    return f"dm:{user_id}"


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


class TokenRefused(Exception):
    """Discord refused the token (a STOP outcome): the drain or edit round ends at once."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


class RecentPosts:
    """The channel's latest posts, read at most once per batch of deliveries, to find a post
    Discord accepted before the bot could record it."""

    def __init__(self, engine: DeliveryEngine, channel_id: int, access: ChannelAccess | None):
        self.engine = engine
        self.channel_id = channel_id
        self.access = access
        self._posts: Sequence[RecentPost] | None = None
        self._read = False

    async def _load(self) -> Sequence[RecentPost] | None:
        if self._read:
            return self._posts
        self._read = True
        if self.access is not None and not self.access.read_message_history:
            return None  # Discord would answer with an empty list: rely on the nonce
        sender = self.engine.sender
        try:
            self._posts = await self.engine.request(lambda: sender.recent_posts(self.channel_id))
        except SendFailed as exc:
            if exc.outcome.action is Action.STOP:
                raise  # the caller gives its claim back and stops
            log.info(
                "could not read the latest messages of channel %s (%s): relying on the nonce",
                self.channel_id,
                exc.outcome.reason,
            )
        return self._posts

    async def find_digest(self, digest: ChannelDigest) -> SentMessage | None:
        """The channel's earlier digest for the same local day, or None."""
        for post in await self._load() or ():
            if post.digest_day == digest.day:
                return post.message
        return None

    async def find(self, paper: Paper) -> SentMessage | None:
        """The feed's earlier post of ``paper``, or None when there is none or the channel's
        history is unavailable."""
        for post in await self._load() or ():
            if paper.id in post.paper_ids:
                return post.message
        return None


class DeliveryEngine:
    """Sends due posts and notices through ``sender``, and refreshes the upvotes shown on
    recent posts."""

    def __init__(
        self,
        feed: FeedService,
        sender: Sender,
        *,
        bookmark_emoji: str,
        requests_per_second: float = REQUESTS_PER_SECOND,
        parallel_channels: int = PARALLEL_CHANNELS,
        send_timeout: float = SEND_TIMEOUT,
        on_token_refused: Callable[[], None] | None = None,
        alerts: AlertService | None = None,
        holds_lease: Callable[[], bool] = lambda: True,
        idle_recheck: float = IDLE_RECHECK,
    ) -> None:
        self.feed = feed
        # Digests are queued only by the process holding the lease (``bot.lease``; always this
        # one on SQLite), like alerts after its polls; each process sends its own shards' rows.
        self.holds_lease = holds_lease
        self.idle_recheck = idle_recheck
        # Alert DMs (outbox rows of kind 'dm'), drained per member like channels are.
        self.alerts = alerts
        self._dm_active: dict[int, asyncio.Task[None]] = {}
        self.sender = sender
        self.bookmark_emoji = bookmark_emoji
        self.budget = RateBudget(requests_per_second)
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
            if self.alerts is not None:
                self.alerts.on_outbox_change(self.wake)
            self._task = asyncio.create_task(self._run(), name="papers-bot-delivery")

    async def stop(self) -> None:
        """Cancel everything in flight; an interrupted send is resent (same nonce) next start,
        or at once by another process: the claims are given back (their attempts stay)."""
        self.feed.remove_outbox_listener(self.wake)
        if self.alerts is not None:
            self.alerts.remove_outbox_listener(self.wake)
        running = (*self._active.values(), *self._dm_active.values())
        tasks = [t for t in (self._task, self._editing, *running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = self._editing = None
        self._active.clear()
        self._dm_active.clear()
        if tasks:
            try:
                await self.feed.release_claims()
            except Exception:  # they expire on their own
                log.exception("could not release this process's outbox claims")

    def wake(self) -> None:
        """Look for due work now (called when the outbox changes)."""
        self._idle.clear()
        self._wake.set()

    async def wait_until_idle(self) -> None:
        """Wait until nothing is due or in flight, channels resting after a failure aside (tests
        and the benchmark; wrap in a timeout)."""
        await self._idle.wait()

    async def request(self, call: Callable[[], Awaitable[T]]) -> T:
        """Make one request through the sender: paced, and abandoned (a transient failure)
        after ``send_timeout``."""
        await self.budget.wait()
        try:
            return await asyncio.wait_for(call(), self.send_timeout)
        except TimeoutError as exc:
            raise SendFailed(transient("timed out")) from exc

    # --- the dispatcher -----------------------------------------------------------------------

    async def _run(self) -> None:
        await self.sender.wait_until_ready()
        try:
            await self.feed.release_claims()
        except Exception:  # the claims then expire on their own
            log.exception("could not release the outbox claims of an earlier run")
        while True:
            self._wake.clear()
            recheck = self.idle_recheck
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
            # and leave their rows "maybe sent".
            if not self._active and not self._dm_active and self._editing is None:
                self._idle.set()
                if self.on_token_refused is not None and not self._told_refused:
                    self._told_refused = True
                    self.on_token_refused()
            return IDLE_RECHECK
        next_digest: datetime | None = None
        try:
            if self.holds_lease():
                next_digest = await self.feed.next_digest_at()
        except Exception:  # posts must go on even if digests cannot be planned
            log.exception("could not schedule digests; trying again shortly")
            next_digest = self.feed.clock() + ERROR_COOLDOWN
        due = await self.feed.due_channels()
        # Read the cooldowns after every await above: a drain that failed meanwhile has just
        # made its channel rest, and must not be started again at once.
        resting = self.cooldowns.resting(self.feed.clock())
        for channel_id in due:
            if channel_id not in self._active and channel_id not in resting:
                self._active[channel_id] = asyncio.create_task(
                    self._drain(channel_id), name=f"papers-bot-deliver-{channel_id}"
                )
        if self._editing is None and EDITS not in resting:
            jobs = await self.feed.edits_due()
            resting = self.cooldowns.resting(self.feed.clock())
            if jobs and EDITS not in resting:
                self._editing = asyncio.create_task(self._edit_round(jobs))
        dm_moment = await self._dispatch_dms()
        resting = self.cooldowns.resting(self.feed.clock())
        if (
            not self._active
            and not self._dm_active
            and self._editing is None
            and not self._wake.is_set()
        ):
            self._idle.set()
        busy = set(self._active) | {key for key in resting if isinstance(key, int)}
        moments = [*resting.values()]
        if next_digest is not None:
            moments.append(next_digest)
        if dm_moment is not None:
            moments.append(dm_moment)
        if (next_due := await self.feed.next_due_at(busy=busy)) is not None:
            moments.append(next_due)
        if not moments:
            return self.idle_recheck
        wait = (min(moments) - self.feed.clock()).total_seconds()
        return min(max(wait, MIN_RECHECK), self.idle_recheck)

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
            recent = RecentPosts(self, channel_id, self.sender.access(channel_id))
            for notice in outbox.notices:
                if self.token_refused:
                    return
                await self._send_notice(notice)
            for digest in outbox.digests:
                if self.token_refused or not await self._send_digest(digest, recent):
                    return
            for thread, paper in outbox.threads:
                if self.token_refused or not await self._open_thread(thread, paper):
                    return
            for delivery, paper in outbox.deliveries:
                if self.token_refused or not await self._deliver(delivery, paper, recent):
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

    async def _deliver(self, delivery: DueDelivery, paper: Paper, recent: RecentPosts) -> bool:
        """Post one paper. True to go on with the channel's next paper; False to stop draining
        the channel (paused, removed, postponed, or its outbox changed since it was read).

        A failure to record a message Discord accepted propagates: the channel rests, and the
        next attempt finds the post among the channel's latest messages.
        """
        channel_id = delivery.channel_id
        access = self.sender.access(channel_id)
        missing = access.missing_to_post() if access else []
        if access is not None and delivery.forum:
            missing += access.missing_for_threads()
        if missing:
            # Known from the gateway's permissions: skip a request that can only fail.
            await self.feed.record_forbidden(channel_id, missing)
            return False
        if not await self.feed.begin(delivery):
            log.info(
                "paper %s for channel %s is no longer due as read (unsubscribed, paused or "
                "re-planned meanwhile): not sent",
                paper.id,
                channel_id,
            )
            return False
        try:
            if delivery.forum:
                found = await self._find_forum_post(delivery, paper)
                if found is None:
                    message = await self._forum_post(delivery, paper)
                else:
                    message = found
            else:
                # Tried before: Discord may hold the post already, past the nonce's few minutes.
                found = await recent.find(paper) if delivery.attempts > 0 else None
                if found is None:
                    message = await self.request(
                        lambda: self.sender.post(
                            channel_id, paper, delivery.nonce, delivery.style, delivery.mentions
                        )
                    )
                else:
                    message = found
        except SendFailed as exc:
            outcome = exc.outcome
            await self.feed.record_outcome(delivery, outcome, missing=missing)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            # A message refused for itself holds up nothing; a channel's or server's trouble
            # (pause, gone, 5xx, timeout) ends this drain.
            return outcome.action is Action.DROP or (
                outcome.action is Action.RETRY and outcome.attempts is not None
            )
        except Exception as exc:  # rendering, the view, a bug: this paper's problem alone
            await self._record_error(delivery, exc)
            return True
        if found is not None:
            log.info(
                "paper %s was already posted to channel %s (message %s): recorded it",
                paper.id,
                channel_id,
                found.id,
            )
        await self.feed.record_sent(
            delivery, paper, message.id, message_channel_id=message.channel_id
        )
        if (access is None or access.can_react) and not message.reacted:
            await self._add_bookmark_reaction(message.channel_id or channel_id, message.id)
        return True

    async def _find_forum_post(self, delivery: DueDelivery, paper: Paper) -> SentMessage | None:
        """The forum post an earlier attempt of ``delivery`` created, if any: one of the bot's
        active posts in the forum named after the paper. Raises ``SendFailed`` when the forum's
        posts cannot be listed (the delivery is retried later, never posted blind)."""
        if delivery.attempts == 0:
            return None
        channel_id = delivery.channel_id
        posts = await self.request(lambda: self.sender.forum_posts(channel_id))
        name = thread_name(paper.title)
        return next((post.message for post in posts if post.name == name), None)

    async def _forum_post(self, delivery: DueDelivery, paper: Paper) -> SentMessage:
        channel_id = delivery.channel_id
        name = thread_name(paper.title)
        tags = forum_tags(self.sender.forum_tags(channel_id), paper, delivery.keywords)
        return await self.request(
            lambda: self.sender.forum_post(channel_id, paper, name, tags, delivery.style)
        )

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

    async def _add_bookmark_reaction(self, channel_id: int, message_id: int) -> None:
        emoji = self.bookmark_emoji
        try:
            await self.request(lambda: self.sender.add_reaction(channel_id, message_id, emoji))
        except SendFailed as exc:
            if exc.outcome.action is Action.STOP:
                raise TokenRefused(exc.outcome) from exc
            # The hint is a courtesy: readers can still react themselves.
            log.info("could not add %s to message %s: %s", emoji, message_id, exc.outcome.reason)

    async def _open_thread(self, thread: DueThread, paper: Paper) -> bool:
        """Open the thread of a post sent earlier. True to go on with the channel's work; False
        to stop draining it (paused, removed, postponed, or the row changed since it was read)."""
        channel_id = thread.channel_id
        access = self.sender.access(channel_id)
        missing = [*access.missing_to_post(), *access.missing_for_threads()] if access else []
        if missing:
            # Known from the gateway's permissions: skip a request that can only fail.
            await self.feed.record_forbidden(channel_id, missing)
            return False
        if not await self.feed.begin(thread):
            return False
        name = thread_name(paper.title)
        try:
            created = await self.request(
                lambda: self.sender.create_thread(channel_id, thread.message_id, name)
            )
        except SendFailed as exc:
            outcome = exc.outcome
            await self.feed.record_outcome(thread, outcome, missing=missing)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            return outcome.action is Action.DROP or (
                outcome.action is Action.RETRY and outcome.attempts is not None
            )
        await self.feed.record_thread_created(thread, created.id)
        return True

    async def _send_notice(self, notice: DueNotice) -> None:
        if not await self.feed.begin(notice):
            return  # dropped since it was read (unsubscribed, or resumed before a pause notice)
        try:
            message = await self.request(
                lambda: self.sender.notice(notice.channel_id, notice.body, notice.nonce)
            )
        except SendFailed as exc:
            # 403 included: a notice is sent "if possible", never forced.
            await self.feed.record_outcome(notice, exc.outcome)
            if exc.outcome.action is Action.STOP:
                raise TokenRefused(exc.outcome) from exc
        else:
            await self.feed.record_notice_sent(notice, message.id)

    async def _send_digest(self, digest: ChannelDigest, recent: RecentPosts) -> bool:
        """Post one digest (claimed first, like a post; a digest tried before is looked for
        among the channel's latest messages). False to stop draining the channel."""
        row = digest.row
        if not await self.feed.begin(row):
            return False  # unsubscribed, paused or sent since it was read
        try:
            found = await recent.find_digest(digest) if row.attempts > 0 else None
            if found is None:
                message = await self.request(
                    lambda: self.sender.digest(row.channel_id, digest, row.nonce)
                )
            else:
                log.info(
                    "the digest of %s was already posted to channel %s (message %s): recorded it",
                    row.day,
                    row.channel_id,
                    found.id,
                )
                message = found
        except SendFailed as exc:
            outcome = exc.outcome
            await self.feed.record_outcome(row, outcome)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            return outcome.action is Action.DROP
        except Exception as exc:  # rendering, a bug: this digest's problem alone
            retry_at = await self.feed.record_error(row, _error_text(exc))
            log.error(
                "could not send the digest of %s to channel %s; %s",
                row.day,
                row.channel_id,
                f"retrying at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "gave up on it",
                exc_info=exc,
            )
            return True
        await self.feed.record_notice_sent(row, message.id)
        return True

    # --- alert DMs ----------------------------------------------------------------------------

    async def _dispatch_dms(self) -> datetime | None:
        """Start a drain for each member with a DM due; when the next postponed one is due."""
        if self.alerts is None:
            return None
        due = await self.alerts.due_users()
        resting = self.cooldowns.resting(self.feed.clock())  # read after the await (see above)
        for user_id in due:
            if user_id not in self._dm_active and _dm_key(user_id) not in resting:
                self._dm_active[user_id] = asyncio.create_task(
                    self._drain_dms(user_id), name=f"papers-bot-dm-{user_id}"
                )
        resting_users = {
            int(key.removeprefix("dm:"))
            for key in resting
            if isinstance(key, str) and key.startswith("dm:")
        }
        return await self.alerts.next_due_at(busy=set(self._dm_active) | resting_users)

    async def _drain_dms(self, user_id: int) -> None:
        key = _dm_key(user_id)
        try:
            async with self._slots:
                await self._drain_member(user_id)
        except TokenRefused as exc:
            self._refuse(exc.outcome)
        except Exception:
            rest = self.cooldowns.failed(key, self.feed.clock())
            log.exception(
                "sending alert DMs to member %s failed; trying again in %ss",
                user_id,
                rest.total_seconds(),
            )
        else:
            self.cooldowns.succeeded(key)
        finally:
            self._dm_active.pop(user_id, None)
            self.wake()

    async def _drain_member(self, user_id: int) -> None:
        assert self.alerts is not None
        while not self.token_refused and (jobs := await self.alerts.due_dms(user_id)):
            for job in jobs:
                if self.token_refused or not await self._send_dm(job):
                    return  # paused, postponed or changed: the dispatcher looks again

    async def _send_dm(self, job: DmJob) -> bool:
        """Send one alert DM. True to go on with the member's next DM. A DM is sent with its
        nonce only (a DM channel has no feed posts to look back through)."""
        assert self.alerts is not None
        alerts, row = self.alerts, job.row
        if not await alerts.begin(row):
            return False
        try:
            message = await self.request(lambda: self.sender.dm(row.user_id, job.digest, row.nonce))
        except SendFailed as exc:
            await alerts.record_outcome(row, exc.outcome)
            if exc.outcome.action is Action.STOP:
                raise TokenRefused(exc.outcome) from exc
            return exc.outcome.action is Action.DROP
        except Exception as exc:  # rendering, a bug: this DM's problem alone
            error = _error_text(exc)
            retry_at = await alerts.record_error(row, error)
            log.error(
                "could not send alert DM %s to member %s (attempt %d): %s; %s",
                row.id,
                row.user_id,
                row.attempts + 1,
                error,
                f"retrying at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "gave up on it",
                exc_info=exc,
            )
            return True
        await alerts.record_sent(row, message.id)
        return True

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
        post = job.post
        try:
            await self.request(
                lambda: self.sender.edit(post.channel_id, post.message_id, job.paper, post.style)
            )
        except SendFailed as exc:
            outcome = exc.outcome
            await self.feed.record_edit_outcome(job, outcome)
            if outcome.action is Action.STOP:
                raise TokenRefused(outcome) from exc
            if outcome.action is not Action.REMOVE:
                log.info(
                    "could not refresh message %s: %s; trying again later",
                    post.message_id,
                    outcome.reason,
                )
        except Exception:
            log.exception(
                "could not refresh message %s (paper %s); trying again later",
                post.message_id,
                job.paper.id,
            )
            # The message still shows the old counts: note only the attempt, so it is tried
            # again after the usual interval, never in a tight loop.
            await self.feed.record_edit_failed(job)
        else:
            await self.feed.record_edited(job)
