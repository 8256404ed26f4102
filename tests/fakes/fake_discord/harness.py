"""Pointing the real discord.py at a `FakeDiscord`, and running a bot against it in-process.

The only two things changed in discord.py are class attributes that are its own configuration
(discord.py itself rewrites ``Route.BASE`` when the API version changes); no method is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def point_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """Send discord.py's REST calls and gateway connection to ``fake``; restore on exit."""
    saved_base, saved_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE = saved_base
        DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway


@contextlib.asynccontextmanager
async def running_bot(
    bot: ClientT,
    fake: FakeDiscord,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Log ``bot`` in (``setup_hook`` runs: sync, add_view), connect, wait for on_ready.

    Build the bot with ``guild_ready_timeout=0.05`` or on_ready comes 2 s late. Call inside
    `point_discord_py_at`. On exit the bot is closed and its connection task awaited.
    """
    await bot.login(fake.token)
    connection = asyncio.create_task(bot.connect(reconnect=True), name="fake-discord-bot")
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {connection, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if connection in done:
            connection.result()  # raises what stopped the bot (e.g. PrivilegedIntentsRequired)
            raise RuntimeError("the bot disconnected before it was ready")
        if ready not in done:
            raise TimeoutError(f"the bot was not ready after {timeout}s")
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, discord.ConnectionClosed):
            await asyncio.wait_for(connection, timeout)
