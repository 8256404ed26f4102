"""The rate budget: this process's share of Discord's global limit, on an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery import RateBudget


class FakeTime:
    """A clock that only moves when the budget sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget(time: FakeTime, rate: float, burst: float = 1.0) -> RateBudget:
    return RateBudget(rate, burst=burst, clock=time.clock, sleep=time.sleep)


async def test_requests_are_spaced_at_the_rate() -> None:
    time = FakeTime()
    twenty = budget(time, 20.0)
    for _ in range(41):
        await twenty.wait()
    # The first goes at once, each later one 1/20 s after the one before: 40 more in 2 s.
    assert time.sleeps == pytest.approx([0.05] * 40)
    assert time.now == pytest.approx(102.0)


async def test_a_pause_saves_at_most_the_burst() -> None:
    time = FakeTime()
    bursty = budget(time, 10.0, burst=3.0)
    for _ in range(3):
        await bursty.wait()
    assert time.sleeps == []  # three at once
    time.now += 60.0  # a long pause refills three tokens, not six hundred
    for _ in range(5):
        await bursty.wait()
    assert time.sleeps == pytest.approx([0.1, 0.1])


async def test_concurrent_senders_share_one_budget_in_order() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # all four ask at the same moment
        sleeps.append(seconds)
        await asyncio.sleep(0)

    shared = RateBudget(4.0, clock=lambda: 100.0, sleep=sleep)
    # Each reserves its slot when it asks: the first at once, then 1/4 s, 2/4 s, 3/4 s later.
    await asyncio.gather(*(shared.wait() for _ in range(4)))
    assert sleeps == pytest.approx([0.25, 0.5, 0.75])


async def test_in_any_second_a_process_stays_within_its_share() -> None:
    time = FakeTime()
    share = budget(time, 24.0)  # two processes: 48 of Discord's 50
    moments = []
    for _ in range(200):
        await share.wait()
        moments.append(time.now)
    worst = max(sum(1 for m in moments if start <= m < start + 1.0) for start in moments)
    assert worst <= 25


def test_a_budget_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateBudget(0.0)
