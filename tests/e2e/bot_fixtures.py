"""Start the real papers-bot against the fake Discord and fake Hugging Face.

``start_bot`` runs the production composition root (``open_services`` + ``PapersBot``) in-process
with test settings and a settable clock; ``BotProcess`` runs ``python -m bot`` as a separate OS
process configured only through environment variables, and can stop it politely or SIGKILL it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot.app import PapersBot, Services, open_services
from bot.config import Settings
from bot.ingest import PollReport
from tests.fakes.fake_discord import FakeDiscord, point_discord_py_at, running_bot
from tests.fakes.fake_hf import FakeHF

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# A long interval: tests poll on purpose (``RunningBot.poll``), never by waiting for the clock.
TEST_POLL_INTERVAL = 3600.0


class FakeClock:
    """The bot's idea of now, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    @classmethod
    def on(cls, day: date, hour: int = 12) -> FakeClock:
        return cls(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def set_day(self, day: date, hour: int = 12) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def database_url(target: Path | str) -> str:
    """DATABASE_URL for a SQLite file or a PostgreSQL URL (the ``database_target`` fixture)."""
    return target if isinstance(target, str) else f"sqlite:///{target}"


def bot_settings(fake: FakeDiscord, hf: FakeHF, db_path: Path | str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": fake.token,
        "database_url": database_url(db_path),
        "hf_base_url": hf.base_url,
        "discord_api_base": fake.api_base,
        "discord_gateway_url": fake.gateway_url,
        "poll_interval_seconds": TEST_POLL_INTERVAL,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningBot:
    bot: PapersBot
    services: Services
    fake: FakeDiscord
    hf: FakeHF
    clock: FakeClock

    async def poll(self) -> PollReport:
        """Poll Hugging Face now, as the schedule would, and wait for it (and its hooks)."""
        poller = self.services.poller
        target = poller.polls + 1
        poller.poll_now()
        report = await asyncio.wait_for(poller.wait_for_polls(target), 10)
        assert report is not None
        return report


@contextlib.asynccontextmanager
async def start_bot(
    fake: FakeDiscord,
    hf: FakeHF,
    db_path: Path | str,
    *,
    clock: FakeClock,
    **overrides: Any,
) -> AsyncIterator[RunningBot]:
    """The real bot, in-process: logged in, commands synced, ready, first poll done."""
    settings = bot_settings(fake, hf, db_path, **overrides)
    with point_discord_py_at(fake):
        async with open_services(settings, clock=clock) as services:
            bot = PapersBot(services, guild_ready_timeout=0.05)
            async with running_bot(bot, fake):
                await asyncio.wait_for(services.poller.wait_for_polls(1), 10)
                yield RunningBot(bot=bot, services=services, fake=fake, hf=hf, clock=clock)


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 5.0) -> T:
    """Await ``check()`` until it returns something truthy (for state the fakes cannot signal,
    such as a database row the bot writes right after its reply)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.01)


class BotProcess:
    """``python -m bot`` in its own process, configured only by environment variables."""

    def __init__(self, fake: FakeDiscord, hf: FakeHF, workdir: Path, **env: str) -> None:
        self.fake = fake
        self.workdir = workdir
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DISCORD_", "DATABASE_", "HF_", "POLL_", "DEV_GUILD"))
        }
        self.env = {
            **base,
            **fake.env(),
            "DATABASE_URL": f"sqlite:///{workdir / 'papers.db'}",
            "HF_BASE_URL": hf.base_url,
            "POLL_INTERVAL_SECONDS": str(TEST_POLL_INTERVAL),
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = workdir / "bot.log"

    async def start(self) -> None:
        """Start the process and wait until it is connected to the fake gateway."""
        connections = self.fake.stats.get("identifies", 0)
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.workdir,  # no developer's .env is read
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()
        try:
            await self.fake.wait_for(
                lambda: self.fake.stats.get("identifies", 0) > connections, 30, "IDENTIFY"
            )
        except (TimeoutError, AssertionError):
            raise AssertionError("the bot process never connected:\n" + self.log()) from None
        await self.fake.settle()  # READY and GUILD_CREATE parsed

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (SIGTERM: a clean shutdown; SIGKILL: a crash) and wait for the exit."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), 20)
        self.process = None
        return code

    async def kill(self) -> None:
        await self.stop(signal.SIGKILL)
