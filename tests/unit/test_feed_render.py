"""What /feed answers look like: inside Discord's limits, honest about pauses and outages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    embed_length,
    preview_embed,
    status_embed,
    subscribed_embed,
    subscription_pages,
)
from bot.feed import FeedStatus, Preview, PreviewEntry, SubscribeResult, explain
from bot.feed_filters import FeedFilter
from bot.ingest import PollStatus
from bot.store.feed import DeliveryState, Subscription, SubscriptionStats
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


def test_the_preview_of_a_paused_channel_says_so_and_marks_each_paper_honestly() -> None:
    papers = fixture_papers("daily_papers_2026-06-12")[:6]
    states = [
        DeliveryState("sent", None, 1),
        DeliveryState("dropped", "400 Invalid Form Body", 1),
        DeliveryState("dropped", "unsubscribed", 1),
        DeliveryState("pending", None, 0),
        None,
        None,
    ]
    entries = tuple(
        PreviewEntry(p, explain(PAUSED, p), state) for p, state in zip(papers, states, strict=True)
    )
    preview = Preview(PAUSED, FeedFilter.parse(PAUSED.keywords, 10), date(2026, 6, 12), entries)
    text = preview_embed(preview).description or ""
    assert "⏸️ Paused" in text
    assert "missing Embed Links" in text
    assert "Nothing is posted until an admin fixes that" in text
    assert "would be posted once resumed" in text
    assert "**Would post once resumed**" in text
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n\n")}
    assert papers[0].id in sections["**Already posted**"]
    assert "✅ already posted" in sections["**Already posted**"]
    dropped = sections["**Dropped**"]
    assert papers[1].id in dropped and "⚠️ dropped: 400 Invalid Form Body" in dropped
    assert papers[2].id in dropped and "dropped: unsubscribed" in dropped
    assert papers[3].id in sections["**Would post once resumed**"]
    assert "⏳ queued" in sections["**Would post once resumed**"]
    for paper in papers[:3]:
        assert paper.id not in sections["**Would post once resumed**"]


def test_preview_titles_and_reasons_are_escaped() -> None:
    (paper,) = fixture_papers("daily_papers_2026-06-12")[:1]
    loud = dataclasses.replace(paper, title="**Loud** [link](https://evil.example) <@&1> _x_")
    sneaky = dataclasses.replace(SUBSCRIPTION, keywords="-*loud*", min_upvotes=0)
    entry = PreviewEntry(loud, explain(sneaky, loud), None)
    preview = Preview(sneaky, FeedFilter.parse(sneaky.keywords), date(2026, 6, 12), (entry,))
    text = preview_embed(preview).description or ""
    assert "\\*\\*Loud\\*\\*" in text
    assert "<@&1>" not in text
    assert "\\[link\\](https://evil.example)" in text  # brackets escaped: no link
    assert "\\_x\\_" in text


def test_an_empty_preview_says_why() -> None:
    preview = Preview(SUBSCRIPTION, FeedFilter(), date(2026, 6, 13), ())
    assert "weekends are empty" in (preview_embed(preview).description or "")


def test_the_list_shows_filters_state_and_counts() -> None:
    items = [
        SubscriptionStats(SUBSCRIPTION, delivered=7, pending=2, last_sent_at=NOW),
        SubscriptionStats(PAUSED, delivered=0, pending=4, last_sent_at=None),
    ]
    (embed,) = subscription_pages(items)
    active, paused = (field.value or "" for field in embed.fields)
    assert "<#11> · ▶️ active" in active
    assert "≥ 10 upvotes; any of: agents; none of: survey" in active
    assert "7 delivered" in active
    assert "2 waiting" in active
    assert "⏸️ paused" in paused
    assert "missing Embed Links" in paused
    (empty,) = subscription_pages([])
    assert "No channel" in (empty.description or "")


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
    # Between a holder's death and the take-over, nobody holds the lease: it says so.
    assert "no process holds the lease" in text
    held = status_embed(dataclasses.replace(status, process="host:7:abc123")).description or ""
    assert "(holds the lease): process `host:7:abc123`" in held


def test_subscribing_mentions_the_reaction_only_when_the_bot_cannot_add_it() -> None:
    wanted = FeedFilter.parse("agents")
    result = SubscribeResult(SUBSCRIPTION, None, wanted, 3, can_react=False)
    text = subscribed_embed(11, result, "🔖").description or ""
    assert text.startswith("Subscribed <#11>: any of: agents.")
    assert "3 paper(s) are on their way" in text
    assert "Add Reactions" in text
    assert "`keywords: *` clears the keywords and `min_upvotes: 0` the upvote bar" in text
    fine = dataclasses.replace(result, can_react=True, previous=SUBSCRIPTION, waiting=0)
    text = subscribed_embed(11, fine, "🔖").description or ""
    assert text.startswith("<#11> is already subscribed")
    assert "Add Reactions" not in text
    assert "on their way" not in text


def test_subscribing_again_says_whether_it_resumed_or_changed_anything() -> None:
    wanted = FeedFilter.parse(SUBSCRIPTION.keywords, SUBSCRIPTION.min_upvotes)
    changed = dataclasses.replace(SUBSCRIPTION, keywords="robots")
    result = SubscribeResult(SUBSCRIPTION, changed, wanted, 0, can_react=True)
    assert (subscribed_embed(11, result, "🔖").description or "").startswith("Updated <#11>: ≥ 10")
    resumed = dataclasses.replace(result, previous=PAUSED)
    text = subscribed_embed(11, resumed, "🔖").description or ""
    assert text.startswith("Resumed <#11>: ≥ 10 upvotes; any of: agents; none of: survey.")
    assert "It had been paused: Discord refused to post (403): missing Embed Links." in text


def test_keywords_typed_by_an_admin_are_escaped_in_answers() -> None:
    sneaky = dataclasses.replace(SUBSCRIPTION, keywords="*bold*, <@123>")
    wanted = FeedFilter.parse(sneaky.keywords)
    result = SubscribeResult(sneaky, None, wanted, 0, can_react=True)
    text = subscribed_embed(11, result, "🔖").description or ""
    assert "\\*bold\\*" in text
    assert "<@123>" not in text
    (page,) = subscription_pages([SubscriptionStats(sneaky, 0, 0, None)])
    assert "<@123>" not in (page.fields[0].value or "")


def test_a_long_list_of_subscriptions_is_split_into_pages_within_discords_limits() -> None:
    keywords = ", ".join(f"keyword {n:02d} " + "x" * 45 for n in range(25))
    items = [
        SubscriptionStats(
            dataclasses.replace(
                PAUSED if n % 2 else SUBSCRIPTION, channel_id=100 + n, keywords=keywords
            ),
            delivered=n,
            pending=1,
            last_sent_at=NOW,
        )
        for n in range(40)
    ]
    pages = subscription_pages(items)
    assert len(pages) > 1
    seen = []
    for number, page in enumerate(pages, start=1):
        assert embed_length(page) <= EMBED_TOTAL_LIMIT
        assert 1 <= len(page.fields) <= 10
        assert all(len(field.value or "") <= FIELD_VALUE_LIMIT for field in page.fields)
        assert page.footer.text == f"Page {number}/{len(pages)} · 40 subscriptions"
        seen += [field.value or "" for field in page.fields]
    assert [value.split(">", 1)[0] for value in seen] == [f"<#{100 + n}" for n in range(40)]
