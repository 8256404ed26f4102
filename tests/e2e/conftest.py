"""End-to-end fixtures: a fake Discord on 127.0.0.1 that the real discord.py talks to.

``fake_discord`` starts a `FakeDiscord` for one test and, on teardown, fails the test if the
bot called a route the fake does not know (``fake.unhandled``) — a fake that silently answered
404 would hide a real bug. ``point_discord_py_at(fake)`` points discord.py at it (two class
attributes, restored on exit); ``running_bot(bot, fake)`` logs a bot in and waits for on_ready.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.fake_discord import FakeDiscord, point_discord_py_at, running_bot
from tests.fakes.fake_hf import FakeHF

__all__ = ["point_discord_py_at", "running_bot"]


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running fake Discord with the default world (guild, #general, #papers, alice, bob)."""
    async with FakeDiscord() as fake:
        yield fake
    assert fake.unhandled == [], f"the bot used routes the fake does not know: {fake.unhandled}"


@pytest.fixture
async def fake_hf() -> AsyncIterator[FakeHF]:
    """A running fake Hugging Face with no days loaded (tests load the fixtures they need)."""
    async with FakeHF() as hf:
        yield hf
