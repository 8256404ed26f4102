"""The metrics pieces on their own: /healthz's 503s, reason labels, one registry per app."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from bot.ingest import PollReport
from bot.lease import DatabaseLease
from bot.metrics import Metrics, MetricsServer
from bot.store.db import Database, database_at
from bot.store.leases import LeaseRepo
from bot.store.metrics import outbox_counts, reason_label


async def healthz(server: MetricsServer) -> tuple[int, dict[str, str]]:
    url = f"http://127.0.0.1:{server.bound_port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, json.loads(await response.text())


async def test_healthz_is_503_saying_the_gateway_is_not_connected(db: Database) -> None:
    server = MetricsServer(
        Metrics(process="host:1"), db, gateway_connected=lambda: False, host="127.0.0.1", port=0
    )
    await server.start()
    try:
        status, body = await healthz(server)
    finally:
        await server.stop()
    assert status == 503
    assert body["gateway"] == "not connected" and body["database"] == "ok"


async def test_healthz_is_503_saying_the_database_does_not_answer(
    database_target: Path | str,
) -> None:
    async with database_at(database_target) as db:
        server = MetricsServer(
            Metrics(process="host:1"), db, gateway_connected=lambda: True, host="127.0.0.1", port=0
        )
        await server.start()
        try:
            await db.close()  # the database is gone while the bot still runs
            status, body = await healthz(server)
        finally:
            await server.stop()
    assert status == 503
    assert body == {
        "status": "unavailable",
        "gateway": "connected",
        "database": "not answering",
        "process": "host:1",
    }


async def test_two_apps_in_one_process_keep_their_own_counts(db: Database) -> None:
    first, second = Metrics(process="a:1"), Metrics(process="b:2")  # no "Duplicated timeseries"
    await first.on_poll(PollReport(days=()))
    await first.on_poll(PollReport(days=(), error="down"))
    text = (await first.exposition(db)).decode()
    assert 'papers_bot_polls_total{outcome="ok"} 1.0' in text
    assert 'papers_bot_polls_total{outcome="error"} 1.0' in text
    assert 'papers_bot_polls_total{outcome="ok"} 0.0' in (await second.exposition(db)).decode()
    assert "papers_bot_papers_stored 0.0" in text


@pytest.mark.parametrize(
    ("state", "error", "label"),
    [
        ("sent", None, "none"),
        ("pending", None, "none"),
        ("dropped", "400 Invalid Form Body (code 50035)", "http_400_50035"),
        ("pending", "503 Service Unavailable", "http_503"),
        ("dropped", "gave up after 5 attempts: 404 Not Found (code 10008)", "http_404_10008"),
        ("pending", "timed out", "timeout"),
        ("pending", "rate limited for 2.5s", "rate_limited"),
        ("dropped", "unsubscribed", "unsubscribed"),
        ("pending", "ClientConnectorError: Cannot connect to host x:443", "ClientConnectorError"),
        ("dropped", "something nobody expected", "other"),
    ],
)
def test_reasons_are_a_small_set_of_labels(state: str, error: str | None, label: str) -> None:
    assert reason_label(state, error) == label


async def test_sent_counts_the_deliveries_retention_pruned(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO delivery_history (channel_id, sent_pruned) VALUES (1, 5)")
    counts = await outbox_counts(db)
    assert counts[("paper", "sent", "none")] == 5
    assert counts[("paper", "pending", "none")] == counts[("notice", "sent", "none")] == 0


async def test_the_lease_holder_is_named_and_each_process_says_whether_it_holds_it(
    sqlite_db: Database,
) -> None:
    repo = LeaseRepo(sqlite_db)
    holder = DatabaseLease(repo, holder="host:1:aaaaaa", period=30.0)
    other = DatabaseLease(repo, holder="host:2:bbbbbb", period=30.0)
    assert await holder.renew() and not await other.renew()
    texts = []
    for lease in (holder, other):
        metrics = Metrics(process=lease.holder.rsplit(":", 1)[0])
        metrics.watch_lease(lease)
        texts.append((await metrics.exposition(sqlite_db)).decode())
    for text in texts:
        assert 'papers_bot_lease_holder{holder="host:1:aaaaaa",name="once"} 1.0' in text
    assert 'papers_bot_lease_held{name="once"} 1.0' in texts[0]
    assert 'papers_bot_lease_held{name="once"} 0.0' in texts[1]
    await holder.stop()  # released: nobody holds it
    text = (await metrics.exposition(sqlite_db)).decode()
    assert "papers_bot_lease_holder{" not in text
