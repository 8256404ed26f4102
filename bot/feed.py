"""Auto-posting: subscriptions, deciding deliveries after each poll, and recording how sends went.

One service serves both ``/feed`` and the delivery worker (``cogs/feed.py``). It knows papers and
channels by id, never Discord objects: the worker turns Discord's answers into the ``record_*``
calls below, and this module decides what they mean (retry, pause, remove, give up).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput, PaperBotError
from bot.feed_filters import (
    FeedFilter,
    PaperText,
    Verdict,
    check_min_upvotes,
    parse_keywords,
    parse_new_keywords,
)
from bot.ingest import IngestService, PollReport, PollStatus
from bot.metrics import process_name
from bot.models import CardStyle, Paper, SubscriptionMode
from bot.outcomes import Action, Outcome
from bot.shards import ShardSet
from bot.store.db import Database
from bot.store.feed import (
    CLAIM_FOR,
    DEFAULT_NAME,
    DeliveryState,
    DueDelivery,
    DueDigest,
    DueNotice,
    DueThread,
    OutboxItem,
    OutboxRepo,
    PlannedPost,
    Post,
    PostRepo,
    Subscription,
    SubscriptionRepo,
    SubscriptionStats,
    VolumeChange,
)
from bot.store.papers import PaperRepo
from bot.summarise import one_sentence
from bot.timezones import discord_timestamp

log = logging.getLogger(__name__)

# Hugging Face must fail this many polls in a row before channels hear about it (once).
OUTAGE_NOTICE_AFTER = 3
# Live upvotes: posts this recent are kept up to date, each at most this often.
EDIT_WINDOW = timedelta(days=2)
EDIT_MIN_INTERVAL = timedelta(minutes=30)
# A count changed "meaningfully" when it moved by at least this much and this fraction.
EDIT_MIN_DELTA = 2
EDIT_MIN_FRACTION = 0.10
# Transient failures (5xx, timeouts): retry after base × 4ⁿ, capped; never give up.
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
# A delivery that fails for a reason other than Discord's answer (rendering it raised, say) is
# retried with the same backoff, and dropped once this many attempts in all have been made.
MAX_ATTEMPTS_AFTER_ERROR = 5
# Discord's limit on a message nonce is 25 characters; 24 hex digits carry 96 random bits.
NONCE_BYTES = 12
# Discord's limit on a thread's name, and on the tags of one forum post.
THREAD_NAME_LIMIT = 100
FORUM_TAGS_LIMIT = 5
# Planning matches papers against every subscription on the event loop: it yields after this
# long, so commands and gateway heartbeats never wait on it.
PLAN_SLICE_SECONDS = 0.005
# Retention: sent and dropped deliveries are deleted once both they and their paper's latest
# listing are this old. Planning only looks at papers listed in the poll window (at most
# MAX_CATCH_UP_DAYS back), so such a paper is never planned, hence never posted, again; /feed list
# keeps counting them (delivery_history). Pruning runs at the first poll, then at most this often,
# in batches so commands and the worker write in between.
HISTORY_KEPT = timedelta(days=30)
PRUNE_EVERY = timedelta(hours=6)
PRUNE_BATCH = 2000

# Volume: a new subscription, or one resumed after a pause longer than LONG_PAUSE, posts at most
# FIRST_BATCH papers at once (the most upvoted); the others are not posted (/papers today lists
# them). A digest lists at most DIGEST_SIZE papers (or max_per_day, when set), looking back at
# most DIGEST_LOOK_BACK days for the latest listing day fetched whole.
FIRST_BATCH = 5
LONG_PAUSE = timedelta(hours=6)


def first_batch_skipped(first_batch: int) -> str:
    """Why a paper a first batch left out was not posted (shown by /feed preview)."""
    return (
        f"not posted: a subscription starts with its {first_batch} most upvoted papers at "
        "once; /papers today lists the others"
    )


MAX_PER_DAY_LIMIT = 100
DIGEST_SIZE = 10
DIGEST_LOOK_BACK = 7

Listener = Callable[[], None]
# The server's time zone (bot.guilds.GuildSettings.timezone).
ZoneLookup = Callable[[int], Awaitable[ZoneInfo]]
# Who holds the lease now (``bot.lease``), for /feed status.
LeaseHolder = Callable[[], Awaitable[str | None]]


async def this_process() -> str | None:
    """The lease holder when there is one process (and no lease row): this one."""
    return process_name()


async def utc_zone(guild_id: int) -> ZoneInfo:
    """The zone of every server when no lookup is given: UTC."""
    return ZoneInfo("UTC")


def parse_at(text: str) -> str:
    """``at`` of a digest, "HH:MM" (24-hour, "9:05" is fine); InvalidInput otherwise."""
    try:
        moment = clock_time.fromisoformat(text.strip().zfill(5))
    except ValueError:
        moment = None
    if moment is None or moment.second or moment.microsecond or moment.tzinfo:
        raise InvalidInput(
            f"`at` must be a time of day as HH:MM on a 24-hour clock (like 09:00 or 18:30), "
            f"not {text.strip()[:20]!r}."
        )
    return f"{moment:%H:%M}"


def volume_description(subscription: Subscription) -> str:
    """How much the subscription posts, in words (for /feed list, preview and subscribe)."""
    if subscription.digest:
        size = subscription.max_per_day or DIGEST_SIZE
        return f"one digest a day at {subscription.digest_at} (server time), top {size} papers"
    if subscription.max_per_day:
        return f"at most {subscription.max_per_day} posts per listing day, the most upvoted"
    return "every matching paper"


def new_nonce() -> str:
    """A random message nonce (24 hex characters; Discord allows 25)."""
    return secrets.token_hex(NONCE_BYTES)


class NotSubscribed(PaperBotError):
    """The channel has no subscription."""


class MissingChannelAccess(PaperBotError):
    """The bot cannot post embeds in the channel."""


class CannotMention(PaperBotError):
    """The role chosen for ``mention`` is one the bot cannot ping (or must never ping)."""


class AmbiguousSubscription(PaperBotError):
    """The channel has several subscriptions and the command did not say which one."""


class InvalidSubscriptionName(PaperBotError):
    """A subscription name that is empty, too long or made of other characters."""


_NOT_SUBSCRIBED = "<#{}> is not subscribed, so there is nothing to stop."

# Subscription names: short words for /feed list ("vision", "nlp-weekly").
NAME_MAX = 32
_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9 _-]*")


def normalise_name(name: str) -> str:
    """A subscription name as stored: lower case, spaces collapsed; raises
    InvalidSubscriptionName for anything but letters, digits, spaces, ``-`` and ``_``."""
    cleaned = " ".join(name.split()).lower()
    if not cleaned or len(cleaned) > NAME_MAX or not _NAME_PATTERN.fullmatch(cleaned):
        raise InvalidSubscriptionName(
            f"A subscription name is 1–{NAME_MAX} letters, digits, spaces, - or _ "
            "(for example `vision` or `nlp-weekly`). Choose another name and subscribe again."
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class RoleChoice:
    """The role picked for ``mention`` (read by the cog from Discord)."""

    id: int
    name: str
    mentionable: bool
    everyone: bool = False  # the guild's @everyone role


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """What the bot may do in a channel (read by the cog from Discord's permissions)."""

    view_channel: bool
    send_messages: bool
    embed_links: bool
    add_reactions: bool = True
    read_message_history: bool = True
    # Discord's "Mention @everyone, @here, and All Roles": lets the bot ping roles that are
    # not mentionable. (Posts never ping @everyone: their allowed mentions list the roles.)
    mention_everyone: bool = False
    create_public_threads: bool = True
    send_messages_in_threads: bool = True

    def missing_to_post(self) -> list[str]:
        """Permission names (as Discord shows them) needed to post embeds and not held."""
        needed = {
            "View Channel": self.view_channel,
            "Send Messages": self.send_messages,
            "Embed Links": self.embed_links,
        }
        return [name for name, held in needed.items() if not held]

    def missing_for_threads(self) -> list[str]:
        """Permission names needed to open a thread on a post (and for members' replies to
        reach it as the bot's thread), not held."""
        needed = {
            "Create Public Threads": self.create_public_threads,
            "Send Messages in Threads": self.send_messages_in_threads,
        }
        return [name for name, held in needed.items() if not held]

    @property
    def can_react(self) -> bool:
        return self.add_reactions and self.read_message_history


def feed_filter(subscription: Subscription) -> FeedFilter:
    """The filter a stored subscription applies."""
    return _filter(subscription.keywords, subscription.min_upvotes)


@lru_cache(maxsize=1024)
def _filter(keywords: str, min_upvotes: int) -> FeedFilter:
    include, exclude = parse_keywords(keywords)
    return FeedFilter(min_upvotes=min_upvotes, include=include, exclude=exclude)


def explain(subscription: Subscription, paper: Paper | PaperText) -> Verdict:
    """Whether ``subscription`` should receive ``paper``, and why (or why not).

    A filter that blocks is named first; a paper the filters accept is still not delivered when
    it was listed before the subscription started (no history flood).
    """
    verdict = feed_filter(subscription).explain(paper)
    listed = (paper.paper if isinstance(paper, PaperText) else paper).latest_listing
    if verdict.passed and (listed is None or listed < subscription.since_day):
        when = f"listed {listed}" if listed else "not listed"
        return Verdict(
            False, f"{when}, before this subscription started ({subscription.since_day})"
        )
    return verdict


def wants(subscription: Subscription, paper: PaperText) -> bool:
    """``explain(subscription, paper).passed``, as cheaply as possible (the planning path)."""
    listed = paper.listed
    if listed is None or listed < subscription.since_day:
        return False
    return feed_filter(subscription).matches(paper)


def mentions_for(subscriptions: Iterable[Subscription], paper: Paper) -> tuple[int, ...]:
    """The roles a post of ``paper`` pings: those of the channel's subscriptions that want it
    now (decided when sending, so the filters of then win over those it was queued under)."""
    text = PaperText.of(paper)
    roles = {
        subscription.mention_role_id
        for subscription in subscriptions
        if subscription.mention_role_id is not None and wants(subscription, text)
    }
    return tuple(sorted(roles))


def style_for(
    subscriptions: Iterable[Subscription], paper: Paper, fallback: CardStyle
) -> CardStyle:
    """The card a post of ``paper`` shows: the full one if any of the channel's subscriptions
    that want it asks for it, else the compact one; ``fallback`` when none wants it now."""
    text = PaperText.of(paper)
    styles = {subscription.style for subscription in subscriptions if wants(subscription, text)}
    if not styles:
        return fallback
    return "full" if "full" in styles else "compact"


def _by_upvotes(text: PaperText) -> tuple[int, str]:
    return (-text.paper.upvotes, text.paper.id)


def top_of_each_day(texts: Iterable[PaperText], count: int) -> list[PaperText]:
    """The ``count`` most upvoted of each listing day (ties: by id), most upvoted first."""
    days: dict[date | None, list[PaperText]] = {}
    for text in texts:
        days.setdefault(text.listed, []).append(text)
    return sorted(
        (text for day in days.values() for text in sorted(day, key=_by_upvotes)[:count]),
        key=_by_upvotes,
    )


@dataclass(frozen=True, slots=True)
class Planned:
    """What one planning queued, and how many papers a first batch left out."""

    queued: int = 0
    held_back: int = 0


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """What a digest row holds (its ``body``): the listing day it covers, the papers chosen
    when it was queued (most upvoted first), how many matched, and the filters applied."""

    covers: date
    paper_ids: tuple[str, ...]
    matched: int
    filters: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "covers": self.covers.isoformat(),
                "papers": list(self.paper_ids),
                "matched": self.matched,
                "filters": self.filters,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> DigestPlan:
        data = json.loads(text)
        return cls(
            covers=date.fromisoformat(data["covers"]),
            paper_ids=tuple(data["papers"]),
            matched=int(data["matched"]),
            filters=str(data["filters"]),
        )


@dataclass(frozen=True, slots=True)
class ChannelDigest:
    """A digest ready to send: the local day it is for, what it covers, its papers each with
    one sentence (upvotes as now)."""

    row: DueDigest
    plan: DigestPlan
    entries: tuple[tuple[Paper, str], ...]

    @property
    def day(self) -> date:
        return self.row.day


def thread_name(title: str) -> str:
    """A thread's name for a paper: its title on one line, cut to Discord's 100 characters
    (names are plain text, so nothing is escaped)."""
    name = " ".join(title.split()) or "Paper"
    if len(name) <= THREAD_NAME_LIMIT:
        return name
    return name[: THREAD_NAME_LIMIT - 1].rstrip() + "…"


def _tag_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def forum_tags(available: Sequence[str], paper: Paper, keywords: str) -> list[str]:
    """The forum's own tags a forum post of ``paper`` gets: at most 5, in this order of
    preference: the subscription's keywords that the paper matches, then the paper's Hugging
    Face keywords (in their order), each applied when a tag has the same name, ignoring case
    and spacing. ``available``: the tags the bot may apply (not moderated ones)."""
    by_key = {_tag_key(name): name for name in reversed(available)}  # the first of equal names
    text = PaperText.of(paper)
    include, _ = parse_keywords(keywords)
    wanted = [term for term in include if text.mentions(term)] + list(paper.ai_keywords)
    chosen: list[str] = []
    for term in wanted:
        tag = by_key.get(_tag_key(term))
        if tag is not None and tag not in chosen:
            chosen.append(tag)
            if len(chosen) == FORUM_TAGS_LIMIT:
                break
    return chosen


def changed_meaningfully(shown: int, current: int) -> bool:
    """True when a shown count is worth an edit: moved by ≥ 2 and by ≥ 10 %."""
    delta = abs(current - shown)
    return delta >= EDIT_MIN_DELTA and delta >= EDIT_MIN_FRACTION * shown


def retry_delay(attempts: int, base: timedelta = RETRY_BASE) -> timedelta:
    """Backoff after the ``attempts``-th failed attempt: base, 4×base, 16×base… capped."""
    factor: int = 4 ** min(max(attempts - 1, 0), 8)
    return min(base * factor, RETRY_CAP)


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    """What ``/feed subscribe`` did, for its answer."""

    subscription: Subscription
    previous: Subscription | None  # None: a new subscription
    filter: FeedFilter
    waiting: int  # papers queued for the channel now (new ones and ones waiting already)
    can_react: bool
    # Why the channel had been paused, when this subscribe resumed it (any of its
    # subscriptions resumes them all).
    resumed_from: str | None = None
    # Papers left for /papers today because a new (or long-paused) subscription posts at most
    # FIRST_BATCH at once.
    held_back: int = 0
    first_batch: int = FIRST_BATCH

    @property
    def created(self) -> bool:
        return self.previous is None

    @property
    def resumed(self) -> bool:
        """The channel was paused (Discord refused to post) and now posts again."""
        return self.resumed_from is not None or (self.previous is not None and self.previous.paused)

    @property
    def changed(self) -> bool:
        """An existing subscription got different filters, card style or role to ping."""
        previous, current = self.previous, self.subscription
        return previous is not None and (
            previous.min_upvotes,
            previous.keywords,
            previous.volume,
            previous.style,
            previous.thread,
            previous.mention_role_id,
        ) != (
            current.min_upvotes,
            current.keywords,
            current.volume,
            current.style,
            current.thread,
            current.mention_role_id,
        )


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """What ``/feed status`` shows for one server."""

    poll: PollStatus
    papers_stored: int
    subscriptions: int
    pending: int
    paused: tuple[Subscription, ...]
    outage_announced: bool
    # The process holding the lease (hostname:pid:random), which polls and queues digests; None
    # while nobody does (a holder died and another has not taken over yet).
    process: str | None = None


@dataclass(frozen=True, slots=True)
class PreviewEntry:
    paper: Paper
    verdict: Verdict
    delivery: DeliveryState | None = None  # None: never queued for this channel

    @property
    def state(self) -> str | None:
        """'sent', 'pending' or 'dropped' once queued; None before."""
        return self.delivery.state if self.delivery else None


@dataclass(frozen=True, slots=True)
class Preview:
    """One day's papers for a subscription, each in exactly one group: already posted, would
    be posted (queued, or passing the filters), dropped (given up on), or blocked by a filter."""

    subscription: Subscription
    filter: FeedFilter
    day: date
    entries: tuple[PreviewEntry, ...]

    @property
    def paused(self) -> bool:
        return self.subscription.paused

    @property
    def posted(self) -> tuple[PreviewEntry, ...]:
        return tuple(entry for entry in self.entries if entry.state == "sent")

    @property
    def would_post(self) -> tuple[PreviewEntry, ...]:
        """Queued (an attempted delivery stays queued even if the filters changed since), or
        passing the filters and not queued yet."""
        return tuple(
            entry
            for entry in self.entries
            if entry.state == "pending" or (entry.state is None and entry.verdict.passed)
        )

    @property
    def dropped(self) -> tuple[PreviewEntry, ...]:
        return tuple(entry for entry in self.entries if entry.state == "dropped")

    @property
    def blocked(self) -> tuple[PreviewEntry, ...]:
        return tuple(
            entry for entry in self.entries if entry.state is None and not entry.verdict.passed
        )


@dataclass(frozen=True, slots=True)
class Outbox:
    """What one channel should receive now: notices first, then papers by upvotes."""

    notices: tuple[DueNotice, ...] = ()
    deliveries: tuple[tuple[DueDelivery, Paper], ...] = ()
    digests: tuple[ChannelDigest, ...] = ()
    # Threads to open on posts already sent, each with its paper (for the name).
    threads: tuple[tuple[DueThread, Paper], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.notices or self.deliveries or self.digests or self.threads)


@dataclass(frozen=True, slots=True)
class EditJob:
    """A posted message whose upvotes or comments are worth refreshing."""

    post: Post
    paper: Paper


class FeedService:
    """Subscriptions, the outbox and the bookkeeping of sends, shared by commands and worker."""

    def __init__(
        self,
        *,
        subscriptions: SubscriptionRepo,
        outbox: OutboxRepo,
        posts: PostRepo,
        papers: PaperRepo,
        ingest: IngestService,
        clock: Callable[[], datetime],
        retry_base: timedelta = RETRY_BASE,
        nonce: Callable[[], str] = new_nonce,
        zone: ZoneLookup = utc_zone,
        first_batch: int = FIRST_BATCH,
        lease_holder: LeaseHolder = this_process,
    ) -> None:
        self.subscriptions = subscriptions
        self.outbox = outbox
        self.posts = posts
        self.papers = papers
        self.ingest = ingest
        self.clock = clock
        self._pruned_at: datetime | None = None  # None: not yet since start
        self.retry_base = retry_base
        self.nonce = nonce
        self.zone = zone
        self.first_batch = first_batch
        self.lease_holder = lease_holder
        # When the next digest falls due, as the last full look found (None: look again).
        self._next_digest: datetime | None = None
        self._listeners: list[Listener] = []

    @classmethod
    def open(
        cls,
        db: Database,
        papers: PaperRepo,
        ingest: IngestService,
        *,
        clock: Callable[[], datetime],
        zone: ZoneLookup = utc_zone,
        first_batch: int = FIRST_BATCH,
        lease_holder: LeaseHolder = this_process,
        claimer: str | None = None,
        shards: ShardSet | None = None,
        claim_for: timedelta = CLAIM_FOR,
    ) -> FeedService:
        """Build the service and its repositories on ``db``; ``zone`` gives a server's time
        zone (digests are posted at their time there). ``claimer`` names this process in the
        outbox's claims (default ``hostname:pid``); ``shards``: send only to channels of these
        shards' guilds (None: every channel, one process); a claim lasts ``claim_for``."""
        return cls(
            subscriptions=SubscriptionRepo(db),
            outbox=OutboxRepo(db, claimer=claimer, shards=shards, clock=clock, claim_for=claim_for),
            posts=PostRepo(db),
            papers=papers,
            ingest=ingest,
            clock=clock,
            zone=zone,
            first_batch=first_batch,
            lease_holder=lease_holder,
        )

    # --- wiring -------------------------------------------------------------------------------

    def on_outbox_change(self, listener: Listener) -> None:
        """Call ``listener`` (synchronously) whenever new work may be due (the worker's wake-up)."""
        self._listeners.append(listener)

    def remove_outbox_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (a worker that stopped); no-op if it was not listening."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def today(self) -> date:
        return self.ingest.today()

    # --- commands -----------------------------------------------------------------------------

    async def subscribe(
        self,
        *,
        channel_id: int,
        guild_id: int,
        access: ChannelAccess,
        min_upvotes: int | None = None,
        keywords: str | None = None,
        created_by: int | None = None,
        name: str | None = None,
        mention: RoleChoice | None = None,
        clear_mention: bool = False,
        max_per_day: int | None = None,
        mode: SubscriptionMode | None = None,
        at: str | None = None,
        style: CardStyle | None = None,
        thread: bool | None = None,
        forum: bool = False,
    ) -> SubscribeResult:
        """Subscribe a channel, or update one of its subscriptions, and resume the channel when
        paused. Refuses if the bot cannot post there (or, with threads or in a forum, open and
        post in a thread there), or cannot ping ``mention``. ``forum``: the channel is a forum,
        where each paper becomes a forum post.

        ``name`` picks the subscription (see ``resolve_name``: omitted, the channel's only one,
        or ``default``). An omitted (None) option keeps the stored value; ``keywords="*"``
        clears the keywords, ``min_upvotes=0`` the upvote bar and ``clear_mention`` the role.
        ``style`` (compact by default) is how later posts show each paper; posts already made
        keep theirs. A new subscription starts today: it receives today's matching papers and
        later ones, never the back catalogue.
        ``max_per_day=0`` clears the daily cap. ``mode="digest"`` posts one digest a day at
        ``at`` (HH:MM, the server's time; 09:00 when never given) instead of one post per paper.
        A new subscription receives at most ``first_batch`` of today's and yesterday's matching
        papers at once (the most upvoted; the others are never posted); so does one resumed
        after a pause longer than LONG_PAUSE.
        """
        missing = access.missing_to_post()
        if missing:
            raise _missing(channel_id, "post papers", missing)
        if mention is not None and clear_mention:
            raise CannotMention(
                "Choose either `mention` (a role to ping) or `clear_mention: True` (no role), "
                "not both, and subscribe again."
            )
        if mention is not None:
            _check_mentionable(mention, access, channel_id)
        chosen = await self.resolve_name(channel_id, name, creating=True)
        if forum:
            if missing := access.missing_for_threads():
                raise _missing(channel_id, "create forum posts", missing)
        else:
            if thread is None:
                current = await self.subscriptions.get(channel_id, chosen)
                wants_threads = current is not None and current.thread
            else:
                wants_threads = thread
            if wants_threads and (missing := access.missing_for_threads()):
                raise _missing(channel_id, "open a thread on each paper", missing)
        if forum and mode == "digest":
            raise InvalidInput(
                "A digest is one message in a text channel: pick a text channel for "
                "`mode: digest`, or leave the mode out for one forum post per paper."
            )
        if max_per_day is not None and not 0 <= max_per_day <= MAX_PER_DAY_LIMIT:
            raise InvalidInput(
                f"`max_per_day` must be between 1 and {MAX_PER_DAY_LIMIT} (0 removes the cap)."
            )
        now = self.clock()
        saved = await self.subscriptions.save(
            channel_id=channel_id,
            guild_id=guild_id,
            min_upvotes=None if min_upvotes is None else check_min_upvotes(min_upvotes),
            keywords=None if keywords is None else parse_new_keywords(keywords),
            since_day=self.today(),
            created_by=created_by,
            now=now,
            name=chosen,
            mention_role_id=None if mention is None else mention.id,
            clear_mention=clear_mention,
            style=style,
            thread=thread,
            forum=forum,
            volume=VolumeChange(
                max_per_day=max_per_day,
                mode=mode,
                digest_at=None if at is None else parse_at(at),
                first_batch=self.first_batch,
                long_pause=LONG_PAUSE,
                skip_reason=first_batch_skipped(self.first_batch),
            ),
        )
        subscription = saved.subscription
        previous = saved.previous
        # A new subscription, or one back from a long pause, starts with a handful.
        # (Switching from a digest to posts is a new start too.)
        fresh = (
            previous is None
            or (previous.digest and not subscription.digest)
            or (
                previous.paused
                and previous.paused_at is not None
                and now - previous.paused_at > LONG_PAUSE
            )
        )
        first_batch = None
        if fresh:
            waiting = await self.outbox.pending_for_channel(channel_id)
            first_batch = max(self.first_batch - waiting, 0)
        # Today's and yesterday's papers, and those whose deliveries the old filters had queued.
        candidates = await self._recent_papers()
        known = {paper.id for paper in candidates}
        forgotten = [paper_id for paper_id in saved.forgotten if paper_id not in known]
        candidates += (await self.papers.get_many(forgotten)).values()
        planned = await self._plan(
            candidates,
            only=await self.subscriptions.for_channel(channel_id),
            first_batch=first_batch,
        )
        result = SubscribeResult(
            subscription=subscription,
            previous=previous,
            filter=feed_filter(subscription),
            waiting=await self.outbox.pending_for_channel(channel_id),
            can_react=access.can_react,
            resumed_from=saved.resumed_from,
            held_back=planned.held_back,
            first_batch=self.first_batch,
        )
        log.info(
            "%s subscription %r for channel %s: %s; %s",
            "new" if result.created else "resumed" if result.resumed else "updated",
            subscription.name,
            channel_id,
            result.filter.describe(),
            volume_description(subscription),
        )
        if result.resumed:
            self._notify()  # papers that waited while paused are due again
        # Digest mode, its time, or a pause may have changed: look again.
        await self.schedule_digests()
        return result

    async def resolve_name(
        self, channel_id: int, name: str | None, *, creating: bool = False
    ) -> str:
        """The subscription a command means. A given name is normalised (and, unless
        ``creating``, must exist). Omitted: the channel's only subscription; ``default`` when
        subscribing a channel that has none; otherwise AmbiguousSubscription (or NotSubscribed)
        saying which names exist."""
        existing = [item.name for item in await self.subscriptions.for_channel(channel_id)]
        if name is not None:
            chosen = normalise_name(name)
            if creating or chosen in existing:
                return chosen
            if not existing:
                raise NotSubscribed(_NOT_SUBSCRIBED.format(channel_id))
            raise NotSubscribed(
                f"<#{channel_id}> has no subscription called `{chosen}`; it has "
                f"{_names(existing)}. Run the command again with one of those names."
            )
        if len(existing) == 1:
            return existing[0]
        if not existing:
            if creating:
                return DEFAULT_NAME
            raise NotSubscribed(_NOT_SUBSCRIBED.format(channel_id))
        raise AmbiguousSubscription(
            f"<#{channel_id}> has {len(existing)} subscriptions: {_names(existing)}. "
            "Say which one with the `name` option and run the command again."
        )

    async def unsubscribe(self, channel_id: int, name: str | None = None) -> str:
        """Remove one of the channel's subscriptions (``name``, or its only one); returns the
        name removed. Raises NotSubscribed if there is none, AmbiguousSubscription if the
        channel has several and ``name`` is None. The channel's other subscriptions go on:
        papers queued only for the removed one are forgotten unless they were attempted."""
        if name is None and not await self.subscriptions.for_channel(channel_id):
            raise NotSubscribed(_NOT_SUBSCRIBED.format(channel_id))
        chosen = await self.resolve_name(channel_id, name)
        forgotten = await self.subscriptions.remove(channel_id, chosen)
        if forgotten is None:
            raise NotSubscribed(_NOT_SUBSCRIBED.format(channel_id))
        remaining = await self.subscriptions.for_channel(channel_id)
        if remaining and forgotten:
            await self._plan((await self.papers.get_many(forgotten)).values(), only=remaining)
        log.info("channel %s unsubscribed %r", channel_id, chosen)
        return chosen

    async def list_for_guild(self, guild_id: int) -> list[SubscriptionStats]:
        """The server's subscriptions with their filters, state and counts."""
        return await self.subscriptions.stats_for_guild(guild_id)

    async def status(self, guild_id: int) -> FeedStatus:
        """Polling health, stored papers, the server's pending deliveries and paused channels."""
        stats = await self.subscriptions.stats_for_guild(guild_id)
        return FeedStatus(
            poll=await self.ingest.status(),
            papers_stored=await self.papers.count(),
            subscriptions=len({item.subscription.channel_id for item in stats}),
            # Counts and pauses are the channel's, shared by its subscriptions.
            pending=sum({item.subscription.channel_id: item.pending for item in stats}.values()),
            paused=tuple(
                {
                    item.subscription.channel_id: item.subscription
                    for item in stats
                    if item.subscription.paused
                }.values()
            ),
            outage_announced=await self.outbox.outage_notified(),
            process=await self.lease_holder(),
        )

    async def preview(
        self, channel_id: int, *, day: date | None = None, name: str | None = None
    ) -> Preview:
        """Today's papers (or ``day``'s; the latest listed day when today is empty) for one of
        the channel's subscriptions (``name``, or its only one): which it would receive and,
        for the others, which filter blocks them. (Posts are the channel's: a paper another
        subscription of the channel queued shows as queued.)"""
        if not await self.subscriptions.for_channel(channel_id):
            raise NotSubscribed(
                f"<#{channel_id}> is not subscribed: use `/feed subscribe` first, "
                "then preview what it would receive."
            )
        subscription = await self.subscriptions.get(
            channel_id, await self.resolve_name(channel_id, name)
        )
        if subscription is None:  # removed this very moment
            raise NotSubscribed(f"<#{channel_id}> is no longer subscribed.")
        shown_day = day or self.today()
        papers = await self.papers.papers_listed_on(shown_day)
        if not papers and day is None:
            # Weekends and early mornings are empty: show the latest day fetched with papers.
            latest = await self.papers.latest_listing_day()
            if latest is not None:
                shown_day = latest
                papers = await self.papers.papers_listed_on(latest)
        states = await self.outbox.states_for(channel_id, [paper.id for paper in papers])
        verdicts = {paper.id: explain(subscription, PaperText.of(paper)) for paper in papers}
        cap = subscription.max_per_day
        if subscription.digest:
            when = f"goes in the digest at {subscription.digest_at} (server time)"
            verdicts = {
                paper_id: Verdict(True, when) if verdict.passed else verdict
                for paper_id, verdict in verdicts.items()
            }
        elif cap is not None:
            # The day's top N among the papers passing the filters, and the day's cap so far.
            passing = [PaperText.of(p) for p in papers if verdicts[p.id].passed]
            top = {text.paper.id for text in top_of_each_day(passing, cap)}
            counted = await self.outbox.posts_for_day(channel_id, shown_day)
            for paper in papers:
                if paper.id in states or not verdicts[paper.id].passed:
                    continue
                if counted >= cap:
                    verdicts[paper.id] = Verdict(
                        False,
                        f"day's cap of {cap} reached: {counted} posted or on their way for "
                        f"{shown_day}",
                    )
                elif paper.id not in top:
                    verdicts[paper.id] = Verdict(
                        False, f"not among the day's {cap} most upvoted (max_per_day {cap})"
                    )
        entries = tuple(
            PreviewEntry(paper, verdicts[paper.id], states.get(paper.id)) for paper in papers
        )
        return Preview(subscription, feed_filter(subscription), shown_day, entries)

    # --- after each poll ----------------------------------------------------------------------

    async def on_poll(self, report: PollReport) -> None:
        """The poller hook: queue deliveries for the poll window; announce outages once.

        The store decides, not what this poll changed: every paper listed on a day of the
        window (the days this poll covered, catch-up days included, and always yesterday and
        today) is planned, whoever stored it (this poll, ``python -m bot fetch`` beside the
        bot, an on-demand fetch). The outbox keeps each (channel, paper) to one post.
        """
        today = self.today()
        window = {polled.day for polled in report.days} | {today - timedelta(days=1), today}
        # Nothing is remembered between polls: matching the whole window costs ~0.1 s at 300
        # subscriptions (bench/feed_plan.py), and the outbox says what is queued already.
        await self._plan(await self.papers.papers_listed_in(window))
        await self.schedule_digests()
        await self._announce_outage(report)
        self._notify()  # upvotes may have moved: the worker looks for posts to refresh

    async def _recent_papers(self) -> list[Paper]:
        """Papers listed yesterday or today, each once."""
        today = self.today()
        return await self.papers.papers_listed_in([today - timedelta(days=1), today])

    async def _plan(
        self,
        papers: Iterable[Paper],
        *,
        only: Sequence[Subscription] | None = None,
        first_batch: int | None = None,
    ) -> Planned:
        """Queue a delivery for each (subscription, paper) that should have one and has none.

        Matching is pure and done first, outside any transaction, with each paper's text
        normalised once for every subscription; the rows are then inserted in one short
        transaction that skips subscriptions removed or changed meanwhile, and keeps each
        capped channel to its ``max_per_day`` posts per listing day. Digest subscriptions get
        no posts. With ``first_batch`` (one subscription), only that many of the most upvoted
        are queued; the others are recorded as not posted, so they never come later.
        """
        texts = [PaperText.of(paper) for paper in {paper.id: paper for paper in papers}.values()]
        if not texts:
            return Planned()
        subscriptions = list(only) if only is not None else await self.subscriptions.all()
        subscriptions = [subscription for subscription in subscriptions if not subscription.digest]
        if not subscriptions:
            return Planned()
        channels = {subscription.channel_id for subscription in subscriptions}
        queued = await self.outbox.queued(
            [text.paper.id for text in texts],
            channel_id=next(iter(channels)) if len(channels) == 1 else None,
        )
        decisions: list[PlannedPost] = []
        slice_started = time.perf_counter()
        for subscription in subscriptions:
            channel = subscription.channel_id
            passing = [text for text in texts if wants(subscription, text)]
            if subscription.max_per_day is not None:
                passing = top_of_each_day(passing, subscription.max_per_day)
            for text in sorted(passing, key=_by_upvotes):
                key = (channel, text.paper.id)
                if key not in queued:
                    # One post per (channel, paper), however many subscriptions want it.
                    queued.add(key)
                    decisions.append((subscription, text.paper.id, text.listed))
            if time.perf_counter() - slice_started > PLAN_SLICE_SECONDS:
                await asyncio.sleep(0)  # let commands and heartbeats run
                slice_started = time.perf_counter()
        skipped: list[PlannedPost] = []
        if first_batch is not None:
            decisions, skipped = decisions[:first_batch], decisions[first_batch:]
        planned = await self.outbox.queue_posts(
            decisions,
            now=self.clock(),
            nonce=self.nonce,
            skipped=skipped,
            skip_reason=first_batch_skipped(self.first_batch),
        )
        if planned:
            log.info("queued %d deliveries", planned)
            self._notify()
        if skipped:
            log.info("held back %d papers of a new subscription's first batch", len(skipped))
        return Planned(queued=planned, held_back=len(skipped))

    # --- digests ------------------------------------------------------------------------------

    async def schedule_digests(self) -> datetime | None:
        """Queue each digest subscription's digest for the server's local day once its time
        has passed there (once per channel and day: the outbox's unique index); returns when
        the next one falls due (UTC), or None when no channel takes digests.

        Called after each poll, by the engine whenever it looks for work, and on subscribing.
        Missed days are not made up: after a long outage only the current day's digest comes.
        """
        now = self.clock()
        next_due: datetime | None = None
        queued = 0
        for subscription in await self.subscriptions.digests():
            zone = await self.zone(subscription.guild_id)
            local = now.astimezone(zone)
            at = clock_time.fromisoformat(subscription.digest_at or "09:00")
            due = datetime.combine(local.date(), at, tzinfo=zone)
            if local >= due:
                if await self._queue_digest(subscription, local.date()):
                    queued += 1
                due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
            moment = due.astimezone(UTC)
            next_due = moment if next_due is None else min(next_due, moment)
        self._next_digest = next_due
        if queued:
            log.info("queued %d digests", queued)
            self._notify()
        return next_due

    async def next_digest_at(self) -> datetime | None:
        """``schedule_digests``, but only once the next known digest falls due (the engine asks
        whenever it looks for work; a poll, a subscription or a due digest looks again)."""
        if self._next_digest is not None and self.clock() < self._next_digest:
            return self._next_digest
        return await self.schedule_digests()

    async def settled_day_before(self, day: date) -> date | None:
        """The latest listing day before ``day`` fetched whole (None within DIGEST_LOOK_BACK)."""
        for back in range(1, DIGEST_LOOK_BACK + 1):
            candidate = day - timedelta(days=back)
            listing = await self.papers.listing_day(candidate)
            if listing is not None and listing.whole:
                return candidate
        return None

    async def _queue_digest(self, subscription: Subscription, day: date) -> bool:
        if await self.outbox.has_digest(subscription.channel_id, day):
            return False
        covers = await self.settled_day_before(day)
        if covers is None:
            return False  # nothing settled yet: the next poll tries again
        matching = [
            paper
            for paper in await self.papers.papers_listed_on(covers)
            if feed_filter(subscription).matches(PaperText.of(paper))
        ]
        matching.sort(key=lambda paper: (-paper.upvotes, paper.id))
        chosen = matching[: subscription.max_per_day or DIGEST_SIZE]
        plan = DigestPlan(
            covers=covers,
            paper_ids=tuple(paper.id for paper in chosen),
            matched=len(matching),
            filters=feed_filter(subscription).describe(),
        )
        return await self.outbox.queue_digest(
            subscription, day, plan.to_json(), now=self.clock(), nonce=self.nonce
        )

    async def _announce_outage(self, report: PollReport) -> None:
        if report.ok:
            if not await self.outbox.outage_notified():
                return
            queued = await self.outbox.announce_outage(
                False,
                kind="recovered",
                body="✅ Hugging Face answers again: papers listed meanwhile are on their way.",
                now=self.clock(),
                nonce=self.nonce,
            )
        else:
            status = await self.ingest.status()
            if status.consecutive_failures < OUTAGE_NOTICE_AFTER:
                return
            since = status.last_success_at
            queued = await self.outbox.announce_outage(
                True,
                kind="outage",
                body=(
                    "⚠️ I can't reach Hugging Face "
                    + (f"(no answer since {discord_timestamp(since)})" if since else "right now")
                    + f": the last {status.consecutive_failures} polls failed. New papers will be "
                    "posted here as soon as it answers again; no need to do anything."
                ),
                now=self.clock(),
                nonce=self.nonce,
            )
        if queued:
            log.info(
                "queued %d Hugging Face %s notices",
                queued,
                "outage" if report.error else "recovery",
            )
            self._notify()

    # --- the delivery worker ------------------------------------------------------------------

    async def due_channels(self) -> list[int]:
        """Channels that have something to send now."""
        return await self.outbox.due_channels(self.clock())

    async def next_due_at(self, *, busy: Collection[int] = ()) -> datetime | None:
        """When the earliest postponed send falls due, leaving out the ``busy`` channels (the
        worker is sending to them now)."""
        return await self.outbox.next_due_at(busy=busy)

    async def outbox_for(self, channel_id: int, *, limit: int = 10) -> Outbox:
        """The channel's due notices, digests and (up to ``limit``) deliveries with their
        papers."""
        now = self.clock()
        notices = await self.outbox.due_notices(channel_id, now)
        due = await self.outbox.due_posts(channel_id, now, limit=limit)
        digests = await self.outbox.due_digests(channel_id, now)
        plans = [DigestPlan.from_json(row.body) for row in digests]
        threads = await self.outbox.due_threads(channel_id, now)
        papers = await self.papers.get_many(
            [item.paper_id for item in due]
            + [item.paper_id for item in threads]
            + [paper_id for plan in plans for paper_id in plan.paper_ids]
        )
        subscriptions = await self.subscriptions.for_channel(channel_id) if due else []
        return Outbox(
            notices=tuple(notices),
            deliveries=tuple(
                (
                    replace(
                        item,
                        mentions=mentions_for(subscriptions, paper),
                        style=style_for(subscriptions, paper, item.style),
                    ),
                    paper,
                )
                for item in due
                if (paper := papers.get(item.paper_id)) is not None
            ),
            digests=tuple(
                ChannelDigest(
                    row,
                    plan,
                    tuple(
                        (papers[paper_id], one_sentence(papers[paper_id]))
                        for paper_id in plan.paper_ids
                        if paper_id in papers
                    ),
                )
                for row, plan in zip(digests, plans, strict=True)
            ),
            threads=tuple(
                (item, papers[item.paper_id]) for item in threads if item.paper_id in papers
            ),
        )

    async def begin(self, item: OutboxItem) -> bool:
        """Claim an outbox row right before sending it: a crash after this leaves it marked
        "maybe sent".

        False when it is no longer to be sent as it was read (its channel was unsubscribed or
        paused, its filters changed, a pause notice outlived by a resume, or it was sent): then
        do not send.
        """
        return await self.outbox.claim(item)

    async def release_claims(self) -> None:
        """At the engine's start and stop: forget the claims a crashed or stopped run left (on
        SQLite, where one process runs, all of them; on PostgreSQL this process's), so their
        rows are sent again at once, not when the claims expire. Their attempts stay counted
        ("maybe sent")."""
        released = await self.outbox.release_claims()
        if released:
            log.info("released %d outbox claims left by an earlier run", released)

    async def record_sent(
        self,
        delivery: DueDelivery,
        paper: Paper,
        message_id: int,
        *,
        message_channel_id: int | None = None,
    ) -> None:
        """Discord accepted the post: remember its message (and what counts it shows), and
        ``message_channel_id``, the thread it is in when it is a forum post."""
        await self.outbox.mark_posted(
            delivery,
            message_id=message_id,
            message_channel_id=message_channel_id,
            upvotes=paper.upvotes,
            comments=paper.num_comments,
            now=self.clock(),
            nonce=self.nonce,
        )

    async def record_notice_sent(self, notice: DueNotice | DueDigest, message_id: int) -> None:
        """Discord accepted the notice (or digest): remember its message."""
        await self.outbox.mark_sent(notice, message_id=message_id, now=self.clock())

    async def record_thread_created(self, thread: DueThread, thread_id: int) -> None:
        """The post's thread exists (created now, or earlier: Discord said so): remember it."""
        await self.outbox.mark_sent(thread, message_id=thread_id, now=self.clock())

    async def record_outcome(
        self, item: OutboxItem, outcome: Outcome, *, missing: Sequence[str] = ()
    ) -> datetime | None:
        """Record how a claimed row's send went, anything but sent (``record_sent`` needs the
        message): the one policy of every kind. STOP leaves it pending as if it had not been
        tried; RETRY retries it later with backoff, or drops it once ``Outcome.attempts`` were
        made; DROP gives up on it. PAUSE and REMOVE are about the channel: a post pauses or
        removes its subscription (``missing``: the permissions the gateway says the bot lacks
        there, for the pause notice), while a notice, best effort, is dropped (and a channel
        that is gone loses its subscription too). Returns when it is retried, or None.
        """
        notice = isinstance(item, DueNotice)
        match outcome.action:
            case Action.STOP:
                # Discord refused the request itself: nothing was created, so the attempt is
                # not counted (attempts > 0 would mean "maybe sent").
                await self.outbox.release(item)
            case Action.PAUSE if notice:
                await self.outbox.drop(item, error=outcome.reason)
            case Action.PAUSE:
                await self.record_forbidden(item.channel_id, missing)
            case Action.REMOVE:
                if notice:
                    await self.outbox.drop(item, error=outcome.reason)
                await self.record_channel_gone(item.channel_id)
            case Action.DROP:
                await self.outbox.drop(item, error=outcome.reason)
                log.error("Discord rejected %s: %s", _describe(item), outcome.reason)
            case Action.RETRY:
                at = await self._retry_or_drop(item, outcome.reason, outcome.attempts)
                if at is None:
                    log.error(
                        "gave up on %s after %d attempts: %s",
                        _describe(item),
                        item.attempts + 1,
                        outcome.reason,
                    )
                else:
                    log.warning(
                        "sending %s failed (%s); retrying at %s",
                        _describe(item),
                        outcome.reason,
                        at,
                    )
                return at
            case Action.SENT:
                raise ValueError("a sent row is recorded with record_sent")
        return None

    async def record_error(self, item: OutboxItem, error: str) -> datetime | None:
        """Something other than Discord's answer failed a claimed row (rendering the paper
        raised, say): retry later with the usual backoff, or, after MAX_ATTEMPTS_AFTER_ERROR
        attempts in all, drop it with the error (shown by /feed preview). Returns the retry
        time, or None when dropped. The caller logs it, with its traceback.
        """
        return await self._retry_or_drop(item, error, MAX_ATTEMPTS_AFTER_ERROR)

    async def _retry_or_drop(
        self, item: OutboxItem, error: str, give_up_after: int | None
    ) -> datetime | None:
        """Retry the claimed row after the usual backoff, or drop it with ``error`` once
        ``give_up_after`` attempts in all were made (None: never). The retry time, or None."""
        attempts = item.attempts + 1  # this attempt was claimed
        if give_up_after is not None and attempts >= give_up_after:
            await self.outbox.drop(item, error=f"gave up after {attempts} attempts: {error}")
            return None
        at = self.clock() + retry_delay(attempts, self.retry_base)
        await self.outbox.retry_later(item, error=error, at=at)
        return at

    async def record_forbidden(self, channel_id: int, missing: Sequence[str]) -> bool:
        """Discord said 403: pause the subscription and queue one notice. True if newly paused."""
        what = _join(list(missing)) if missing else "View Channel, Send Messages or Embed Links"
        reason = f"Discord refused to post (403): missing {what}"
        notice = (
            f"⏸️ papers-bot has paused posting papers here: I'm missing {what} in this channel. "
            "Once an admin grants it, run `/feed subscribe` for this channel again to resume."
        )
        paused = await self.subscriptions.pause(
            channel_id, reason, now=self.clock(), notice=notice, nonce=self.nonce
        )
        if paused:
            log.warning("paused channel %s: %s", channel_id, reason)
            self._notify()
        return paused

    async def record_channel_gone(self, channel_id: int) -> None:
        """Discord said 404 for the channel: it was deleted, so the subscription goes too."""
        if await self.subscriptions.remove(channel_id) is not None:
            log.warning("channel %s no longer exists: removed its subscription", channel_id)

    async def record_post(
        self, *, message_id: int, channel_id: int, guild_id: int | None, paper: Paper
    ) -> None:
        """Register a public message showing ``paper`` (``/papers show``) so that reactions
        and the Bookmark button on it resolve to the paper."""
        await self.posts.record_post(
            message_id,
            channel_id,
            guild_id,
            paper.id,
            "show",
            paper.upvotes,
            paper.num_comments,
            now=self.clock(),
        )

    # --- live upvotes -------------------------------------------------------------------------

    async def edits_due(self) -> list[EditJob]:
        """Recent auto-posts whose paper's upvotes or comments moved meaningfully, not edited in
        the last 30 minutes: of this process's shards' servers, which no other process edits."""
        now = self.clock()
        stale = await self.posts.stale_posts(
            kind="feed",
            posted_since=now - EDIT_WINDOW,
            last_shown_before=now - EDIT_MIN_INTERVAL,
        )
        shards = self.outbox.shards
        wanted = [
            post
            for post, upvotes, comments in stale
            if (shards is None or shards.owns(post.guild_id or 0))
            and (
                changed_meaningfully(post.shown_upvotes, upvotes)
                or changed_meaningfully(post.shown_comments, comments)
            )
        ]
        papers = await self.papers.get_many(sorted({post.paper_id for post in wanted}))
        return [EditJob(post, papers[post.paper_id]) for post in wanted if post.paper_id in papers]

    async def record_edited(self, job: EditJob) -> None:
        """The post now shows the job's counts."""
        await self.posts.record_edit(
            job.post.message_id,
            upvotes=job.paper.upvotes,
            comments=job.paper.num_comments,
            now=self.clock(),
        )

    async def record_edit_failed(self, job: EditJob) -> None:
        """The edit failed: the post still shows its old counts. Only the attempt is noted, so
        it is tried again after EDIT_MIN_INTERVAL (with the counts of then), not at once."""
        await self.posts.record_edit_attempt(job.post.message_id, now=self.clock())

    async def record_edit_outcome(self, job: EditJob, outcome: Outcome) -> None:
        """Record an edit that did not go through. A post whose message (or channel) is gone
        is forgotten; any other failure is noted like ``record_edit_failed``; a refused token
        changes nothing (the edit is simply due again at the next start)."""
        if outcome.action is Action.REMOVE:
            await self.posts.forget(job.post.message_id)
        elif outcome.action is not Action.STOP:
            await self.record_edit_failed(job)

    # --- retention ----------------------------------------------------------------------------

    async def prune_history(self) -> int:
        """Delete old sent and dropped deliveries (see HISTORY_KEPT); the poller calls it after
        each poll and it works at the first call, then at most every PRUNE_EVERY. Returns how
        many rows went. /feed list shows the same counts before and after."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        deleted = 0
        after: int | None = None
        while True:
            batch = await self.outbox.prune_history(
                sent_before=now - HISTORY_KEPT,
                listed_before=self.today() - HISTORY_KEPT,
                after=after,
                batch=PRUNE_BATCH,
            )
            deleted += batch.deleted
            if batch.next is None:
                break
            after = batch.next
            await asyncio.sleep(0)  # between batches the write lock is free for others
        if deleted:
            log.info("pruned %d deliveries older than %d days", deleted, HISTORY_KEPT.days)
            await self.outbox.after_prune()
        self._pruned_at = now  # only once it went through: a failed prune is tried next poll
        return deleted


def _missing(channel_id: int, what: str, missing: list[str]) -> MissingChannelAccess:
    return MissingChannelAccess(
        f"I can't {what} in <#{channel_id}>: I'm missing {_join(missing)} there. Grant "
        f"{'it' if len(missing) == 1 else 'them'} to me (channel settings → Permissions) "
        "and subscribe again."
    )


def _describe(item: OutboxItem) -> str:
    """``paper 2406.1 for channel 5`` or ``notice 12 for channel 5``, for the log."""
    if isinstance(item, DueNotice):
        return f"{item.kind} notice {item.id} for channel {item.channel_id}"
    if isinstance(item, DueDigest):
        return f"digest of {item.day} for channel {item.channel_id}"
    if isinstance(item, DueThread):
        return f"the thread of paper {item.paper_id} in channel {item.channel_id}"
    return f"paper {item.paper_id} for channel {item.channel_id}"


def _names(names: Sequence[str]) -> str:
    return _join([f"`{name}`" for name in names])


def _check_mentionable(role: RoleChoice, access: ChannelAccess, channel_id: int) -> None:
    """Raise CannotMention unless the bot's posts in the channel can ping ``role``."""
    if role.everyone:
        raise CannotMention(
            "Posts never ping @everyone. Pick a role for the readers of this feed (create one "
            "in Server Settings → Roles if needed) and subscribe again."
        )
    if not role.mentionable and not access.mention_everyone:
        raise CannotMention(
            f"I can't ping @{role.name} in <#{channel_id}>: the role is not mentionable and I'm "
            'missing Mention @everyone, @here, and All Roles there. Either turn on "Allow '
            f'anyone to @mention this role" (Server Settings → Roles → {role.name}) or grant '
            "me that permission, then subscribe again."
        )


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
