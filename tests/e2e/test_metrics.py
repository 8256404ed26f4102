"""What an operator scrapes from METRICS_PORT: /healthz and Prometheus /metrics, end to end.

The real bot runs against the fake Discord and the fake Hugging Face with ``METRICS_PORT=0`` (a
free port); the test reads the two routes over HTTP as Prometheus and a load balancer would.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import __version__
from bot.config import SettingsError
from bot.metrics import process_name
from tests.e2e.bot_fixtures import FakeClock, start_bot
from tests.e2e.test_feed import FIXTURE_DAY, FeedBot, items, quicken, text_of
from tests.e2e.test_feed_answers import posts_route
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def feed_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> AsyncIterator[FeedBot]:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY), hour=9)
    async with start_bot(
        fake_discord, fake_hf, tmp_path / "papers.db", clock=clock, metrics_port=0
    ) as running:
        bot = FeedBot(running)
        quicken(bot)
        yield bot


def base_url(bot: FeedBot) -> str:
    server = bot.running.bot.metrics_server
    assert server is not None, "METRICS_PORT is set: the server must be running"
    return f"http://127.0.0.1:{server.bound_port}"


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def scrape(bot: FeedBot) -> Samples:
    status, content_type, text = await get(base_url(bot) + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_healthz_is_200_while_connected_and_names_the_process(feed_bot: FeedBot) -> None:
    status, content_type, text = await get(base_url(feed_bot) + "/healthz")
    assert status == 200 and content_type.startswith("application/json")
    assert json.loads(text) == {
        "status": "ok",
        "gateway": "connected",
        "database": "ok",
        "process": process_name(),
    }


async def test_metrics_count_polls_deliveries_errors_and_commands(feed_bot: FeedBot) -> None:
    fake, hf = feed_bot.fake, feed_bot.hf
    await feed_bot.subscribe("papers")
    fake.fail("POST", posts_route(fake, "papers"), 400, code=50035)  # the first post is refused
    feed_bot.serve(items(3))
    await feed_bot.poll()
    assert len(feed_bot.posted("papers")) == 2

    hf.outage_retry_after = "0"
    hf.outage = True  # every request answers 503: the API, then the HTML page, both give up
    await feed_bot.poll()
    hf.outage = False

    status_text = text_of(await feed_bot.slash("status"))
    refused = text_of(await feed_bot.slash("unsubscribe", channel="general"))  # never subscribed
    assert "is not subscribed" in refused
    assert f"(holds the lease): process `{process_name()}:" in status_text

    samples = await scrape(feed_bot)
    assert value(samples, "papers_bot_polls_total", outcome="ok") == 2  # start-up, then ours
    assert value(samples, "papers_bot_polls_total", outcome="error") == 1
    assert value(samples, "papers_bot_papers_stored") == 3
    sent = value(samples, "papers_bot_deliveries", kind="paper", state="sent", reason="none")
    dropped = value(
        samples, "papers_bot_deliveries", kind="paper", state="dropped", reason="http_400_50035"
    )
    assert (sent, dropped) == (2, 1)
    pending = value(samples, "papers_bot_deliveries", kind="paper", state="pending", reason="none")
    assert pending == 0
    assert value(samples, "papers_bot_discord_errors_total", status="400") == 1
    assert value(samples, "papers_bot_hf_errors_total", status="503") >= 2  # API and HTML
    # One /feed subscribe and one /feed status, each timed under its qualified name.
    for command in ("feed subscribe", "feed status"):
        count = value(
            samples, "papers_bot_interaction_seconds_count", command=command, outcome="ok"
        )
        assert count == 1, command
    errors = value(
        samples, "papers_bot_interaction_seconds_count", command="feed unsubscribe", outcome="error"
    )
    assert errors == 1
    info = value(samples, "papers_bot_info", version=__version__, process=process_name())
    assert info == 1


async def test_the_metrics_server_stops_with_the_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY))
    async with start_bot(
        fake_discord, fake_hf, tmp_path / "papers.db", clock=clock, metrics_port=0
    ) as running:
        server = running.bot.metrics_server
        assert server is not None
        port = server.bound_port
    assert running.bot.metrics_server is None
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass


async def test_a_port_in_use_is_refused_as_a_setting(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        starting = start_bot(
            fake_discord, fake_hf, tmp_path / "papers.db", clock=clock, metrics_port=port
        )
        refused = rf"^METRICS_PORT: cannot listen on 127\.0\.0\.1:{port} "
        with pytest.raises(SettingsError, match=refused):
            async with starting:
                pass


async def test_no_metrics_port_serves_nothing(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    clock = FakeClock.on(date.fromisoformat(FIXTURE_DAY))
    async with start_bot(fake_discord, fake_hf, tmp_path / "papers.db", clock=clock) as running:
        assert running.bot.metrics_server is None
