"""Fan-out benchmark: one new paper to N subscribed channels through Discord-like rate limits.

Runs the real bot in-process (``open_services`` + ``PapersBot``) against the fake Discord with
rate limits on (per-route buckets with ``X-RateLimit-*`` headers, 50 requests/s global with 429s
past it) and the fake Hugging Face. The clock starts when the poll that brings the paper begins
and stops when the worker is idle again: every post sent and every 🔖 reaction added.

The lower bound is what the global limit allows for the requests the fan-out needs (one post and
one reaction per channel): the limiter's 1-second windows open on the first request, so R
requests need at least ceil(R / 50) - 1 seconds.

    python bench/fanout.py [--channels 500]
    python bench/fanout.py --processes 2 --channels 2000 --database postgresql://postgres@127.0.0.1/test

With ``--processes N`` (PostgreSQL only) the fan-out is made by N ``python -m bot`` processes,
one shard each (``SHARD_COUNT`` N), each with a budget of 44/N requests per second, sharing a
fresh database created on that server (and dropped after) and one rate-limited fake Discord;
the channels are spread over one guild per shard. The clock starts when Hugging Face lists the
paper (the lease holder's next poll, at most a second later, finds it) and stops when every
channel shows its post and its 🔖 reaction.

Ends with ``fanout: channels=500 wall_s=… bound_s=… ratio=… http_429=… lost=0 dup=0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import PapersBot, open_services  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.feed import ChannelAccess  # noqa: E402
from bot.store.db import utc_now  # noqa: E402
from tests.fakes.fake_discord import FakeDiscord, point_discord_py_at, running_bot  # noqa: E402
from tests.fakes.fake_discord.ratelimit import GLOBAL_LIMIT  # noqa: E402
from tests.fakes.fake_hf import API_FIXTURES_DIR, FakeHF  # noqa: E402

FIXTURE = API_FIXTURES_DIR / "daily_papers_2026-06-12.json"
CAN_POST = ChannelAccess(view_channel=True, send_messages=True, embed_links=True)
# With several processes: how often the lease holder polls, and how long the lease lasts.
PROCESS_POLL_SECONDS = 1.0
PROCESS_LEASE_SECONDS = 5.0


def new_paper() -> tuple[dict[str, Any], str]:
    """The recorded paper, listed today (so it is new to every subscription), and its id."""
    item = json.loads(FIXTURE.read_text())[0]
    item["paper"]["submittedOnDailyAt"] = f"{utc_now().date()}T08:00:00.000Z"
    return item, item["paper"]["id"]


def tally(fake: FakeDiscord, channel_ids: list[int], paper_id: str) -> tuple[Counter[int], int]:
    """Posts of the paper per channel, and how many channels show a reaction on one."""
    posts = Counter[int]()
    reactions = 0
    for channel_id in channel_ids:
        messages = fake.messages(channel_id)
        for message in messages:
            if any(paper_id in (e.get("url") or "") for e in message["embeds"]):
                posts[channel_id] += 1
        reactions += any(message.get("reactions") for message in messages)
    return posts, reactions


def figures(
    channel_ids: list[int],
    posts: Counter[int],
    requests: int,
    reactions: int,
    http_429: int,
    wall: float,
) -> dict[str, float | int]:
    bound = max(math.ceil(requests / GLOBAL_LIMIT) - 1, 1)
    return {
        "channels": len(channel_ids),
        "wall_s": wall,
        "bound_s": float(bound),
        "requests": requests,
        "reactions": reactions,
        "http_429": http_429,
        "lost": sum(1 for channel_id in channel_ids if posts[channel_id] == 0),
        "dup": sum(max(count - 1, 0) for count in posts.values()),
    }


async def fanout(channels: int) -> dict[str, float | int]:
    today = utc_now().date()
    item, paper_id = new_paper()
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord(rate_limits=True) as fake, FakeHF() as hf:
            channel_ids = [fake.add_channel(f"feed-{n:04d}") for n in range(channels)]
            settings = Settings(
                discord_token=fake.token,  # type: ignore[arg-type]
                database_url=f"sqlite:///{tmp}/bench.db",
                hf_base_url=hf.base_url,
                discord_api_base=fake.api_base,
                discord_gateway_url=fake.gateway_url,
                poll_interval_seconds=3600,
            )
            async with open_services(settings) as services:
                bot = PapersBot(services, guild_ready_timeout=0.05)
                with point_discord_py_at(fake):
                    async with running_bot(bot, fake, timeout=30):
                        await asyncio.wait_for(services.poller.wait_for_polls(1), 30)
                        for channel_id in channel_ids:
                            await services.feed.subscribe(
                                channel_id=channel_id, guild_id=fake.guild_id, access=CAN_POST
                            )
                        # load_extension imports cogs.feed afresh: find the worker by name.
                        worker = bot.get_cog("FeedCog").worker  # type: ignore[union-attr]
                        await asyncio.wait_for(worker.wait_until_idle(), 30)
                        before_429 = fake.stats["http_429"]
                        before_requests = len(fake.requests)

                        hf.set_day(today, [item])
                        started = time.perf_counter()
                        services.poller.poll_now()
                        await asyncio.wait_for(services.poller.wait_for_polls(2), 30)
                        await asyncio.wait_for(worker.wait_until_idle(), 600)
                        wall = time.perf_counter() - started

                        window = fake.requests[before_requests:]
                        posts, reactions = tally(fake, channel_ids, paper_id)
                        http_429 = fake.stats["http_429"] - before_429
    requests = sum(1 for r in window if r.method in ("POST", "PUT") and r.status < 400)
    return figures(channel_ids, posts, requests, reactions, http_429, wall)


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database on ``server_url``'s server for this run; its URL. Dropped after."""
    import asyncpg  # only this mode needs it

    name = f"papers_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_url.rsplit("/", 1)[0] + "/" + name
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def start_process(
    fake: FakeDiscord, hf: FakeHF, workdir: Path, env: dict[str, str]
) -> asyncio.subprocess.Process:
    """``python -m bot`` with ``env``, once it has identified with the fake gateway."""
    identified = fake.stats.get("identifies", 0)
    with (workdir / "bot.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=workdir,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")},
                **fake.env(),
                "HF_BASE_URL": hf.base_url,
                "PYTHONPATH": str(ROOT),
                "LOG_LEVEL": "WARNING",
                **env,
            },
            stdout=log,
            stderr=log,
        )
    await fake.wait_for(lambda: fake.stats.get("identifies", 0) > identified, 60, "IDENTIFY")
    return process


