"""/alerts end to end: saved searches that DM a member, through the fake Discord's DM routes.

The bot's clock is fixed on the recorded day (2026-06-12): its papers are "today's". Tests serve
a few of them, poll on purpose, and wait for the delivery engine to go idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import MAX_ALERTS
from bot.delivery import RateBudget
from bot.search import MAX_TERMS
from bot.store.db import ReadBudget, database_at
from tests.conftest import HF_API
from tests.e2e.bot_fixtures import FakeClock, RunningBot, start_bot
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_hf import FakeHF

pytestmark = pytest.mark.e2e

FIXTURE_DAY = "2026-06-12"
RAW_ITEMS: list[dict[str, Any]] = json.loads(
    (HF_API / f"daily_papers_{FIXTURE_DAY}.json").read_text(encoding="utf-8")
)
NO_TIME = ReadBudget(seconds=0, check_every=1)  # interrupts any read at its first instruction
PAPER_LINK = re.compile(r"\(https://huggingface\.co/papers/([^)]+)\)")
SPARSE = "2606.13392"  # MiniMax Sparse Attention (item 6)
BY_HAORAN_XU = {"2606.09290", "2606.09304"}  # items 19 and 21


def items(count: int) -> list[dict[str, Any]]:
    return copy.deepcopy(RAW_ITEMS[:count])


def text_of(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
    return "\n".join(parts)


@dataclass
class AlertsBot:
    running: RunningBot

    @property
    def fake(self) -> FakeDiscord:
        return self.running.fake

    @property
    def engine(self) -> Any:
        return self.running.bot.get_cog("FeedCog").worker  # type: ignore[union-attr]

    def serve(self, count: int) -> None:
        self.running.hf.set_day(self.running.clock().date(), items(count))

    async def poll(self) -> None:
        await self.running.poll()
        await asyncio.wait_for(self.engine.wait_until_idle(), 10)

    async def alerts(self, command: str, *, user: str = "bob", **options: Any) -> Any:
        record = await self.fake.slash(f"alerts {command}", user=user, **options)
        await record.answer()
        assert record.ephemeral, "/alerts answers only the member who asked"
        return record

    async def add(self, query: str, *, user: str = "bob") -> str:
        return text_of((await self.alerts("add", user=user, query=query)).final())

    def dms(self, user: str = "bob") -> list[list[str]]:
        """The papers of each DM the member got, in order."""
        return [PAPER_LINK.findall(text_of(m)) for m in self.fake.dms(user)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.fromisoformat(f"{FIXTURE_DAY}T09:00:00").replace(tzinfo=UTC))


@contextlib.asynccontextmanager
async def alerts_bot_on(
    fake: FakeDiscord, hf: FakeHF, target: Path | str, clock: FakeClock
) -> AsyncIterator[AlertsBot]:
    async with start_bot(fake, hf, target, clock=clock) as running:
        bot = AlertsBot(running)
        running.services.alerts.retry_base = timedelta(0)
        bot.engine.budget = RateBudget(1_000_000.0)
        yield bot


@pytest.fixture
async def alerts_bot(
    fake_discord: FakeDiscord, fake_hf: FakeHF, database_target: Path | str, clock: FakeClock
) -> AsyncIterator[AlertsBot]:
    async with alerts_bot_on(fake_discord, fake_hf, database_target, clock) as bot:
        yield bot


# --- delivery ---------------------------------------------------------------------------------


async def test_one_dm_per_poll_with_every_new_match_and_never_a_paper_twice_across_restarts(
    fake_discord: FakeDiscord, fake_hf: FakeHF, database_target: Path | str, clock: FakeClock
) -> None:
    db_path = database_target
    async with alerts_bot_on(fake_discord, fake_hf, db_path, clock) as bot:
        assert "Saved" in await bot.add("author:haoran")
        assert "Saved" in await bot.add("sparse attention")
        bot.serve(10)
        await bot.poll()
        assert bot.dms() == [[SPARSE]]
        # The member's DM channel was opened through Discord's route, once.
        opened = fake_discord.requests_to("POST", r"^/users/@me/channels$")
        assert [r.json for r in opened] == [{"recipient_id": fake_discord.user("bob")}]
        dm = fake_discord.dms("bob")[0]
        assert "sparse attention" in dm["embeds"][0]["description"]  # which alert matched
        assert "▲" in dm["embeds"][0]["description"]

        bot.serve(25)  # more papers listed the same day: both of Haoran Xu's among them
        await bot.poll()
        assert len(bot.dms()) == 2
        assert set(bot.dms()[1]) == BY_HAORAN_XU  # in one DM; the sparse paper not again
        await bot.poll()  # nothing new
        assert len(bot.dms()) == 2
        listing = text_of((await bot.alerts("list")).final())
        assert listing.count("active") == 2
        assert "last matched" in listing and "never" not in listing

    # The same database after a restart: every paper has reached the member already.
    async with alerts_bot_on(fake_discord, fake_hf, db_path, clock) as bot:
        await bot.poll()
        assert len(bot.dms()) == 2


async def test_a_dm_in_flight_at_a_restart_reaches_the_member_once(
    fake_discord: FakeDiscord, fake_hf: FakeHF, database_target: Path | str, clock: FakeClock
) -> None:
    fake = fake_discord
    db_path = database_target
    async with alerts_bot_on(fake, fake_hf, db_path, clock) as bot:
        bot.engine.send_timeout = 30.0  # it waits for Discord; it is stopped instead
        await bot.add("sparse attention")
        held = fake.hold("POST", r"/channels/\d+/messages$")
        bot.serve(10)
        await bot.running.poll()
        await fake.wait_for(lambda: held.hits == 1, describe="a DM in flight")
    # The bot stopped with the DM in flight: attempted, not recorded…
    rows = await maybe_sent_dms(db_path)
    assert len(rows) == 1
    held.release()  # …and Discord delivers it now, after the bot is gone.
    await fake.wait_for(lambda: len(fake.dms("bob")) == 1, describe="the DM")

    async with alerts_bot_on(fake, fake_hf, db_path, clock) as bot:
        await asyncio.wait_for(bot.engine.wait_until_idle(), 10)
        await bot.poll()
        assert bot.dms() == [[SPARSE]]  # resent with its nonce: Discord answered with the same
        assert fake.stats["nonce_duplicates"] == 1
        assert await maybe_sent_dms(db_path) == []


async def maybe_sent_dms(target: Path | str) -> list[str]:
    """Nonces of alert DMs attempted but not recorded as sent (read apart from the bot)."""
    async with database_at(target) as db:
        rows = await db.fetchall(
            "SELECT nonce FROM outbox WHERE kind = 'dm' AND state = 'pending' AND attempts > 0"
        )
    return [row[0] for row in rows]


async def test_an_alert_dms_what_its_search_finds_with_author_and_excluded_words(
    alerts_bot: AlertsBot,
) -> None:
    alerts_bot.serve(35)
    await alerts_bot.poll()  # stored before the alert exists: only later polls may DM
    query = "agents -benchmark"
    await alerts_bot.add(query)
    await alerts_bot.poll()
    [delivered] = alerts_bot.dms()
    search = await alerts_bot.running.services.catalog.search(query, limit=100)
    assert set(delivered) == {hit.paper.id for hit in search.hits}
    assert not any("benchmark" in hit.paper.title.lower() for hit in search.hits)
    assert len(delivered) >= 3


# --- closed DMs -------------------------------------------------------------------------------


async def test_closed_dms_pause_the_alerts_and_the_member_is_told_once_at_their_next_command(
    alerts_bot: AlertsBot,
) -> None:
    fake = alerts_bot.fake
    fake.close_dms("bob")
    await alerts_bot.add("sparse OR author:haoran")
    alerts_bot.serve(10)
    await alerts_bot.poll()
    assert alerts_bot.dms() == []
    assert [e.code for e in fake.errors if e.status == 403] == [50007]
    rows = await alerts_bot.running.services.db.fetchall(
        "SELECT state, last_error FROM outbox WHERE kind = 'dm'"
    )
    assert [(row[0], "50007" in row[1]) for row in rows] == [("dropped", True)]

    record = await alerts_bot.alerts("list")
    assert "paused" in text_of(record.final())
    [told] = await record.followups(1)
    assert "direct messages are closed" in told["content"] and told["flags"] & 64
    # Once only.
    again = await fake.slash("papers today", user="bob")
    await again.answer()
    await fake.settle()
    shown = await again.followups(len(again.followup_ids))
    assert not any("closed" in text_of(m) for m in shown)

    fake.close_dms("bob", closed=False)
    resumed = await alerts_bot.alerts("resume")
    assert "Resumed 1 alert" in text_of(resumed.final())
    alerts_bot.serve(25)
    await alerts_bot.poll()
    # New matches arrive; the paper of the DM that could not be sent is not sent again.
    # Item 14 says "sparsely", which the stemmed index matches to "sparse".
    assert [set(papers) for papers in alerts_bot.dms()] == [BY_HAORAN_XU | {"2606.12303"}]
    assert "active" in text_of((await alerts_bot.alerts("list")).final())


# --- hostile queries --------------------------------------------------------------------------


async def test_hostile_alerts_are_answered_as_the_search_answers_them(
    alerts_bot: AlertsBot,
) -> None:
    fake = alerts_bot.fake
    many = " ".join(f"word{n}" for n in range(MAX_TERMS + 1))
    search = await fake.slash("papers search", user="bob", query=many)
    assert await alerts_bot.add(many) == text_of(await search.answer())
    assert "at most 24" in await alerts_bot.add(many)

    services = alerts_bot.running.services
    services.catalog.search_budget = services.alerts.budget = NO_TIME
    search = await fake.slash("papers search", user="bob", query="diffusion")
    assert await alerts_bot.add("diffusion") == text_of(await search.answer())
    assert "too broad" in await alerts_bot.add("diffusion")
    assert "You have no alerts yet" in text_of((await alerts_bot.alerts("list")).final())


async def test_an_alert_too_costly_to_check_is_paused_without_stalling_the_poll(
    alerts_bot: AlertsBot,
) -> None:
    await alerts_bot.add("sparse attention")
    await alerts_bot.add("agents", user="alice")
    alerts_bot.running.services.alerts.budget = NO_TIME
    alerts_bot.serve(10)
    await alerts_bot.poll()  # finishes: each alert's read is interrupted, not waited for
    assert alerts_bot.dms() == [] and alerts_bot.dms("alice") == []
    record = await alerts_bot.alerts("list")
    assert "too broad to check in time" in text_of(record.final())
    [told] = await record.followups(1)
    assert "`sparse attention` is paused" in told["content"]


# --- managing alerts --------------------------------------------------------------------------


async def test_at_most_ten_alerts_and_remove_offers_only_the_members_own(
    alerts_bot: AlertsBot,
) -> None:
    await alerts_bot.add("agents", user="alice")
    for n in range(MAX_ALERTS):
        assert f"You have {n + 1} of {MAX_ALERTS} alerts" in await alerts_bot.add(f"topic{n}")
    refused = await alerts_bot.add("one more")
    assert f"You have {MAX_ALERTS} alerts, the most I keep" in refused

    choices = await alerts_bot.fake.autocomplete(
        "alerts remove", focused="alert", value="topic", user="bob"
    )
    assert [c["name"] for c in choices] == [f"topic{n}" for n in range(MAX_ALERTS)]
    assert not await alerts_bot.fake.autocomplete(
        "alerts remove", focused="alert", value="agents", user="bob"
    )
    removed = await alerts_bot.alerts("remove", alert=choices[0]["value"])
    assert "Removed `topic0`" in text_of(removed.final())
    assert "Saved" in await alerts_bot.add("one more")
    listing = text_of((await alerts_bot.alerts("list")).final())
    assert "topic0" not in listing and "one more" in listing
    assert "agents" not in listing  # alice's
