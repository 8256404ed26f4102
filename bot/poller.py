"""The background poll: Hugging Face now, then every POLL_INTERVAL_SECONDS, forever."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.ingest import IngestService, PollReport

if TYPE_CHECKING:
    from bot.lease import PollGate

log = logging.getLogger(__name__)

PollHook = Callable[[PollReport], Awaitable[object]]  # what a hook returns is ignored
# The longest a 429 may postpone the next poll: past this the poller asks again (and is told
# again to wait) rather than trusting one answer for hours. The poll interval itself is kept.
MAX_RETRY_WAIT = 3600.0


class Poller:
    """Runs ``IngestService.poll`` on a schedule and hands each report to the hooks.

    A failed poll or a failing hook is logged and never stops the loop. ``poll_now()`` wakes the
    loop early and ``wait_for_polls()`` waits for it: tests and benches drive the real loop with
    them instead of waiting for the clock. Between polls it waits ``interval`` seconds, or longer
    when Hugging Face asked (a 429), but never longer than ``max(interval, max_retry_wait)``.

    With several processes a ``gate`` says whether this one polls (it holds the lease and won
    the tick); a refused tick is asked again when the gate says, or when ``wake()`` is called
    (the lease was taken over). Without one (SQLite: one process) every tick polls.
    """

    def __init__(
        self,
        ingest: IngestService,
        interval: float,
        *,
        max_retry_wait: float = MAX_RETRY_WAIT,
        gate: PollGate | None = None,
    ) -> None:
        self.ingest = ingest
        self.interval = interval
        self.max_retry_wait = max_retry_wait
        self.gate = gate
        self._asked = False
        self.hooks: list[PollHook] = []
        self.polls = 0
        self.last_report: PollReport | None = None
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def add_hook(self, hook: PollHook) -> None:
        self.hooks.append(hook)

    def start(self) -> None:
        if self._task is None:
            # The first poll needs the lease but no tick: a restart within a tick (a deploy)
            # polls at once, as a single process does; only the lease holder polls at all.
            self._asked = True
            self._task = asyncio.create_task(self._run(), name="papers-bot-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poll_now(self) -> None:
        """Poll at once (this tick needs no slot, but a gated poller still needs the lease)."""
        self._asked = True
        self._wake.set()

    def wake(self) -> None:
        """Ask the gate again now (this process just took the lease)."""
        self._wake.set()

    async def wait_for_polls(self, count: int) -> PollReport | None:
        """Wait until ``count`` polls have completed in total (tests wrap it in a timeout)."""
        async with self._done:
            await self._done.wait_for(lambda: self.polls >= count)
        return self.last_report

    async def poll_once(self) -> PollReport:
        report = await self.ingest.poll()
        for hook in self.hooks:
            try:
                await hook(report)
            except Exception:
                log.exception("a poll hook failed")
        self.last_report = report
        async with self._done:
            self.polls += 1
            self._done.notify_all()
        return report

    def _delay_after(self, report: PollReport | None) -> float:
        """Seconds until the next poll after ``report`` (None: the poll raised)."""
        asked = report.retry_after if report is not None else None
        if asked is None or math.isnan(asked) or asked <= self.interval:
            return self.interval
        delay = min(asked, max(self.interval, self.max_retry_wait))
        log.warning("Hugging Face asked us to wait %g s; polling again in %g s", asked, delay)
        return delay

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            on_demand, self._asked = self._asked, False
            if self.gate is not None and not await self.gate.admit(on_demand=on_demand):
                delay = self.gate.retry_in()  # another process polls this tick
            else:
                report: PollReport | None = None
                try:
                    report = await self.poll_once()
                except Exception:  # never let the loop die; the error is in the log
                    log.exception("poll failed")
                delay = self._delay_after(report)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
