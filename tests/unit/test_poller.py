"""The poll loop: however long a 429 asks us to wait, the next poll comes within the cap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import aiohttp
import pytest

from bot.errors import RateLimitedError
from bot.hf.client import HFClient
from bot.ingest import IngestService
from bot.models import DailyPage, Paper
from bot.poller import Poller
from bot.store.db import Database
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.fakes.fake_hf import FakeHF

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
# Tiny on purpose: a poller that honoured the header instead of the cap would never poll again
# within the test's timeout.
INTERVAL = 0.01
CAP = 0.05


class LimitedSource:
    """Always answers like a client that did not clamp the server's wait (defence in depth)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after

    async def fetch_daily(self, day: date) -> DailyPage:
        raise RateLimitedError("Hugging Face is asking us to slow down.", self.retry_after)

    async def fetch_paper(self, arxiv_id: str) -> Paper | None:
        return None


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def fake_hf() -> AsyncIterator[FakeHF]:
    async with FakeHF() as hf:
        yield hf


async def polls_again(poller: Poller, count: int = 3) -> None:
    poller.start()
    try:
        await asyncio.wait_for(poller.wait_for_polls(count), 10)
    finally:
        await poller.stop()


@pytest.mark.parametrize(
    "retry_after", ["inf", "1e400", "315360000", "Fri, 31 Dec 9999 23:59:59 GMT"]
)
async def test_a_429_asking_for_forever_postpones_the_next_poll_only_up_to_the_cap(
    db: Database,
    session: aiohttp.ClientSession,
    fake_hf: FakeHF,
    retry_after: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_hf.fail("daily", 429, times=100, headers={"Retry-After": retry_after})
    client = HFClient(session, fake_hf.base_url, max_backoff=0.01)
    ingest = IngestService(client, PaperRepo(db), StateRepo(db), clock=lambda: NOW)
    poller = Poller(ingest, INTERVAL, max_retry_wait=CAP)

    with caplog.at_level(logging.WARNING, logger="bot.poller"):
        await polls_again(poller)

    report = poller.last_report
    assert report is not None and not report.ok and "slow down" in (report.error or "")
    assert "polling again in 0.05 s" in caplog.text


@pytest.mark.parametrize("retry_after", [float("inf"), float("nan"), 1e308, -5.0])
async def test_the_poller_caps_whatever_wait_a_report_carries(
    db: Database, retry_after: float
) -> None:
    source = LimitedSource(retry_after)
    ingest = IngestService(source, PaperRepo(db), StateRepo(db), clock=lambda: NOW)
    poller = Poller(ingest, INTERVAL, max_retry_wait=CAP)

    await polls_again(poller)

    assert (await ingest.status()).consecutive_failures >= 3
