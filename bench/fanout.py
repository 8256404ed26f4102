"""Fan-out benchmark: one new paper to N subscribed channels through Discord-like rate limits.

Runs the real bot in-process (``open_services`` + ``PapersBot``) against the fake Discord with
rate limits on (per-route buckets with ``X-RateLimit-*`` headers, 50 requests/s global with 429s
past it) and the fake Hugging Face. The clock starts when the poll that brings the paper begins
and stops when the worker is idle again: every post sent and every 🔖 reaction added.

The lower bound is what the global limit allows for the requests the fan-out needs (one post and
one reaction per channel): the limiter's 1-second windows open on the first request, so R
requests need at least ceil(R / 50) - 1 seconds.

    python bench/fanout.py [--channels 500]

Ends with ``fanout: channels=500 wall_s=… bound_s=… ratio=… http_429=… lost=0 dup=0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

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


async def fanout(channels: int) -> dict[str, float | int]:
    today = utc_now().date()
    item = json.loads(FIXTURE.read_text())[0]
    item["paper"]["submittedOnDailyAt"] = f"{today}T08:00:00.000Z"  # listed today, so it is new
    paper_id = item["paper"]["id"]
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
                        posts = Counter[int]()
                        for channel_id in channel_ids:
                            for message in fake.messages(channel_id):
                                if any(paper_id in (e.get("url") or "") for e in message["embeds"]):
                                    posts[channel_id] += 1
                        reactions = sum(
                            1
                            for channel_id in channel_ids
                            for message in fake.messages(channel_id)
                            if message.get("reactions")
                        )
                        http_429 = fake.stats["http_429"] - before_429
    requests = sum(1 for r in window if r.method in ("POST", "PUT") and r.status < 400)
    bound = max(math.ceil(requests / GLOBAL_LIMIT) - 1, 1)
    return {
        "channels": channels,
        "wall_s": wall,
        "bound_s": float(bound),
        "requests": requests,
        "reactions": reactions,
        "http_429": http_429,
        "lost": sum(1 for channel_id in channel_ids if posts[channel_id] == 0),
        "dup": sum(max(count - 1, 0) for count in posts.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice not supported"
    with contextlib.suppress(KeyboardInterrupt):
        result = asyncio.run(fanout(args.channels))
        ratio = result["wall_s"] / result["bound_s"]
        print(
            f"posted 1 paper to {result['channels']} channels with {result['requests']} requests "
            f"({result['reactions']} bookmark reactions) in {result['wall_s']:.2f}s; "
            f"the {GLOBAL_LIMIT}/s global limit allows {result['bound_s']:.0f}s at best"
        )
        print(
            f"fanout: channels={result['channels']} wall_s={result['wall_s']:.2f} "
            f"bound_s={result['bound_s']:.2f} ratio={ratio:.2f} http_429={result['http_429']} "
            f"lost={result['lost']} dup={result['dup']}"
        )
        return 0 if result["lost"] == 0 and result["dup"] == 0 else 1
    return 130


if __name__ == "__main__":
    sys.exit(main())
