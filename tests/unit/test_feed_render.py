"""What /feed answers look like: inside Discord's limits, honest about pauses and outages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from bot.embeds import DESCRIPTION_LIMIT, embed_length
from bot.feed import FeedStatus, Preview, PreviewEntry, SubscribeResult, explain
from bot.feed_filters import FeedFilter
from bot.ingest import PollStatus
from bot.store.feed import Subscription, SubscriptionStats
from cogs.feed import preview_embed, status_embed, subscribed_embed, subscriptions_embed
from tests.conftest import fixture_papers

NOW = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
SUBSCRIPTION = Subscription(
    channel_id=11,
    guild_id=1,
    min_upvotes=10,
    keywords="agents, -survey",
    since_day=date(2026, 6, 12),
    created_at=NOW,
    created_by=5,
    updated_at=NOW,
)
PAUSED = dataclasses.replace(
    SUBSCRIPTION,
    channel_id=12,
    paused_reason="Discord refused to post (403): missing Embed Links",
    paused_at=NOW,
)


def test_the_preview_of_a_full_day_fits_in_one_embed_and_counts_both_sides() -> None:
    papers = fixture_papers("daily_papers_2026-06-12")
    entries = tuple(PreviewEntry(p, explain(SUBSCRIPTION, p), None) for p in papers)
    wanted = FeedFilter.parse(SUBSCRIPTION.keywords, SUBSCRIPTION.min_upvotes)
    preview = Preview(SUBSCRIPTION, wanted, date(2026, 6, 12), entries)
    embed = preview_embed(preview)
    assert embed.description is not None
    assert len(embed.description) <= DESCRIPTION_LIMIT
    assert embed_length(embed) <= 6000
    assert f"**{len(preview.would_post)}** would be posted" in embed.description
    assert "**Blocked**" in embed.description
    assert "mentions none of: agents" in embed.description
    assert "more" in embed.description  # 35 papers do not all fit: the rest is counted


def test_an_empty_preview_says_why() -> None:
    preview = Preview(SUBSCRIPTION, FeedFilter(), date(2026, 6, 13), ())
    assert "weekends are empty" in (preview_embed(preview).description or "")


def test_the_list_shows_filters_state_and_counts() -> None:
    items = [
        SubscriptionStats(SUBSCRIPTION, delivered=7, pending=2, last_sent_at=NOW),
        SubscriptionStats(PAUSED, delivered=0, pending=4, last_sent_at=None),
    ]
    embed = subscriptions_embed(items)
    active, paused = (field.value or "" for field in embed.fields)
    assert "<#11> · ▶️ active" in active
    assert "≥ 10 upvotes; any of: agents; none of: survey" in active
    assert "7 delivered" in active
    assert "2 waiting" in active
    assert "⏸️ paused" in paused
    assert "missing Embed Links" in paused
    assert "No channel" in (subscriptions_embed([]).description or "")


def test_status_shows_the_outage_and_the_paused_channels() -> None:
    poll = PollStatus(
        last_success_at=NOW,
        last_attempt_at=NOW,
        last_error="Hugging Face answered 503",
        last_error_at=NOW,
        consecutive_failures=4,
    )
    status = FeedStatus(
        poll=poll,
        papers_stored=120,
        subscriptions=2,
        pending=6,
        paused=(PAUSED,),
        outage_announced=True,
    )
    text = status_embed(status).description or ""
    assert "The last 4 poll(s) failed" in text
    assert "Hugging Face answered 503" in text
    assert "Papers stored: 120" in text
    assert "deliveries waiting: 6" in text
    assert "<#12>" in text
    assert "missing Embed Links" in text


def test_subscribing_mentions_the_reaction_only_when_the_bot_cannot_add_it() -> None:
    result = SubscribeResult(SUBSCRIPTION, True, FeedFilter.parse("agents"), 3, can_react=False)
    text = subscribed_embed(11, result, "🔖").description or ""
    assert text.startswith("Subscribed <#11>: any of: agents.")
    assert "3 of the latest papers are on their way" in text
    assert "Add Reactions" in text
    fine = dataclasses.replace(result, can_react=True, created=False, queued=0)
    text = subscribed_embed(11, fine, "🔖").description or ""
    assert text.startswith("Updated <#11>")
    assert "Add Reactions" not in text
