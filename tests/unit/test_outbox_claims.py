"""Outbox claims across processes: each row is claimed by one process at a time, a dead
claimer's claim expires, only the claimer records the outcome, and a sharded process claims only
its own guilds' channels. Two ``Database`` objects on one database stand for two processes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.engine import SEND_TIMEOUT
from bot.shards import ShardSet
from bot.store.db import Database, database_at, to_iso
from bot.store.feed import CLAIM_FOR, DueDelivery, OutboxRepo, Subscription, SubscriptionRepo

START = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
TODAY = START.date()
CLAIM = timedelta(seconds=60)
PAPERS = [f"2606.{n:05d}" for n in range(40)]
# Guild ids on shard 0 and shard 1 of two: (guild_id >> 22) % 2.
GUILD_SHARD_0 = 4 << 22
GUILD_SHARD_1 = 5 << 22
NEWS = 11
ROBOTS = 12


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def two_processes(database_target: Path | str) -> AsyncIterator[tuple[Database, Database]]:
    """Two stores on one database (two connections to the file; two pools on the server)."""
    async with database_at(database_target) as first, database_at(database_target) as second:
        yield first, second


async def seed(db: Database, channel: int = NEWS, guild: int = GUILD_SHARD_0) -> Subscription:
    """A subscription of ``channel`` with a pending post of every paper in PAPERS."""
    moment = to_iso(START)
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO papers (id, title, abstract, first_seen_at, updated_at)"
            " VALUES (?, 'A title', 'An abstract.', ?, ?) ON CONFLICT DO NOTHING",
            [(paper_id, moment, moment) for paper_id in PAPERS],
        )
    saved = await SubscriptionRepo(db).save(
        channel_id=channel,
        guild_id=guild,
        min_upvotes=None,
        keywords=None,
        since_day=TODAY,
        created_by=None,
        now=START,
    )
    subscription = saved.subscription
    nonces = iter(f"{channel}-{n}" for n in range(len(PAPERS)))
    queued = await OutboxRepo(db).queue_posts(
        [(subscription, paper_id, TODAY) for paper_id in PAPERS],
        now=START,
        nonce=lambda: next(nonces),
    )
    assert queued == len(PAPERS)
    return subscription


def claimer(db: Database, name: str, clock: Clock, shards: ShardSet | None = None) -> OutboxRepo:
    return OutboxRepo(db, claimer=name, shards=shards, claim_for=CLAIM, clock=clock)


async def claim_all_due(outbox: OutboxRepo, channel: int, now: datetime) -> list[int]:
    """What one process's drain does: read the channel's due posts, claim each; the ids won."""
    won = []
    for row in await outbox.due_posts(channel, now, limit=len(PAPERS)):
        if await outbox.claim(row):
            won.append(row.id)
    return won


async def only_row(outbox: OutboxRepo, channel: int, now: datetime) -> DueDelivery:
    rows = await outbox.due_posts(channel, now, limit=1)
    assert rows, "nothing due"
    return rows[0]


async def test_two_processes_claiming_at_once_never_get_the_same_row(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    await seed(first)
    clock = Clock(START)
    a, b = claimer(first, "a", clock), claimer(second, "b", clock)

    won_a, won_b = await asyncio.gather(
        claim_all_due(a, NEWS, START), claim_all_due(b, NEWS, START)
    )

    assert not set(won_a) & set(won_b)
    assert len(won_a) + len(won_b) == len(PAPERS)
    rows = await first.fetchall("SELECT id, claimed_by, attempts FROM outbox")
    assert {row["id"]: row["claimed_by"] for row in rows} == {
        **dict.fromkeys(won_a, "a"),
        **dict.fromkeys(won_b, "b"),
    }
    assert {row["attempts"] for row in rows} == {1}  # each sent once


async def test_a_claim_keeps_others_off_until_it_expires(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    await seed(first)
    clock = Clock(START)
    a, b = claimer(first, "a", clock), claimer(second, "b", clock)
    row = await only_row(a, NEWS, START)
    assert await a.claim(row)  # … and then process a dies mid-send

    clock.now = START + CLAIM / 2
    claimed = (await b.due_posts(NEWS, clock.now, limit=len(PAPERS)))[0]
    assert claimed.id != row.id  # not due for b while a's claim holds
    assert not await b.claim(dataclasses.replace(row, attempts=1))
    assert await b.next_due_at() == START + CLAIM  # b wakes when the claim expires

    clock.now = START + CLAIM
    again = await only_row(b, NEWS, clock.now)
    assert (again.id, again.attempts) == (row.id, 1)  # "maybe sent": b looks before resending
    assert await b.claim(again)
    assert await second.fetchval("SELECT claimed_by FROM outbox WHERE id = ?", (row.id,)) == "b"


async def test_a_process_that_lost_its_claim_records_nothing(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    await seed(first)
    clock = Clock(START)
    a, b = claimer(first, "a", clock), claimer(second, "b", clock)
    row = await only_row(a, NEWS, START)
    assert await a.claim(row)
    clock.now = START + CLAIM + timedelta(seconds=1)
    taken = await only_row(b, NEWS, clock.now)
    assert await b.claim(taken)

    # a comes back from its stall: none of its outcomes lands.
    await a.mark_posted(
        row, message_id=500, upvotes=1, comments=0, now=clock.now, nonce=lambda: "thread-a"
    )
    await a.mark_sent(row, message_id=501, now=clock.now)
    await a.retry_later(row, error="timed out", at=clock.now + timedelta(minutes=5))
    await a.drop(row, error="refused")
    await a.release(row)
    state = await first.fetchone(
        "SELECT state, message_id, attempts, next_attempt_at, last_error, claimed_by"
        " FROM outbox WHERE id = ?",
        (row.id,),
    )
    assert state is not None
    assert tuple(state) == ("pending", None, 2, None, None, "b")
    # The message a's stalled send created is still known, so reactions on it resolve.
    assert await first.fetchval("SELECT paper_id FROM posts WHERE message_id = 500") == row.paper_id

    await b.mark_posted(
        taken, message_id=600, upvotes=1, comments=0, now=clock.now, nonce=lambda: "thread-b"
    )
    # Long after b's claim ended, a's late record still leaves b's as it is.
    clock.now += 10 * CLAIM
    await a.mark_sent(row, message_id=501, now=clock.now)
    recorded = await second.fetchone(
        "SELECT state, message_id, claimed_until FROM outbox WHERE id = ?", (row.id,)
    )
    assert recorded is not None
    assert tuple(recorded) == ("sent", 600, None)


async def test_a_sharded_process_claims_only_its_own_guilds_channels(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    await seed(first, NEWS, GUILD_SHARD_0)
    await seed(first, ROBOTS, GUILD_SHARD_1)
    clock = Clock(START)
    shard_0 = claimer(first, "a", clock, ShardSet.of(2, [0]))
    shard_1 = claimer(second, "b", clock, ShardSet.of(2, [1]))

    assert await shard_0.due_channels(START) == [NEWS]
    assert await shard_1.due_channels(START) == [ROBOTS]
    robots_row = (await shard_1.due_posts(ROBOTS, START, limit=1))[0]
    assert not await shard_0.claim(robots_row)  # read by mistake: still not this shard's
    assert await shard_1.claim(robots_row)
    everything = claimer(first, "c", clock, ShardSet.of(2))  # both shards: no filter
    assert sorted(await everything.due_channels(START)) == [NEWS, ROBOTS]


async def test_a_restart_releases_the_claims_its_crashed_run_left(db: Database) -> None:
    await seed(db)
    clock = Clock(START)
    crashed = claimer(db, "run-1", clock)
    row = await only_row(crashed, NEWS, START)
    assert await crashed.claim(row)

    restarted = claimer(db, "run-2", clock)
    await restarted.release_claims()
    due = await restarted.due_posts(NEWS, START, limit=1)
    if db.dialect == "sqlite":
        # One process only: whatever claim is left is a crashed run's, sent again at once.
        assert [item.id for item in due] == [row.id]
        assert await restarted.claim(due[0])
    else:
        # Another process may be alive and sending it: its claim must expire first.
        assert row.id not in {item.id for item in due}
        await crashed.release_claims()  # its own claims, as it does when it starts again
        assert (await only_row(restarted, NEWS, START)).id == row.id


def test_a_claim_outlasts_a_send() -> None:
    assert CLAIM_FOR.total_seconds() > SEND_TIMEOUT