async def fanout_processes(
    channels: int, processes: int, server_url: str
) -> dict[str, float | int]:
    """The same fan-out made by ``processes`` bot processes, one shard each, on PostgreSQL."""
    item, paper_id = new_paper()
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            fresh_database(server_url) as database_url,
            FakeDiscord(rate_limits=True) as fake,
            FakeHF() as hf,
        ):
            guilds = [
                fake.add_guild(f"shard-{shard}", channels=(), shard=(shard, processes))
                for shard in range(processes)
            ]
            placed = [(guilds[n % processes], f"feed-{n:04d}") for n in range(channels)]
            channel_ids = [fake.add_channel(name, guild=guild) for guild, name in placed]
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                discord_token=fake.token,  # type: ignore[arg-type]
                database_url=database_url,
                hf_base_url=hf.base_url,
            )
            async with open_services(settings) as services:  # migrates, then subscribes
                for (guild, _), channel_id in zip(placed, channel_ids, strict=True):
                    await services.feed.subscribe(
                        channel_id=channel_id, guild_id=guild, access=CAN_POST
                    )
            running = []
            try:
                for shard in range(processes):
                    workdir = Path(tmp) / f"shard-{shard}"
                    workdir.mkdir()
                    env = {
                        "DATABASE_URL": database_url,
                        "SHARD_COUNT": str(processes),
                        "SHARD_IDS": str(shard),
                        "DISCORD_REQUESTS_PER_SECOND": str(44 / processes),
                        "POLL_INTERVAL_SECONDS": str(PROCESS_POLL_SECONDS),
                        "LEASE_SECONDS": str(PROCESS_LEASE_SECONDS),
                    }
                    running.append(await start_process(fake, hf, workdir, env))
                await asyncio.sleep(3 * PROCESS_POLL_SECONDS)  # polls of an empty day
                before_429 = fake.stats["http_429"]
                before_requests = len(fake.requests)

                hf.set_day(utc_now().date(), [item])
                started = time.perf_counter()
                deadline = started + 600
                while time.perf_counter() < deadline:
                    posts, reactions = tally(fake, channel_ids, paper_id)
                    if len(posts) == channels and reactions == channels:
                        break
                    await asyncio.sleep(0.1)
                wall = time.perf_counter() - started
                await asyncio.sleep(3 * PROCESS_POLL_SECONDS)  # a late second post would show
                window = fake.requests[before_requests:]
                posts, reactions = tally(fake, channel_ids, paper_id)
                http_429 = fake.stats["http_429"] - before_429
            finally:
                for process in running:
                    if process.returncode is None:
                        process.terminate()
                    await asyncio.wait_for(process.wait(), 30)
    requests = sum(1 for r in window if r.method in ("POST", "PUT") and r.status < 400)
    return figures(channel_ids, posts, requests, reactions, http_429, wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--processes", type=int, default=1, help="bot processes (PostgreSQL)")
    parser.add_argument("--database", help="postgresql://… server for --processes")
    args = parser.parse_args()
    if args.processes > 1 and not (args.database or "").startswith("postgres"):
        parser.error("--processes needs --database postgresql://… (SQLite is one process)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice not supported"
    with contextlib.suppress(KeyboardInterrupt):
        if args.processes > 1:
            result = asyncio.run(fanout_processes(args.channels, args.processes, args.database))
        else:
            result = asyncio.run(fanout(args.channels))
        ratio = result["wall_s"] / result["bound_s"]
        print(
            f"posted 1 paper to {result['channels']} channels with {result['requests']} requests "
            f"({result['reactions']} bookmark reactions) in {result['wall_s']:.2f}s; "
            f"the {GLOBAL_LIMIT}/s global limit allows {result['bound_s']:.0f}s at best"
        )
        print(
            f"fanout: {f'processes={args.processes} ' if args.processes > 1 else ''}"
            f"channels={result['channels']} wall_s={result['wall_s']:.2f} "
            f"bound_s={result['bound_s']:.2f} ratio={ratio:.2f} http_429={result['http_429']} "
            f"lost={result['lost']} dup={result['dup']}"
        )
        return 0 if result["lost"] == 0 and result["dup"] == 0 else 1
    return 130


if __name__ == "__main__":
    sys.exit(main())
