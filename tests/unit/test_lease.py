"""The lease on the work done once, and poll ticks claimed once: on the store, as an engine,
and as two pollers sharing one database (the ``db`` fixture runs each on every database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.ingest import IngestService, PollReport
from bot.lease import DatabaseLease, PollGate, SoleProcess, holder_id
from bot.metrics import process_name
from bot.models import DailyPage, Paper
from bot.poller import Poller
from bot.store.db import Database
from bot.store.leases import SLOTS_KEPT, LeaseRepo
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo

NOW = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
PERIOD = timedelta(seconds=30)


class Clocks:
    """The wall clock (shared by the database's expiry) and a monotonic one, both in our hands."""

    def __init__(self) -> None:
        self.now = NOW
        self.mono = 1000.0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def lease(db: Database, holder: str, clocks: Clocks, period: float = 30.0) -> DatabaseLease:
    return DatabaseLease(
        LeaseRepo(db), holder=holder, period=period, clock=clocks.wall, monotonic=clocks.monotonic
    )


# --- the store -------------------------------------------------------------------------------


async def test_one_holder_at_a_time_until_its_lease_expires(db: Database) -> None:
    repo = LeaseRepo(db)
    assert await repo.acquire("once", "a", now=NOW, period=PERIOD)
    assert not await repo.acquire("once", "b", now=NOW + timedelta(seconds=29), period=PERIOD)
    # a renews: its lease now runs 30 s from the renewal, and b still waits.
    assert await repo.acquire("once", "a", now=NOW + timedelta(seconds=20), period=PERIOD)
    assert not await repo.acquire("once", "b", now=NOW + timedelta(seconds=45), period=PERIOD)
    holder = await repo.holder_of("once", now=NOW + timedelta(seconds=45))
    assert holder is not None and holder.holder == "a"
    assert holder.expires_at == NOW + timedelta(seconds=50)
    # a stops renewing: past its expiry b takes over, and a's next renewal loses.
    assert await repo.holder_of("once", now=NOW + timedelta(seconds=51)) is None
    assert await repo.acquire("once", "b", now=NOW + timedelta(seconds=51), period=PERIOD)
    assert not await repo.acquire("once", "a", now=NOW + timedelta(seconds=52), period=PERIOD)


async def test_a_released_lease_is_taken_at_once_and_only_its_holder_releases_it(
    db: Database,
) -> None:
    repo = LeaseRepo(db)
    assert await repo.acquire("once", "a", now=NOW, period=PERIOD)
    await repo.release("once", "b")  # not b's to give
    assert not await repo.acquire("once", "b", now=NOW, period=PERIOD)
    await repo.release("once", "a")
    assert await repo.acquire("once", "b", now=NOW, period=PERIOD)
    assert await repo.acquire("other", "a", now=NOW, period=PERIOD)  # leases are per name


async def test_each_poll_tick_is_claimed_once_and_old_ticks_are_pruned(db: Database) -> None:
    repo = LeaseRepo(db)
    assert await repo.claim_slot(5, "a", now=NOW)
    assert not await repo.claim_slot(5, "b", now=NOW)
    assert await repo.claim_slot(6, "b", now=NOW)
    assert await repo.claim_slot(6 + SLOTS_KEPT, "a", now=NOW)
    slots = [row[0] for row in await db.fetchall("SELECT slot FROM poll_slots ORDER BY slot")]
    assert slots == [6, 6 + SLOTS_KEPT]  # 5 is too old to keep


# --- the engine ------------------------------------------------------------------------------


async def test_a_lease_is_taken_renewed_lost_and_taken_over(db: Database) -> None:
    clocks = Clocks()
    first, second = lease(db, "host:1:aaaaaa", clocks), lease(db, "host:2:bbbbbb", clocks)
    taken: list[str] = []
    first.on_acquired(lambda: taken.append("first"))
    second.on_acquired(lambda: taken.append("second"))

    assert await first.renew() and first.held
    assert not await second.renew() and not second.held
    clocks.advance(10)
    assert await first.renew()  # a renewal is not a new acquisition
    assert taken == ["first"]
    assert await second.current_holder() == "host:1:aaaaaa"

    # first stops renewing (its process hangs): 30 s after its last renewal it no longer
    # believes it holds the lease, and second takes it over.
    clocks.advance(29)
    assert first.held
    clocks.advance(1.5)
    assert not first.held
    assert await second.renew() and taken == ["first", "second"]
    assert not await first.renew() and not first.held
    assert await first.current_holder() == "host:2:bbbbbb"


async def test_a_clean_stop_hands_the_lease_over_at_once(db: Database) -> None:
    clocks = Clocks()
    first, second = lease(db, "a", clocks), lease(db, "b", clocks)
    await first.start()
    await second.start()
    try:
        assert first.held and not second.held
        await first.stop()
        assert not first.held
        assert await second.renew()
    finally:
        await first.stop()
        await second.stop()
    assert await second.current_holder() is None  # released at its stop too


async def test_a_renewal_that_fails_loses_the_lease(db: Database) -> None:
    clocks = Clocks()
    holder = lease(db, "a", clocks)
    assert await holder.renew()

    async def refuse(*_args: object, **_kwargs: object) -> bool:
        raise ConnectionError("the database went away")

    holder.repo.acquire = refuse  # type: ignore[method-assign]
    assert not await holder.renew() and not holder.held


async def test_the_lease_is_renewed_in_the_background_every_third_of_its_period(
    db: Database,
) -> None:
    clocks = Clocks()
    holder = lease(db, "a", clocks, period=0.3)  # renews every 0.1 s of real time
    renewals = 0
    renewed_thrice = asyncio.Event()
    acquire = holder.repo.acquire

    async def counting(*args: object, **kwargs: object) -> bool:
        nonlocal renewals
        renewals += 1
        if renewals == 3:
            renewed_thrice.set()
        return await acquire(*args, **kwargs)  # type: ignore[arg-type]

    holder.repo.acquire = counting  # type: ignore[method-assign]
    await holder.start()
    try:
        await asyncio.wait_for(renewed_thrice.wait(), 10)
        assert holder.held
    finally:
        await holder.stop()


def test_the_holder_id_names_host_and_process_and_differs_per_start() -> None:
    one, other = holder_id(), holder_id()
    assert one.startswith(process_name() + ":") and one != other


async def test_on_sqlite_the_one_process_always_holds_the_lease() -> None:
    sole = SoleProcess("host:1:abcdef")
    await sole.start()
    assert sole.held and await sole.current_holder() == "host:1:abcdef"
    await sole.stop()
    assert sole.held


# --- two pollers, one database ---------------------------------------------------------------


class EmptySource:
    """Hugging Face with nothing listed."""

    async def fetch_daily(self, day: date) -> DailyPage:
        return DailyPage(day, ())

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


class CountingIngest(IngestService):
    """A poll that only counts (the store's papers are not what these tests are about)."""

    async def poll(self) -> PollReport:
        return PollReport(days=())


class AlwaysHeld(SoleProcess):
    """Both processes believe they hold the lease (the moment of a hand-over)."""


async def test_two_pollers_that_both_believe_they_hold_the_lease_poll_a_tick_once(
    db: Database,
) -> None:
    repo = LeaseRepo(db)
    # The same tick for both: the clock stands still, the interval is long.
    gates = [PollGate(AlwaysHeld(name), repo, 600.0, clock=lambda: NOW) for name in "ab"]
    admitted = await asyncio.gather(*(gate.admit() for gate in gates))
    assert sorted(admitted) == [False, True]
    assert all(gate.retry_in() == pytest.approx(600.05) for gate in gates)  # NOW is on a tick
    # An on-demand poll (tests, "poll now") needs the lease but no tick.
    assert await gates[0].admit(on_demand=True)


async def test_only_the_lease_holder_polls(db: Database) -> None:
    clocks = Clocks()
    holder, other = lease(db, "a", clocks), lease(db, "b", clocks)
    assert await holder.renew() and not await other.renew()
    repo = LeaseRepo(db)
    pollers = []
    for held in (holder, other):
        ingest = CountingIngest(EmptySource(), PaperRepo(db), StateRepo(db), clock=lambda: NOW)
        gate = PollGate(held, repo, 0.05)  # the real clock: a new tick every 50 ms
        pollers.append(Poller(ingest, 0.05, gate=gate))
    for poller in pollers:
        poller.start()
    try:
        await asyncio.wait_for(pollers[0].wait_for_polls(3), 10)
        pollers[1].poll_now()  # asked, but without the lease it does not poll
        await asyncio.wait_for(pollers[0].wait_for_polls(4), 10)
    finally:
        for poller in pollers:
            await poller.stop()
    assert pollers[1].polls == 0 and pollers[0].polls >= 4
