"""Alert DMs through the delivery engine and a fake ``Sender``: drained per member beside the
channels, retried with backoff, paused on closed DMs, and stopped with everything else when the
token is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.alerts import AlertDigest, AlertService
from bot.delivery import DeliveryEngine, SendFailed, SentMessage
from bot.outcomes import CANNOT_MESSAGE_USER, Outcome, read_answer, transient
from bot.store.alerts import AlertRepo
from bot.store.db import Database
from tests.unit.test_delivery_engine import CAN_POST, GUILD, NEWS, STOP, FakeSender, Rig

BOB = 501


class DmSender(FakeSender):
    """FakeSender that also sends DMs: ``dm_failures`` are raised in order by the next DMs."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.dm_failures: list[Outcome] = []
        self.dms: list[tuple[int, list[str], str]] = []

    async def dm(self, user_id: int, digest: AlertDigest, nonce: str) -> SentMessage:
        if self.dm_failures:
            raise SendFailed(self.dm_failures.pop(0))
        self.dms.append((user_id, [match.paper.id for match in digest.matches], nonce))
        self.next_id += 1
        return SentMessage(self.next_id)


class AlertRig(Rig):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.sender = DmSender(db)
        self.alerts = AlertService(
            AlertRepo(db),
            self.feed.outbox,
            self.feed.papers,
            self.ingest,
            clock=self.clock,
            retry_base=timedelta(minutes=1),
        )
        self.engine = DeliveryEngine(
            self.feed,
            self.sender,
            bookmark_emoji="🔖",
            requests_per_second=10_000.0,
            on_token_refused=self.refused.set,
            alerts=self.alerts,
        )

    async def start_with_alert(self, query: str) -> None:
        await self.alerts.add(BOB, query)
        await self.feed.subscribe(channel_id=NEWS, guild_id=GUILD, access=CAN_POST)
        report = await self.ingest.poll()
        await self.feed.on_poll(report)
        await self.alerts.on_poll(report)
        self.engine.start()


@pytest.fixture
async def rig(db: Database) -> Iterator[AlertRig]:
    rig = AlertRig(db)
    yield rig  # type: ignore[misc]
    await rig.engine.stop()


async def test_a_dm_goes_out_once_beside_the_channel_posts(rig: AlertRig) -> None:
    await rig.start_with_alert("video OR code")
    await rig.settle()
    [(user, papers, _)] = rig.sender.dms
    assert user == BOB and set(papers) == {"2510.02283", "2510.00446"}
    assert len(rig.posted(NEWS)) == 3
    await rig.later(hours=2)
    assert len(rig.sender.dms) == 1


async def test_a_failed_dm_waits_for_its_backoff_without_holding_up_the_channel(
    rig: AlertRig,
) -> None:
    rig.sender.dm_failures = [transient("503 Service Unavailable")]
    await rig.start_with_alert("video")
    await rig.settle()
    assert rig.sender.dms == [] and len(rig.posted(NEWS)) == 3
    await rig.later(hours=1)
    [(_, papers, _)] = rig.sender.dms
    assert papers == ["2510.02283"]


async def test_closed_dms_pause_the_alerts_and_nothing_is_retried(rig: AlertRig) -> None:
    rig.sender.dm_failures = [read_answer(403, CANNOT_MESSAGE_USER, "Cannot send messages")]
    await rig.start_with_alert("video")
    await rig.settle()
    await rig.later(hours=5)
    assert rig.sender.dms == []
    [alert] = await rig.alerts.for_member(BOB)
    assert alert.paused


async def test_a_refused_token_on_a_dm_stops_all_sending_and_keeps_the_dm(rig: AlertRig) -> None:
    rig.sender.dm_failures = [STOP]
    await rig.start_with_alert("video")
    await asyncio.wait_for(rig.refused.wait(), 10)  # the DM's answer stopped the engine
    [job] = await rig.alerts.due_dms(BOB)
    assert job.row.attempts == 0  # the refused attempt was given back
