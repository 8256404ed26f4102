"""Auto-posting tables: subscriptions, the one outbox, and posted messages.

All of the feed's SQL lives here. Decisions (which paper goes where, when to retry) are made in
``bot.feed``; the methods that record a decision check, inside their write transaction, that the
facts the decision rests on still hold, so a subscription removed or changed a moment ago never
gets a delivery decided for it before.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from bot.errors import InvalidInput
from bot.models import CardStyle, SubscriptionMode
from bot.shards import ShardSet
from bot.store.db import Connection, Database, Row, from_iso, to_iso, utc_now
from bot.store.dialect import (
    greatest,
    in_values,
    offset_only,
    serialise_on,
    skip_locked,
    string_agg,
    values_param,
)

PostKind = Literal["feed", "show"]
NoticeKind = Literal["paused", "outage", "recovered"]
NonceFactory = Callable[[], str]

_OUTAGE_KEY = "feed_outage_notified"
# The time of day a digest is posted when ``mode: digest`` comes without ``at``.
DEFAULT_DIGEST_AT = "09:00"

# The name of a subscription made without one (and of every subscription made before names).
DEFAULT_NAME = "default"

# How long a claim on an outbox row holds: longer than one send takes (its requests time out
# after 30 s), short enough that a row whose claimer died is resent while Discord still honours
# its nonce ("a few minutes").
CLAIM_FOR = timedelta(seconds=60)


def this_process() -> str:
    """``hostname:pid``: who claims outbox rows when the app names no one else."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _moment(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


@dataclass(frozen=True, slots=True)
class Subscription:
    """One of a channel's subscriptions (channel, name), with its filters, the role its posts
    ping, and, when the channel is paused, why (a pause applies to the whole channel)."""

    channel_id: int
    guild_id: int
    min_upvotes: int
    keywords: str
    since_day: date
    created_at: datetime
    created_by: int | None
    updated_at: datetime
    paused_reason: str | None = None
    paused_at: datetime | None = None
    name: str = DEFAULT_NAME
    mention_role_id: int | None = None
    id: int = 0
    max_per_day: int | None = None  # None: no daily cap
    mode: SubscriptionMode = "posts"
    digest_at: str | None = None  # "HH:MM" in the server's time zone (mode "digest")
    style: CardStyle = "compact"
    # Each post gets a public thread named after its paper (an outbox row of kind 'thread').
    thread: bool = False
    # The channel is a forum: each paper becomes a forum post (``thread`` does not apply).
    forum: bool = False

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None

    @property
    def digest(self) -> bool:
        return self.mode == "digest"

    @property
    def volume(self) -> tuple[int | None, str, str | None]:
        """The volume settings (a change re-plans what was queued and never attempted)."""
        return (self.max_per_day, self.mode, self.digest_at)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        min_upvotes=row["min_upvotes"],
        keywords=row["keywords"],
        since_day=date.fromisoformat(row["since_day"]),
        created_at=from_iso(row["created_at"]),
        created_by=row["created_by"],
        updated_at=from_iso(row["updated_at"]),
        paused_reason=row["paused_reason"],
        paused_at=_moment(row["paused_at"]),
        name=row["name"],
        mention_role_id=row["mention_role_id"],
        id=row["id"],
        max_per_day=row["max_per_day"],
        mode=row["mode"],
        digest_at=row["digest_at"],
        thread=bool(row["thread"]),
        forum=bool(row["forum"]),
        style=row["style"],
    )


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    """A subscription with what it has received so far."""

    subscription: Subscription
    delivered: int
    pending: int
    last_sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class VolumeChange:
    """The volume options of one ``/feed subscribe`` (None: keep the stored value; a
    ``max_per_day`` of 0 clears the cap), and how a long-paused subscription resumes."""

    max_per_day: int | None = None
    mode: SubscriptionMode | None = None
    digest_at: str | None = None
    first_batch: int = 5
    long_pause: timedelta = timedelta(hours=6)
    skip_reason: str = "not posted: too many at once"


@dataclass(frozen=True, slots=True)
class SavedSubscription:
    """What ``SubscriptionRepo.save`` did: the subscription now, and before (None: new)."""

    subscription: Subscription
    previous: Subscription | None
    # Papers whose never-attempted deliveries were forgotten because the filters changed.
    forgotten: tuple[str, ...] = ()
    # Why the channel had been paused, when this save resumed it (every subscription of it).
    resumed_from: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where one (channel, paper) delivery stands, for ``/feed preview``."""

    state: Literal["pending", "sent", "dropped"]
    error: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class PruneBatch:
    """One batch of retention: rows deleted, and where the next batch starts (None: done)."""

    deleted: int
    next: int | None  # the last outbox id scanned


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A pending (channel, paper) post whose time has come (an outbox row of kind 'post')."""

    id: int
    channel_id: int
    guild_id: int
    paper_id: str
    nonce: str
    attempts: int
    # The roles the post pings: those of the channel's subscriptions that want the paper when
    # it is sent (filled in by ``bot.feed``; the store does not match papers).
    mentions: tuple[int, ...] = ()
    style: CardStyle = "compact"  # decided like ``mentions`` (here: the channel's fallback)
    # A forum's subscription posts each paper as a forum post, tagged by its keywords (those
    # of every subscription of the channel).
    forum: bool = False
    keywords: str = ""


@dataclass(frozen=True, slots=True)
class DueThread:
    """A pending thread on a post already sent (an outbox row of kind 'thread'): created from
    the post's message ``message_id``."""

    id: int
    channel_id: int
    paper_id: str
    message_id: int
    nonce: str
    attempts: int


@dataclass(frozen=True, slots=True)
class DueNotice:
    """A pending plain-text notice to a channel (an outbox row of kind 'notice'; ``kind`` is
    what it is about)."""

    id: int
    channel_id: int
    kind: NoticeKind
    body: str
    nonce: str
    attempts: int


@dataclass(frozen=True, slots=True)
class DueDigest:
    """A pending digest (an outbox row of kind 'digest'): the channel's one message for the
    server's local ``day``; ``body`` is its JSON payload (bot.feed.DigestPlan)."""

    id: int
    channel_id: int
    day: date
    body: str
    nonce: str
    attempts: int


@dataclass(frozen=True, slots=True)
class DueDm:
    """A pending direct message to a member (an outbox row of kind 'dm'): ``body`` is its JSON
    payload (for alerts: the papers that matched and which alert matched each)."""

    id: int
    user_id: int
    body: str
    nonce: str
    attempts: int


