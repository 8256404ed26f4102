"""Card styles in the store: kept on re-subscribe, recorded per post, and what an upgrade gives
the subscriptions and posts made before styles existed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.models import CardStyle
from bot.store.db import Database, database_at, load_migrations
from bot.store.feed import PostRepo, SubscriptionRepo

NOW = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)


async def _save(
    repo: SubscriptionRepo, *, min_upvotes: int | None = None, style: CardStyle | None = None
) -> CardStyle:
    saved = await repo.save(
        channel_id=11,
        guild_id=1,
        min_upvotes=min_upvotes,
        keywords=None,
        since_day=date(2026, 6, 12),
        created_by=5,
        now=NOW,
        style=style,
    )
    return saved.subscription.style


async def test_a_new_subscription_is_compact_and_re_subscribing_keeps_its_style(
    db: Database,
) -> None:
    repo = SubscriptionRepo(db)
    assert await _save(repo) == "compact"
    assert await _save(repo, style="full") == "full"
    assert await _save(repo, min_upvotes=10) == "full"  # style left out: kept
    stored = await repo.get(11)
    assert stored is not None and stored.style == "full" and stored.min_upvotes == 10


async def test_a_post_remembers_the_style_it_was_posted_in(db: Database) -> None:
    posts = PostRepo(db)
    await posts.record_post(1, 11, 1, "2606.13681", "feed", 90, 1, now=NOW, style="compact")
    await posts.record_post(2, 11, 1, "2606.13681", "show", 90, 1, now=NOW)
    first, second = await posts.get(1), await posts.get(2)
    assert first is not None and first.style == "compact"
    assert second is not None and second.style == "full"  # /papers show keeps the full card


async def test_upgrading_makes_subscriptions_compact_and_keeps_old_posts_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = load_migrations()
    (card,) = [step for step in every if step[1].endswith("_card_style.sql")]
    before = [step for step in every if step[0] < card[0]]
    path = tmp_path / "papers.db"
    monkeypatch.setattr("bot.store.db.load_migrations", lambda: before)
    async with database_at(path) as old, old.transaction() as conn:
        await conn.execute(
            "INSERT INTO subscriptions (channel_id, guild_id, since_day, created_at,"
            " updated_at) VALUES (11, 1, '2026-06-12', ?, ?)",
            (NOW.isoformat(), NOW.isoformat()),
        )
        await conn.execute(
            "INSERT INTO posts (message_id, channel_id, paper_id, kind, posted_at)"
            " VALUES (1, 11, '2606.13681', 'feed', ?)",
            (NOW.isoformat(),),
        )
    monkeypatch.setattr("bot.store.db.load_migrations", lambda: every)
    async with database_at(path) as upgraded:
        subscription = await SubscriptionRepo(upgraded).get(11)
        post = await PostRepo(upgraded).get(1)
    assert subscription is not None and subscription.style == "compact"  # the new default
    assert post is not None and post.style == "full"  # it shows the full card: edits keep it
