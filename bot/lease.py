"""The lease on the work that must happen once across processes, and the poll ticks it gates.

Polling Hugging Face (and what each poll starts: queueing deliveries, alerts, pruning), syncing
slash commands and queueing digests run only in the process holding the lease. On PostgreSQL
that is a row (``leases``: holder, expires_at) taken or renewed with one statement every third
of the period while the process lives, given back at a clean shutdown, and lost when a renewal
fails or another process has it; a process that dies leaves it to expire, and another takes it
over within two periods. On SQLite the bot is one process: it always holds it, and nothing is
stored (``SoleProcess``).

Correctness never rests on the lease alone: at a hand-over two processes may both believe they
hold it for a moment, so each scheduled poll also claims its tick (``poll_slots``) and only the
claim that inserted the row polls; the outbox's unique keys keep fan-out to one post per channel.
Hosts' clocks must agree to well within a period (expiry is compared across processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.metrics import process_name
from bot.store.db import utc_now
from bot.store.leases import LeaseRepo

log = logging.getLogger(__name__)

# The one lease: whoever holds it polls, syncs commands and queues digests.
ONCE = "once"
# Past the next tick's start, so that the claim lands in it (clocks are not exact).
SLOT_MARGIN = 0.05

Listener = Callable[[], None]


def holder_id() -> str:
    """``hostname:pid:random``: readable in /feed status and /metrics, unique per start."""
    return f"{process_name()}:{uuid.uuid4().hex[:6]}"


class Lease(Protocol):
    """What the bot asks of a lease, on either database."""

    name: str
    holder: str

    @property
    def held(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def on_acquired(self, listener: Listener) -> None: ...

    def remove_listener(self, listener: Listener) -> None: ...

    async def current_holder(self) -> str | None: ...


class SoleProcess:
    """SQLite: the only process, which always holds the lease (no row, no renewals)."""

    def __init__(self, holder: str, name: str = ONCE) -> None:
        self.name = name
        self.holder = holder

    @property
    def held(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def on_acquired(self, listener: Listener) -> None:
        return None  # held from the start, never lost: nothing to tell

    def remove_listener(self, listener: Listener) -> None:
        return None

    async def current_holder(self) -> str | None:
        return self.holder


class DatabaseLease:
    """A lease row renewed every ``period / 3`` while started.

    ``held`` is also bounded locally: a renewal that hangs does not keep the process believing it
    holds the lease past ``period`` after the last renewal that succeeded.
    """

    def __init__(
        self,
        repo: LeaseRepo,
        *,
        holder: str,
        period: float,
        name: str = ONCE,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.name = name
        self.holder = holder
        self.period = period
        self.clock = clock
        self.monotonic = monotonic
        self._valid_until = -math.inf
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self.monotonic() < self._valid_until

    def on_acquired(self, listener: Listener) -> None:
        """Call ``listener`` whenever this process takes the lease (not on each renewal)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (a bot that closed); no-op if it was not listening."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def renew(self) -> bool:
        """One attempt to take or keep the lease; whether this process holds it now."""
        was_held = self.held
        started = self.monotonic()
        try:
            won = await asyncio.wait_for(
                self.repo.acquire(
                    self.name, self.holder, now=self.clock(), period=timedelta(seconds=self.period)
                ),
                self.period / 3,
            )
        except Exception as exc:  # the database did not answer: the lease is as good as lost
            log.warning("could not renew the lease %r: %s", self.name, str(exc) or type(exc))
            won = False
        self._valid_until = started + self.period if won else -math.inf
        if won and not was_held:
            log.info("took the lease %r as %s", self.name, self.holder)
            for listener in self._listeners:
                listener()
        elif was_held and not won:
            log.warning("lost the lease %r: another process does the work done once", self.name)
        return won

    async def start(self) -> None:
        """Try to take the lease now, then keep trying (or renewing) in the background."""
        if self._task is None:
            await self.renew()
            self._task = asyncio.create_task(self._run(), name=f"papers-bot-lease-{self.name}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period / 3)
            await self.renew()

    async def stop(self) -> None:
        """Stop renewing and give the lease back, so another process takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.held:
            self._valid_until = -math.inf
            try:
                await self.repo.release(self.name, self.holder)
            except Exception as exc:  # it expires on its own
                log.warning("could not release the lease %r: %s", self.name, exc)
            else:
                log.info("released the lease %r", self.name)

    async def current_holder(self) -> str | None:
        """The process holding the lease now, by the database (None: nobody)."""
        row = await self.repo.holder_of(self.name, now=self.clock())
        return None if row is None else row.holder


class PollGate:
    """Whether this process polls now: it holds the lease and, for a scheduled tick, won that
    tick's slot (``floor(epoch / interval)``). An on-demand poll needs the lease only."""

    def __init__(
        self,
        lease: Lease,
        repo: LeaseRepo,
        interval: float,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.lease = lease
        self.repo = repo
        self.interval = interval
        self.clock = clock

    def slot(self, moment: datetime) -> int:
        return math.floor(moment.timestamp() / self.interval)

    async def admit(self, *, on_demand: bool = False) -> bool:
        if not self.lease.held:
            return False
        if on_demand:
            return True
        now = self.clock()
        try:
            return await self.repo.claim_slot(self.slot(now), self.lease.holder, now=now)
        except Exception:
            log.exception("could not claim a poll tick; trying again at the next one")
            return False

    def retry_in(self) -> float:
        """Seconds until a refused poll is worth asking again: the next tick, or a whole
        interval without the lease (taking it over wakes the poller anyway)."""
        if not self.lease.held:
            return self.interval
        epoch = self.clock().timestamp()
        return (self.slot(self.clock()) + 1) * self.interval - epoch + SLOT_MARGIN