# A row the outbox's one policy (claim, release, sent, retry, drop) applies to.
OutboxItem = DueDelivery | DueNotice | DueDigest | DueThread
# Any outbox row, DMs included: the policy's building blocks below take every kind.
OutboxRow = DueDelivery | DueNotice | DueDigest | DueThread | DueDm
# A post decided by planning: for this subscription, this paper, counted against this listing day.
PlannedPost = tuple["Subscription", str, date | None]


@dataclass(frozen=True, slots=True)
class Post:
    """A message showing a paper, with the counts it showed last."""

    message_id: int
    channel_id: int
    guild_id: int | None
    paper_id: str
    kind: PostKind
    posted_at: datetime
    shown_upvotes: int
    shown_comments: int
    edited_at: datetime | None
    style: CardStyle = "full"  # how the message shows the paper; edits keep it


def _post(row: Row) -> Post:
    return Post(
        message_id=row["message_id"],
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        paper_id=row["paper_id"],
        kind=row["kind"],
        posted_at=from_iso(row["posted_at"]),
        shown_upvotes=row["shown_upvotes"],
        shown_comments=row["shown_comments"],
        edited_at=_moment(row["edited_at"]),
        style=row["style"],
    )


async def _rows(conn: Connection, sql: str, params: Any = ()) -> list[Row]:
    return list(await conn.execute_fetchall(sql, params))


async def _forget_unattempted(conn: Connection, channel_id: int) -> list[str]:
    """Delete the channel's pending posts never attempted; their papers."""
    return [
        row[0]
        for row in await _rows(
            conn,
            "DELETE FROM outbox WHERE kind = 'post' AND channel_id = ?"
            " AND state = 'pending' AND attempts = 0 RETURNING paper_id",
            (channel_id,),
        )
    ]


