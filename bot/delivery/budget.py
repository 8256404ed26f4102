"""This process's share of Discord's global request limit: a token bucket every send waits on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateBudget:
    """At most ``rate`` requests per second on average, and ``burst`` at once after a pause.

    A request takes a token; tokens come back at ``rate`` per second up to ``burst``. When none
    is left the request reserves the next one (the count goes below zero) and sleeps until it is
    due, so concurrent senders are served in the order they asked, without a lock. The default
    burst of 1 spaces requests evenly: Discord counts its global limit in one-second windows,
    and a burst on top of a full second's rate would cross it.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate budget needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._at = clock()

    async def wait(self) -> None:
        """Return when this request may be made."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.rate)