class SubscriptionRepo:
    """Subscriptions: save, read, pause, remove."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(
        self,
        *,
        channel_id: int,
        guild_id: int,
        min_upvotes: int | None,
        keywords: str | None,
        since_day: date,
        created_by: int | None,
        now: datetime,
        name: str = DEFAULT_NAME,
        mention_role_id: int | None = None,
        clear_mention: bool = False,
        volume: VolumeChange | None = None,
        style: CardStyle | None = None,
        thread: bool | None = None,
        forum: bool = False,
    ) -> SavedSubscription:
        """Create the channel's subscription called ``name``, or update it; either way the
        channel is un-paused (a pause is the channel's, so all its subscriptions resume).

        ``None`` for ``min_upvotes``, ``keywords``, ``style``, ``thread``, ``mention_role_id``
        (or a field of ``volume``) keeps the stored value (0, no keywords, the compact card, no
        threads, no role, no cap, one post per paper for a new subscription); ``clear_mention``
        removes the role; ``forum`` says what the channel is now, so it is always written. A
        re-subscription keeps its start day. When the filters or the volume change, the
        channel's pending deliveries never attempted are forgotten (their papers are returned)
        so the channel's settings decide afresh; attempted ones stay, because Discord may
        already hold their message. Resuming drops a pause notice that has not gone out yet;
        resuming after a pause longer than ``volume.long_pause`` keeps only the
        ``volume.first_batch`` most upvoted posts that waited, and drops the others (never
        attempted) with ``volume.skip_reason``.
        """
        change = volume or VolumeChange()
        moment = to_iso(now)
        async with self.db.transaction() as conn:
            rows = await _rows(
                conn,
                "SELECT * FROM subscriptions WHERE channel_id = ? AND name = ?",
                (channel_id, name),
            )
            previous = _subscription(rows[0]) if rows else None
            paused = await _rows(
                conn,
                "SELECT paused_reason, paused_at FROM subscriptions WHERE channel_id = ?"
                " AND paused_reason IS NOT NULL LIMIT 1",
                (channel_id,),
            )
            paused_reason = paused[0][0] if paused else None
            channel_paused_at = _moment(paused[0][1]) if paused else None
            if min_upvotes is None:
                min_upvotes = previous.min_upvotes if previous else 0
            if keywords is None:
                keywords = previous.keywords if previous else ""
            if clear_mention:
                mention_role_id = None
            elif mention_role_id is None and previous is not None:
                mention_role_id = previous.mention_role_id
            if style is None:
                style = previous.style if previous else "compact"
            if thread is None:
                thread = previous.thread if previous else False
            max_per_day = previous.max_per_day if previous else None
            if change.max_per_day is not None:
                max_per_day = change.max_per_day or None  # 0 clears the cap
            mode: SubscriptionMode = change.mode or (previous.mode if previous else "posts")
            digest_at = change.digest_at or (previous.digest_at if previous else None)
            if change.digest_at is not None and mode != "digest":
                raise InvalidInput(
                    "`at` sets the time of the daily digest: use it with `mode: digest`."
                )
            if mode == "digest" and digest_at is None:
                digest_at = DEFAULT_DIGEST_AT
            if previous is None:
                await conn.execute(
                    "INSERT INTO subscriptions (channel_id, name, guild_id, min_upvotes, keywords,"
                    " since_day, created_at, created_by, updated_at, mention_role_id, style,"
                    " thread, forum, max_per_day, mode, digest_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        channel_id,
                        name,
                        guild_id,
                        min_upvotes,
                        keywords,
                        since_day.isoformat(),
                        moment,
                        created_by,
                        moment,
                        mention_role_id,
                        style,
                        int(thread),
                        int(forum),
                        max_per_day,
                        mode,
                        digest_at,
                    ),
                )
            else:
                await conn.execute(
                    "UPDATE subscriptions SET guild_id = ?, min_upvotes = ?, keywords = ?,"
                    " updated_at = ?, mention_role_id = ?, style = ?, thread = ?, forum = ?,"
                    " max_per_day = ?, mode = ?, digest_at = ? WHERE id = ?",
                    (
                        guild_id,
                        min_upvotes,
                        keywords,
                        moment,
                        mention_role_id,
                        style,
                        int(thread),
                        int(forum),
                        max_per_day,
                        mode,
                        digest_at,
                        previous.id,
                    ),
                )
            await conn.execute(
                "UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL"
                " WHERE channel_id = ?",
                (channel_id,),
            )
            forgotten: list[str] = []
            if previous is not None and (
                previous.min_upvotes,
                previous.keywords,
                previous.volume,
            ) != (min_upvotes, keywords, (max_per_day, mode, digest_at)):
                forgotten = await _forget_unattempted(conn, channel_id)
            if paused_reason is not None:
                await conn.execute(
                    "UPDATE outbox SET state = 'dropped', last_error = 'resumed'"
                    " WHERE kind = 'notice' AND channel_id = ? AND topic = 'paused'"
                    " AND state = 'pending'",
                    (channel_id,),
                )
                paused_at = channel_paused_at
                if paused_at is not None and now - paused_at > change.long_pause:
                    # What waited during a long pause: the most upvoted few, not a flood.
                    await conn.execute(
                        "UPDATE outbox SET state = 'dropped', last_error = ? WHERE id IN"
                        " (SELECT o.id FROM outbox AS o JOIN papers AS p ON p.id = o.paper_id"
                        "  WHERE o.kind = 'post' AND o.channel_id = ? AND o.state = 'pending'"
                        "  AND o.attempts = 0"
                        f"  ORDER BY p.upvotes DESC, o.paper_id {offset_only(self.db.dialect)})",
                        (change.skip_reason, channel_id, change.first_batch),
                    )
            row = (
                await _rows(
                    conn,
                    "SELECT * FROM subscriptions WHERE channel_id = ? AND name = ?",
                    (channel_id, name),
                )
            )[0]
        return SavedSubscription(
            _subscription(row), previous, tuple(sorted(forgotten)), resumed_from=paused_reason
        )

    async def digests(self) -> list[Subscription]:
        """Active subscriptions in digest mode."""
        rows = await self.db.fetchall(
            "SELECT * FROM subscriptions WHERE mode = 'digest' AND paused_reason IS NULL"
            " ORDER BY channel_id, name"
        )
        return [_subscription(row) for row in rows]

    async def get(self, channel_id: int, name: str = DEFAULT_NAME) -> Subscription | None:
        """The channel's subscription called ``name``, or None."""
        row = await self.db.fetchone(
            "SELECT * FROM subscriptions WHERE channel_id = ? AND name = ?", (channel_id, name)
        )
        return None if row is None else _subscription(row)

    async def for_channel(self, channel_id: int) -> list[Subscription]:
        """Every subscription of the channel, by name."""
        rows = await self.db.fetchall(
            "SELECT * FROM subscriptions WHERE channel_id = ? ORDER BY name", (channel_id,)
        )
        return [_subscription(row) for row in rows]

    async def all(self) -> list[Subscription]:
        rows = await self.db.fetchall("SELECT * FROM subscriptions ORDER BY channel_id, name")
        return [_subscription(row) for row in rows]

    async def stats_for_guild(self, guild_id: int) -> list[SubscriptionStats]:
        """The guild's subscriptions with their channel's delivered/pending counts, oldest
        channel first, a channel's subscriptions together by name.

        The outbox is the channel's (a paper is posted once however many of its subscriptions
        want it), so the counts are per channel. Delivered counts the channel's 'sent'
        deliveries, those pruned by retention included (``delivery_history``); each count is
        read from the ``outbox_by_channel`` index alone.
        """
        latest_sent = greatest(
            self.db.dialect,
            "coalesce(h.last_sent_at, '')",
            "coalesce((SELECT max(o.sent_at) FROM outbox AS o WHERE o.kind = 'post'"
            "   AND o.channel_id = s.channel_id AND o.state = 'sent'), '')",
        )
        rows = await self.db.fetchall(
            "SELECT s.*,"
            " coalesce(h.sent_pruned, 0) + (SELECT count(*) FROM outbox AS o WHERE"
            "   o.kind = 'post' AND o.channel_id = s.channel_id AND o.state = 'sent') AS delivered,"
            " (SELECT count(*) FROM outbox AS o WHERE o.kind = 'post'"
            "   AND o.channel_id = s.channel_id AND o.state = 'pending') AS pending,"
            f" nullif({latest_sent}, '') AS last_sent_at,"
            " (SELECT min(f.created_at) FROM subscriptions AS f"
            "   WHERE f.channel_id = s.channel_id) AS channel_since"
            " FROM subscriptions AS s LEFT JOIN delivery_history AS h"
            " ON h.channel_id = s.channel_id"
            " WHERE s.guild_id = ? ORDER BY channel_since, s.channel_id, s.name",
            (guild_id,),
        )
        return [
            SubscriptionStats(
                subscription=_subscription(row),
                delivered=row["delivered"],
                pending=row["pending"],
                last_sent_at=_moment(row["last_sent_at"]),
            )
            for row in rows
        ]

    async def remove(self, channel_id: int, name: str | None = None) -> list[str] | None:
        """Delete the channel's subscription ``name`` (None: all of them). None if there was
        none to delete; otherwise the papers whose never-attempted posts were forgotten.

        When the channel keeps other subscriptions, its never-attempted posts are forgotten
        (returned) so the remaining filters decide afresh. When none is left, everything it
        had not sent is forgotten: attempted deliveries are kept as 'dropped' rather than
        deleted, because Discord may hold their message and a later re-subscription must not
        post that paper again.
        """
        async with self.db.transaction() as conn:
            if name is None:
                cursor = await conn.execute(
                    "DELETE FROM subscriptions WHERE channel_id = ?", (channel_id,)
                )
            else:
                cursor = await conn.execute(
                    "DELETE FROM subscriptions WHERE channel_id = ? AND name = ?",
                    (channel_id, name),
                )
            if cursor.rowcount == 0:
                return None
            forgotten = await _forget_unattempted(conn, channel_id)
            remaining = await _rows(
                conn, "SELECT 1 FROM subscriptions WHERE channel_id = ? LIMIT 1", (channel_id,)
            )
            if remaining:
                return forgotten
            # Every kind sent to the channel, notices included.
            await conn.execute(
                "UPDATE outbox SET state = 'dropped', last_error = 'unsubscribed'"
                " WHERE channel_id = ? AND state = 'pending'",
                (channel_id,),
            )
        return []

    async def pause(
        self,
        channel_id: int,
        reason: str,
        *,
        now: datetime,
        notice: str | None,
        nonce: NonceFactory,
    ) -> bool:
        """Pause the subscription with ``reason`` and queue one ``notice`` to the channel.

        Returns False (and queues nothing) when it was already paused or does not exist.
        """
        moment = to_iso(now)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE subscriptions SET paused_reason = ?, paused_at = ?"
                " WHERE channel_id = ? AND paused_reason IS NULL",
                (reason, moment, channel_id),
            )
            if cursor.rowcount == 0:
                return False
            if notice is not None:
                await conn.execute(
                    "INSERT INTO outbox (kind, channel_id, topic, body, nonce, created_at)"
                    " VALUES ('notice', ?, 'paused', ?, ?, ?)",
                    (channel_id, notice, nonce(), moment),
                )
        return True


# Kinds sent to a subscribed channel on behalf of its subscription: claimed only while the
# subscription exists and is not paused. Notices go out whatever the subscription's state.
_SUBSCRIBED_KINDS = "('post', 'digest', 'thread')"


class OutboxRepo:
    """The one outbox: every message the bot sends on its own, one row each, by kind.

    One policy for every kind: a row is claimed (``claim``: an attempt counted before the
    request), then marked sent with its message, retried later, or dropped with its reason;
    ``release`` gives back a claim Discord refused outright. Posts are unique per (channel,
    paper); retention prunes old posts (``prune_history``).

    Several processes may share one outbox (on PostgreSQL). A claim names its ``claimer`` and
    holds for ``claim_for``: no other process claims the row meanwhile, and once it expires (its
    claimer died) anyone may. Only a row's claimer, or anyone once no claim holds, records its
    outcome, so a process that lost its claim changes nothing. With ``shards``, only rows of
    channels in this process's guilds (``(guild_id >> 22) % count``, the guild read from the
    channel's subscriptions) are due and claimable here; DMs are left to whichever process
    sends them (the engine decides). None: one process, no filter.
    """

    def __init__(
        self,
        db: Database,
        *,
        claimer: str | None = None,
        shards: ShardSet | None = None,
        claim_for: timedelta = CLAIM_FOR,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.claimer = claimer or this_process()
        self.shards = None if shards is None or shards.everything else shards
        self.claim_for = claim_for
        self.clock = clock

    # --- claims and shards: the fragments every due read and claim shares ---------------------

    def claimable(self, alias: str, now: datetime) -> tuple[str, list[object]]:
        """SQL (and its parameters) for "row ``alias`` is claimable by this process at ``now``":
        no claim holds it, or this process's does (a drain resumed after a restart in-process)."""
        return (
            f"({alias}.claimed_until IS NULL OR {alias}.claimed_until <= ?"
            f" OR {alias}.claimed_by = ?)",
            [to_iso(now), self.claimer],
        )

    def _owned(self, alias: str) -> tuple[str, list[object]]:
        """`` AND …`` keeping channel rows of this process's shards (nothing when unsharded)."""
        if self.shards is None:
            return "", []
        guild = (
            "coalesce((SELECT max(g.guild_id) FROM subscriptions AS g"
            f" WHERE g.channel_id = {alias}.channel_id), 0)"
        )
        shard = f"(({guild} >> 22) % CAST(? AS BIGINT))"
        return (
            f" AND ({alias}.channel_id IS NULL OR {in_values(self.db.dialect, shard)})",
            [self.shards.count, values_param(self.db.dialect, sorted(self.shards.ids))],
        )

    def _fence(self, now: datetime) -> tuple[str, list[object]]:
        """`` AND …``: this process claimed the row last, or nobody did, or it is pending and
        no claim holds it now. A claim holds only while its row is sent (recording the outcome
        ends it), but who claimed last stays: a row another process recorded is never
        rewritten by one whose claim expired."""
        return (
            " AND (claimed_by = ? OR claimed_by IS NULL"
            " OR (state = 'pending' AND coalesce(claimed_until, '') <= ?))",
            [self.claimer, to_iso(now)],
        )

    async def release_claims(self) -> int:
        """Forget every claim (on SQLite, at start: one process runs, so a claim left is a
        crashed run's); on PostgreSQL only this process's. The attempts they counted stay (a
        row attempted may have been sent). How many were released."""
        where = "claimed_until IS NOT NULL"
        params: list[object] = []
        if self.db.dialect != "sqlite":
            where += " AND claimed_by = ?"
            params.append(self.claimer)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE outbox SET claimed_until = NULL WHERE {where}", params
            )
            return max(cursor.rowcount, 0)

    # --- posts: planning ----------------------------------------------------------------------

    async def queued(
        self, paper_ids: Sequence[str], *, channel_id: int | None = None
    ) -> set[tuple[int, str]]:
        """(channel, paper) posts already in the outbox, in any state, for these papers."""
        found: set[tuple[int, str]] = set()
        ids = list(dict.fromkeys(paper_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # Two statements, not "? IS NULL OR channel_id = ?": each then has its own index
            # (outbox_once for one channel, outbox_by_paper for all).
            if channel_id is None:
                sql = (
                    "SELECT channel_id, paper_id FROM outbox"
                    f" WHERE paper_id IN ({marks}) AND kind = 'post'"
                )
                params: list[object] = [*chunk]
            else:
                sql = (
                    "SELECT channel_id, paper_id FROM outbox"
                    f" WHERE kind = 'post' AND channel_id = ? AND paper_id IN ({marks})"
                )
                params = [channel_id, *chunk]
            rows = await self.db.fetchall(sql, params)
            found.update((row["channel_id"], row["paper_id"]) for row in rows)
        return found

    async def queue_posts(
        self,
        decisions: Sequence[PlannedPost],
        *,
        now: datetime,
        nonce: NonceFactory,
        skipped: Sequence[PlannedPost] = (),
        skip_reason: str = "",
    ) -> int:
        """Queue (subscription, paper, listing day) posts decided from those subscriptions, in
        the order given (most upvoted first); returns how many rows are new. ``skipped`` ones
        are recorded as dropped with ``skip_reason`` (never attempted), so they are never
        planned again.

        The decision was made outside any transaction (matching is the slow part). Each row is
        inserted only if its subscription still exists with the settings and start day it was
        decided on, so a subscription removed or changed meanwhile never gets a stale post
        (re-subscribing plans for itself); a pair already queued is left as it is. A capped
        subscription gets a post only while the outbox holds fewer than ``max_per_day`` posts
        for that channel and listing day that were sent, are pending or were attempted: read
        here, inside the transaction (on PostgreSQL after locking each capped channel, so
        another process queueing for it waits), so no interleaving can exceed the cap.
        """
        if not decisions and not skipped:
            return 0
        moment = to_iso(now)

        def row(planned: PlannedPost, state: str, error: str | None) -> tuple[object, ...]:
            subscription, paper_id, day = planned
            listed = day.isoformat() if day else None
            return (
                subscription.channel_id,
                paper_id,
                nonce(),
                moment,
                listed,
                state,
                error,
                subscription.id,
                subscription.channel_id,
                subscription.min_upvotes,
                subscription.keywords,
                subscription.since_day.isoformat(),
                subscription.max_per_day,
                subscription.mode,
                subscription.channel_id,
                listed,
            )

        sql = (
            "INSERT INTO outbox (kind, channel_id, paper_id, nonce, created_at, day,"
            " state, last_error)"
            " SELECT 'post', CAST(? AS BIGINT), ?, ?, ?, ?, ?, ? FROM subscriptions AS s"
            " WHERE s.id = ? AND s.channel_id = ? AND s.min_upvotes = ? AND s.keywords = ?"
            " AND s.since_day = ? AND s.max_per_day IS NOT DISTINCT FROM ? AND s.mode = ?"
            " AND (s.max_per_day IS NULL OR (SELECT count(*) FROM outbox AS o"
            "  WHERE o.kind = 'post' AND o.channel_id = ? AND o.day IS NOT DISTINCT FROM ?"
            "  AND (o.state != 'dropped' OR o.attempts > 0)) < s.max_per_day)"
            " ON CONFLICT DO NOTHING"
        )
        capped = sorted(
            {planned[0].channel_id for planned in [*decisions, *skipped] if planned[0].max_per_day}
        )
        async with self.db.transaction() as conn:
            if capped and (lock := serialise_on(self.db.dialect)):
                # In one order: two transactions locking the same channels never deadlock.
                await conn.executemany(lock, [(f"outbox-day:{c}",) for c in capped])
            cursor = await conn.executemany(
                sql, [row(planned, "pending", None) for planned in decisions]
            )
            queued = max(cursor.rowcount, 0)
            if skipped:
                await conn.executemany(
                    sql, [row(planned, "dropped", skip_reason) for planned in skipped]
                )
            return queued

    async def posts_for_day(self, channel_id: int, day: date) -> int:
        """The channel's posts counted against ``day``'s cap: sent, pending or attempted."""
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE kind = 'post' AND channel_id = ? AND day = ?"
                " AND (state != 'dropped' OR attempts > 0)",
                (channel_id, day.isoformat()),
            )
        )

    # --- digests ------------------------------------------------------------------------------

    async def has_digest(self, channel_id: int, day: date) -> bool:
        """The channel's digest for local ``day`` is in the outbox (in any state)."""
        value = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE kind = 'digest' AND channel_id = ? AND day = ?",
            (channel_id, day.isoformat()),
        )
        return value is not None

    async def queue_digest(
        self,
        subscription: Subscription,
        day: date,
        body: str,
        *,
        now: datetime,
        nonce: NonceFactory,
    ) -> bool:
        """Queue the channel's digest for local ``day`` (at most one ever: the unique index),
        while the subscription is still in digest mode at the same time. True if queued."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO outbox (kind, channel_id, day, body, nonce, created_at)"
                " SELECT 'digest', CAST(? AS BIGINT), ?, ?, ?, ? WHERE EXISTS (SELECT 1"
                " FROM subscriptions WHERE channel_id = ? AND mode = 'digest' AND digest_at = ?)"
                " ON CONFLICT DO NOTHING",
                (
                    subscription.channel_id,
                    day.isoformat(),
                    body,
                    nonce(),
                    to_iso(now),
                    subscription.channel_id,
                    subscription.digest_at,
                ),
            )
            return cursor.rowcount == 1

    async def due_digests(self, channel_id: int, now: datetime) -> list[DueDigest]:
        """The channel's due digests (empty when paused or removed), oldest first."""
        claimable, claim_params = self.claimable("o", now)
        rows = await self.db.fetchall(
            "SELECT o.* FROM outbox AS o"
            " WHERE o.kind = 'digest' AND o.channel_id = ? AND o.state = 'pending'"
            " AND EXISTS (SELECT 1 FROM subscriptions AS s WHERE s.channel_id = o.channel_id"
            "  AND s.paused_reason IS NULL)"
            f" AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) AND {claimable}"
            " ORDER BY o.id",
            (channel_id, to_iso(now), *claim_params),
        )
        return [
            DueDigest(
                id=row["id"],
                channel_id=row["channel_id"],
                day=date.fromisoformat(row["day"]),
                body=row["body"],
                nonce=row["nonce"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    # --- what is due --------------------------------------------------------------------------

    async def due_channels(self, now: datetime) -> list[int]:
        """Channels with a row due now and claimable here (paused channels: notices only; with
        shards, channels of this process's guilds only)."""
        claimable, claim_params = self.claimable("o", now)
        owned, owned_params = self._owned("o")
        rows = await self.db.fetchall(
            "SELECT DISTINCT o.channel_id FROM outbox AS o"
            " LEFT JOIN subscriptions AS s ON s.channel_id = o.channel_id"
            " WHERE o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
            f" AND (o.kind NOT IN {_SUBSCRIBED_KINDS}"
            "  OR (s.channel_id IS NOT NULL AND s.paused_reason IS NULL))"
            f" AND o.channel_id IS NOT NULL AND {claimable}{owned}",
            (to_iso(now), *claim_params, *owned_params),
        )
        return [row[0] for row in rows]

    async def next_due_at(self, *, busy: Collection[int] = ()) -> datetime | None:
        """When the earliest retry falls due (None: nothing is waiting for a retry).

        Channels in ``busy`` are left out: the worker is sending to them already and looks for
        their due work itself, so a retry of theirs that is overdue meanwhile is no reason to
        wake up. A row another process has claimed is due here when its claim expires.
        """
        dialect = self.db.dialect
        owned, owned_params = self._owned("o")
        # Either part reads only its own few rows through its index: retries (outbox_due) and
        # other processes' claims on pending rows (outbox_claimed).
        rows = (
            " FROM outbox AS o LEFT JOIN subscriptions AS s ON s.channel_id = o.channel_id"
            f" WHERE o.state = 'pending' AND {{}} AND (o.kind NOT IN {_SUBSCRIBED_KINDS}"
            "  OR (s.channel_id IS NOT NULL AND s.paused_reason IS NULL))"
            # Channel rows only: DMs have their own (AlertRepo.next_due_at).
            " AND o.channel_id IS NOT NULL"
            f" AND NOT {in_values(dialect, 'o.channel_id')}{owned}"
        )
        retries = rows.format(
            "o.next_attempt_at IS NOT NULL AND (o.claimed_until IS NULL OR o.claimed_by = ?"
            " OR o.claimed_until <= o.next_attempt_at)"
        )
        claims = rows.format(
            "o.claimed_until IS NOT NULL AND o.claimed_by != ?"
            " AND o.claimed_until > coalesce(o.next_attempt_at, '')"
        )
        common = (values_param(dialect, sorted(busy)), *owned_params)
        value = await self.db.fetchval(
            f"SELECT min(due) FROM (SELECT min(o.next_attempt_at) AS due{retries}"
            f" UNION ALL SELECT min(o.claimed_until) AS due{claims}) AS moments",
            (self.claimer, *common, self.claimer, *common),
        )
        return _moment(value)

    async def due_posts(
        self, channel_id: int, now: datetime, *, limit: int = 10
    ) -> list[DueDelivery]:
        """The channel's due posts, most upvoted first (empty when paused or removed).

        Posts already attempted come first: Discord may hold their message, and the worker
        looks for it among the channel's latest messages before newer posts push it out.
        """
        keywords = string_agg(self.db.dialect, "nullif(keywords, '')", "', '")
        claimable, claim_params = self.claimable("o", now)
        rows = await self.db.fetchall(
            "SELECT o.id, o.channel_id, s.guild_id, o.paper_id, o.nonce, o.attempts, s.style,"
            " s.forum, s.keywords FROM outbox AS o"
            # One row per post however many subscriptions the channel has (they share its
            # guild, its pause and what the channel is).
            " JOIN (SELECT channel_id, max(guild_id) AS guild_id, max(style) AS style,"
            f"   max(forum) AS forum, {keywords} AS keywords"
            "   FROM subscriptions"
            "   WHERE channel_id = ? AND paused_reason IS NULL GROUP BY channel_id) AS s"
            "   ON s.channel_id = o.channel_id"
            " JOIN papers AS p ON p.id = o.paper_id"
            " WHERE o.kind = 'post' AND o.channel_id = ? AND o.state = 'pending'"
            f" AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) AND {claimable}"
            " ORDER BY o.attempts > 0 DESC, p.upvotes DESC, o.created_at, o.paper_id LIMIT ?",
            (channel_id, channel_id, to_iso(now), *claim_params, limit),
        )
        return [
            DueDelivery(
                id=row["id"],
                channel_id=row["channel_id"],
                guild_id=row["guild_id"],
                paper_id=row["paper_id"],
                nonce=row["nonce"],
                attempts=row["attempts"],
                style=row["style"],
                forum=bool(row["forum"]),
                keywords=row["keywords"] or "",
            )
            for row in rows
        ]

    async def due_notices(self, channel_id: int, now: datetime) -> list[DueNotice]:
        """The channel's due notices, oldest first."""
        claimable, claim_params = self.claimable("o", now)
        rows = await self.db.fetchall(
            "SELECT * FROM outbox AS o WHERE o.kind = 'notice' AND o.channel_id = ?"
            " AND o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"
            f" AND {claimable} ORDER BY o.id",
            (channel_id, to_iso(now), *claim_params),
        )
        return [
            DueNotice(
                id=row["id"],
                channel_id=row["channel_id"],
                kind=row["topic"],
                body=row["body"],
                nonce=row["nonce"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def due_threads(self, channel_id: int, now: datetime) -> list[DueThread]:
        """The channel's due threads, each with its post's message, oldest first (empty when
        paused or removed)."""
        claimable, claim_params = self.claimable("t", now)
        rows = await self.db.fetchall(
            "SELECT t.id, t.channel_id, t.paper_id, p.message_id, t.nonce, t.attempts"
            " FROM outbox AS t"
            " JOIN outbox AS p ON p.kind = 'post' AND p.channel_id = t.channel_id"
            "  AND p.paper_id = t.paper_id AND p.message_id IS NOT NULL"
            " WHERE t.kind = 'thread' AND t.channel_id = ? AND t.state = 'pending'"
            # (EXISTS: one row per thread however many subscriptions the channel has.)
            " AND EXISTS (SELECT 1 FROM subscriptions AS s WHERE s.channel_id = t.channel_id"
            "  AND s.paused_reason IS NULL)"
            f" AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= ?) AND {claimable}"
            " ORDER BY t.id",
            (channel_id, to_iso(now), *claim_params),
        )
        return [
            DueThread(
                id=row["id"],
                channel_id=row["channel_id"],
                paper_id=row["paper_id"],
                message_id=row["message_id"],
                nonce=row["nonce"],
                attempts=row["attempts"],
            )
            for row in rows
        ]

    # --- the one policy: claim, release, sent, retry, drop ------------------------------------

    async def claim(self, item: OutboxRow) -> bool:
        """Claim a row for sending, *before* the request; True when claimed.

        Claiming counts an attempt (after a crash, attempts > 0 means "maybe sent"). It succeeds
        only if the row is still as it was read: pending, with the same nonce and attempts, and,
        for a kind sent for a subscription, that subscription still exists and is not paused.
        False means the outbox changed since (unsubscribed, paused, re-planned by new filters,
        resumed before a pause notice, or sent): the caller must not send.

        The claim is this process's for ``claim_for``: no other process claims the row (nor
        reads it as due) until then, unless the claim is released or recorded. Another claim
        holding it, or a channel of another process's shards, is refused too. On PostgreSQL the
        row is locked with SKIP LOCKED, so two processes claiming at once never wait on each
        other; the one that comes second sees the row changed.
        """
        now = self.clock()
        claimable, claim_params = self.claimable("o", now)
        owned, owned_params = self._owned("o")
        async with self.db.transaction() as conn:
            rows = await _rows(
                conn,
                "UPDATE outbox SET attempts = attempts + 1, claimed_by = ?, claimed_until = ?"
                " WHERE id IN (SELECT o.id FROM outbox AS o WHERE o.id = ? AND o.nonce = ?"
                " AND o.attempts = ? AND o.state = 'pending'"
                f" AND (o.kind NOT IN {_SUBSCRIBED_KINDS} OR EXISTS (SELECT 1 FROM subscriptions"
                " AS s WHERE s.channel_id = o.channel_id AND s.paused_reason IS NULL))"
                f" AND {claimable}{owned}{skip_locked(self.db.dialect)}) RETURNING id",
                (
                    self.claimer,
                    to_iso(now + self.claim_for),
                    item.id,
                    item.nonce,
                    item.attempts,
                    *claim_params,
                    *owned_params,
                ),
            )
            return len(rows) == 1

    async def release(self, item: OutboxRow) -> None:
        """Undo ``claim`` for a send Discord refused outright (the token): nothing was created,
        so the row goes back to pending as it was read, not "maybe sent", and unclaimed."""
        fence, fence_params = self._fence(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts - 1, claimed_until = NULL"
                f" WHERE id = ? AND nonce = ? AND attempts = ? AND state = 'pending'{fence}",
                (item.id, item.nonce, item.attempts + 1, *fence_params),
            )

    async def mark_sent(self, item: OutboxRow, *, message_id: int, now: datetime) -> None:
        """Discord holds the row's message: record it (whatever became of the row's state),
        unless another process holds the row's claim now (it sends and records it itself)."""
        fence, fence_params = self._fence(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?,"
                " next_attempt_at = NULL, last_error = NULL, claimed_until = NULL"
                f" WHERE id = ?{fence}",
                (message_id, to_iso(now), item.id, *fence_params),
            )

    async def mark_posted(
        self,
        delivery: DueDelivery,
        *,
        message_id: int,
        upvotes: int,
        comments: int,
        now: datetime,
        nonce: NonceFactory,
        message_channel_id: int | None = None,
    ) -> None:
        """Record a post's message and register it in ``posts``, in one transaction.

        The message exists in Discord, so it is recorded whatever became of the row meanwhile:
        a row dropped (unsubscribed mid-send) becomes 'sent', and a row that vanished is
        written again as 'sent', so the paper is never queued for the channel again.

        When the subscription asks for threads, the post's thread is queued in the same
        transaction (a 'thread' row, unique per channel and paper): a crash can come before it
        is queued only if the post is not recorded either, and then the look-back finds the
        post and queues it when it records it. ``message_channel_id``: where the message is
        when not in the subscribed channel (a forum post's starter message is in its thread),
        which is where edits and reactions go.

        A process that lost the row's claim to another records nothing in the outbox (the
        holder sends with the same nonce and records the message itself); the message is still
        registered in ``posts``, so reactions on it resolve.
        """
        moment = to_iso(now)
        fence, fence_params = self._fence(self.clock())
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?,"
                " next_attempt_at = NULL, last_error = NULL, claimed_until = NULL"
                f" WHERE kind = 'post' AND channel_id = ? AND paper_id = ?{fence}",
                (message_id, moment, delivery.channel_id, delivery.paper_id, *fence_params),
            )
            if cursor.rowcount == 0:
                # (A paper deleted from the store cannot be recorded, but nothing can queue it
                # again either; the nonce check keeps a row claimed by another as it is.)
                await conn.execute(
                    "INSERT INTO outbox (kind, channel_id, paper_id, state, nonce, attempts,"
                    " message_id, created_at, sent_at)"
                    " SELECT 'post', CAST(? AS BIGINT), ?, 'sent', ?, CAST(? AS BIGINT),"
                    " CAST(? AS BIGINT), ?, ? WHERE EXISTS"
                    " (SELECT 1 FROM papers WHERE id = ?)"
                    " AND NOT EXISTS (SELECT 1 FROM outbox WHERE nonce = ?)",
                    (
                        delivery.channel_id,
                        delivery.paper_id,
                        delivery.nonce,
                        delivery.attempts + 1,
                        message_id,
                        moment,
                        moment,
                        delivery.paper_id,
                        delivery.nonce,
                    ),
                )
            await _insert_post(
                conn,
                message_id=message_id,
                channel_id=message_channel_id or delivery.channel_id,
                guild_id=delivery.guild_id,
                paper_id=delivery.paper_id,
                kind="feed",
                upvotes=upvotes,
                comments=comments,
                moment=moment,
                style=delivery.style,
            )
            await conn.execute(
                "INSERT INTO outbox (kind, channel_id, paper_id, nonce, created_at)"
                " SELECT 'thread', CAST(? AS BIGINT), ?, ?, ? WHERE EXISTS (SELECT 1"
                " FROM subscriptions WHERE channel_id = ? AND thread = 1 AND forum = 0)"
                " ON CONFLICT DO NOTHING",
                (delivery.channel_id, delivery.paper_id, nonce(), moment, delivery.channel_id),
            )

    async def retry_later(self, item: OutboxRow, *, error: str, at: datetime) -> None:
        """Send the row again from ``at`` (unless another process holds its claim now)."""
        fence, fence_params = self._fence(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL"
                f" WHERE id = ? AND state = 'pending'{fence}",
                (to_iso(at), error[:500], item.id, *fence_params),
            )

    async def drop(self, item: OutboxRow, *, error: str) -> None:
        """Give up on one row (Discord rejected it, or it was retried enough), with why (unless
        another process holds its claim now)."""
        fence, fence_params = self._fence(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ?, claimed_until = NULL"
                f" WHERE id = ? AND state = 'pending'{fence}",
                (error[:500], item.id, *fence_params),
            )

    # --- posts: what /feed shows --------------------------------------------------------------

    async def pending_for_channel(self, channel_id: int) -> int:
        """The channel's posts not sent yet."""
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE kind = 'post' AND channel_id = ?"
                " AND state = 'pending'",
                (channel_id,),
            )
        )

    async def states_for(
        self, channel_id: int, paper_ids: Iterable[str]
    ) -> dict[str, DeliveryState]:
        """paper id → the channel's post of it (papers never queued are absent)."""
        ids = list(paper_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            "SELECT paper_id, state, last_error, attempts FROM outbox"
            f" WHERE kind = 'post' AND channel_id = ? AND paper_id IN ({marks})",
            [channel_id, *ids],
        )
        return {
            row["paper_id"]: DeliveryState(row["state"], row["last_error"], row["attempts"])
            for row in rows
        }

    # --- retention ----------------------------------------------------------------------------

    async def prune_history(
        self,
        *,
        sent_before: datetime,
        listed_before: date,
        after: int | None = None,
        batch: int = 2000,
    ) -> PruneBatch:
        """Retention, one batch: of the next ``batch`` rows after id ``after``, delete the 'sent'
        and 'dropped' posts (and their threads' rows) sent (or dropped) before ``sent_before``
        whose paper was last listed before ``listed_before`` (or never), adding each pruned
        'sent' post to the channel's ``delivery_history`` in the same transaction. A pruned
        thread row is never queued again: only recording its post queues one.

        Calling again with ``PruneBatch.next`` walks the table once, holding the write lock only
        for one batch at a time. Pending rows are never deleted, nor is anything in ``posts``
        (reactions and buttons resolve their paper through it).
        """
        async with self.db.transaction() as conn:
            rows = await _rows(
                conn,
                "WITH scanned AS (SELECT id, kind, channel_id, paper_id, state, sent_at,"
                "  created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?)"
                " SELECT id, kind, channel_id, state, sent_at,"
                " kind IN ('post', 'thread') AND state IN ('sent', 'dropped')"
                " AND coalesce(sent_at, created_at) < ?"
                " AND coalesce((SELECT max(l.listed_on) FROM paper_listings AS l"
                "   WHERE l.paper_id = scanned.paper_id), '') < ? AS doomed"
                " FROM scanned",
                (after or 0, batch, to_iso(sent_before), listed_before.isoformat()),
            )
            doomed = [row for row in rows if row["doomed"]]
            history: dict[int, tuple[int, str]] = {}
            for row in doomed:
                if row["kind"] == "post" and row["state"] == "sent":
                    count, latest = history.get(row["channel_id"], (0, ""))
                    history[row["channel_id"]] = (count + 1, max(latest, row["sent_at"] or ""))
            await conn.executemany(
                "INSERT INTO delivery_history (channel_id, sent_pruned, last_sent_at)"
                " VALUES (?, ?, nullif(?, '')) ON CONFLICT (channel_id) DO UPDATE SET"
                " sent_pruned = delivery_history.sent_pruned + excluded.sent_pruned,"
                " last_sent_at = nullif("
                + greatest(
                    self.db.dialect,
                    "coalesce(delivery_history.last_sent_at, '')",
                    "coalesce(excluded.last_sent_at, '')",
                )
                + ", '')",
                [(channel, count, latest) for channel, (count, latest) in history.items()],
            )
            await conn.executemany(
                "DELETE FROM outbox WHERE id = ?", [(row["id"],) for row in doomed]
            )
        last = rows[-1]["id"] if len(rows) == batch else None
        return PruneBatch(deleted=len(doomed), next=last)

    async def after_prune(self) -> None:
        """Refresh the planner's statistics once a prune has changed the table a lot."""
        await self.db.optimize()

    # --- notices ------------------------------------------------------------------------------

    async def outage_notified(self) -> bool:
        value = await self.db.fetchval("SELECT value FROM bot_state WHERE key = ?", (_OUTAGE_KEY,))
        return bool(value and json.loads(value))

    async def announce_outage(
        self, notified: bool, *, kind: NoticeKind, body: str, now: datetime, nonce: NonceFactory
    ) -> int:
        """Flip the "channels were told about an outage" flag to ``notified`` and, if it changed,
        queue ``body`` to every active subscription. Returns how many notices were queued.

        Flag and notices change in one transaction: each outage is announced once, and its end
        once, however many polls fail and whatever restarts happen in between.
        """
        async with self.db.transaction() as conn:
            rows = await _rows(conn, "SELECT value FROM bot_state WHERE key = ?", (_OUTAGE_KEY,))
            current = bool(rows and json.loads(rows[0][0]))
            if current == notified:
                return 0
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_OUTAGE_KEY, json.dumps(notified)),
            )
            channels = [
                row[0]
                for row in await _rows(
                    conn,
                    "SELECT DISTINCT channel_id FROM subscriptions WHERE paused_reason IS NULL",
                )
            ]
            moment = to_iso(now)
            await conn.executemany(
                "INSERT INTO outbox (kind, channel_id, topic, body, nonce, created_at)"
                " VALUES ('notice', ?, ?, ?, ?, ?)",
                [(channel, kind, body, nonce(), moment) for channel in channels],
            )
        return len(channels)


async def _insert_post(
    conn: Connection,
    *,
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    paper_id: str,
    kind: PostKind,
    upvotes: int,
    comments: int,
    moment: str,
    style: CardStyle,
) -> None:
    # A resend with the same nonce returns the same message: keep the first posted_at.
    await conn.execute(
        "INSERT INTO posts (message_id, channel_id, guild_id, paper_id, kind, posted_at,"
        " shown_upvotes, shown_comments, style) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (message_id) DO NOTHING",
        (message_id, channel_id, guild_id, paper_id, kind, moment, upvotes, comments, style),
    )


class PostRepo:
    """Messages that show a paper: for bookmarks (message → paper) and live-upvote edits."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_post(
        self,
        message_id: int,
        channel_id: int,
        guild_id: int | None,
        paper_id: str,
        kind: PostKind,
        upvotes: int,
        comments: int,
        *,
        now: datetime | None = None,
        style: CardStyle = "full",
    ) -> None:
        """Register a message that shows ``paper_id`` (an auto-post or a public /papers show),
        with the upvotes and comments it shows and its card's style. Registering the same
        message again is a no-op."""
        async with self.db.transaction() as conn:
            await _insert_post(
                conn,
                message_id=message_id,
                channel_id=channel_id,
                guild_id=guild_id,
                paper_id=paper_id,
                kind=kind,
                upvotes=upvotes,
                comments=comments,
                moment=to_iso(now or utc_now()),
                style=style,
            )

    async def get(self, message_id: int) -> Post | None:
        row = await self.db.fetchone("SELECT * FROM posts WHERE message_id = ?", (message_id,))
        return None if row is None else _post(row)

    async def paper_for_message(self, message_id: int) -> str | None:
        """The paper a bot message shows, or None when the message is not one of ours."""
        value = await self.db.fetchval(
            "SELECT paper_id FROM posts WHERE message_id = ?", (message_id,)
        )
        return None if value is None else str(value)

    async def stale_posts(
        self, *, kind: PostKind, posted_since: datetime, last_shown_before: datetime
    ) -> list[tuple[Post, int, int]]:
        """Posts since ``posted_since`` whose paper's counts differ from what they show and that
        were not posted, edited or last tried after ``last_shown_before``: (post, upvotes,
        comments)."""
        rows = await self.db.fetchall(
            "SELECT po.*, p.upvotes AS now_upvotes, p.num_comments AS now_comments"
            " FROM posts AS po JOIN papers AS p ON p.id = po.paper_id"
            " WHERE po.kind = ? AND po.posted_at >= ?"
            " AND coalesce(po.edited_at, po.posted_at) <= ?"
            " AND (p.upvotes != po.shown_upvotes OR p.num_comments != po.shown_comments)"
            " ORDER BY p.upvotes DESC, po.message_id",
            (kind, to_iso(posted_since), to_iso(last_shown_before)),
        )
        return [(_post(row), row["now_upvotes"], row["now_comments"]) for row in rows]

    async def record_edit(
        self, message_id: int, *, upvotes: int, comments: int, now: datetime
    ) -> None:
        """The message was edited and now shows these counts."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE posts SET shown_upvotes = ?, shown_comments = ?, edited_at = ?"
                " WHERE message_id = ?",
                (upvotes, comments, to_iso(now), message_id),
            )

    async def record_edit_attempt(self, message_id: int, *, now: datetime) -> None:
        """An edit failed: the message still shows what it showed. Only the time is noted
        (``edited_at`` is the last edit *or attempt*), so it is tried again after the usual
        interval rather than at once."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE posts SET edited_at = ? WHERE message_id = ?", (to_iso(now), message_id)
            )

    async def forget(self, message_id: int) -> None:
        """Drop a post whose message is gone (deleted in Discord)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM posts WHERE message_id = ?", (message_id,))
