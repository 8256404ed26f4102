"""Several named subscriptions on one channel, each with a role: one post per paper, the roles
of the subscriptions that want it, one pause (and one notice) per channel."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.feed import (
    AmbiguousSubscription,
    CannotMention,
    FeedService,
    InvalidSubscriptionName,
    NotSubscribed,
    RoleChoice,
    normalise_name,
)
from bot.feed_filters import PaperText
from bot.ingest import IngestService
from bot.store.db import Database
from bot.store.papers import PaperRepo
from bot.store.state import StateRepo
from tests.unit.test_feed_service import (
    CAN_POST,
    GUILD,
    NEWS,
    ROBOTS,
    TODAYS,
    Clock,
    Source,
    World,
    drain,
    subscribe,
)

AGENTS_ROLE, PROOF_ROLE = 501, 502


@pytest.fixture
async def world(db: Database) -> World:
    clock = Clock(datetime(2026, 6, 12, 9, 0, tzinfo=UTC))
    source = Source()
    papers = PaperRepo(db)
    ingest = IngestService(source, papers, StateRepo(db), clock=clock)
    # No first-batch limit here (bot.feed.FIRST_BATCH, tested with the service): these tests
    # subscribe to a day already polled and look at every paper the filters pass.
    feed = FeedService.open(db, papers, ingest, clock=clock, first_batch=1000)
    return World(feed, source, clock, ingest)


AGENTS = RoleChoice(AGENTS_ROLE, "agents-readers", mentionable=True)
PROOF = RoleChoice(PROOF_ROLE, "proof-readers", mentionable=True)


def mentioning(term: str) -> set[str]:
    return {paper.id for paper in TODAYS if PaperText.of(paper).mentions(term)}


async def due_mentions(world: World, channel: int = NEWS) -> dict[str, tuple[int, ...]]:
    outbox = await world.feed.outbox_for(channel, limit=100)
    return {paper.id: delivery.mentions for delivery, paper in outbox.deliveries}


async def test_a_paper_two_subscriptions_want_is_queued_once_with_both_roles(
    world: World,
) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, name="agents", keywords="agents", mention=AGENTS)
    await subscribe(world, name="proof", keywords="proof", mention=PROOF)
    agents, proof = mentioning("agents"), mentioning("proof")
    both = agents & proof
    assert agents - proof and proof - agents and both, "the fixture has all three kinds"

    mentions = await due_mentions(world)
    assert set(mentions) == agents | proof
    for paper_id, roles in mentions.items():
        wanted = {AGENTS_ROLE} if paper_id in agents else set()
        wanted |= {PROOF_ROLE} if paper_id in proof else set()
        assert set(roles) == wanted, paper_id
    assert sorted(await drain(world.feed, NEWS)) == sorted(agents | proof)  # each once
    await world.poll()
    assert await drain(world.feed, NEWS) == []


async def test_the_roles_follow_the_filters_of_when_the_post_is_sent(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, name="all", mention=AGENTS)
    await subscribe(world, name="proof", keywords="proof", mention=PROOF)
    proof = mentioning("proof")
    # The "all" subscription narrows to agents: papers about neither are no longer queued, and
    # a queued proof paper not about agents pings only the proof role.
    await subscribe(world, name="all", keywords="agents")
    mentions = await due_mentions(world)
    assert set(mentions) == mentioning("agents") | proof
    only_proof = next(iter(proof - mentioning("agents")))
    assert mentions[only_proof] == (PROOF_ROLE,)
    # clear_mention: the same papers, no agents role any more.
    await subscribe(world, name="all", clear_mention=True)
    assert all(AGENTS_ROLE not in roles for roles in (await due_mentions(world)).values())


async def test_removing_one_subscription_keeps_what_the_others_want(world: World) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, name="agents", keywords="agents")
    await subscribe(world, name="proof", keywords="proof")
    with pytest.raises(AmbiguousSubscription, match="`agents` and `proof`"):
        await world.feed.unsubscribe(NEWS)
    with pytest.raises(NotSubscribed, match="no subscription called `vision`"):
        await world.feed.unsubscribe(NEWS, "vision")
    assert await world.feed.unsubscribe(NEWS, "Agents") == "agents"
    assert set(await due_mentions(world)) == mentioning("proof")
    assert await world.feed.unsubscribe(NEWS) == "proof"  # the only one left
    assert await due_mentions(world) == {}
    with pytest.raises(NotSubscribed):
        await world.feed.unsubscribe(NEWS)


async def test_a_403_pauses_every_subscription_of_the_channel_and_one_resumes_them_all(
    world: World,
) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, name="agents", keywords="agents")
    await subscribe(world, name="proof", keywords="proof")
    await subscribe(world, ROBOTS)
    assert await world.feed.record_forbidden(NEWS, ["Embed Links"])
    assert not await world.feed.record_forbidden(NEWS, ["Embed Links"])  # already paused
    assert all(s.paused for s in await world.feed.subscriptions.for_channel(NEWS))
    outbox = await world.feed.outbox_for(NEWS)
    assert len(outbox.notices) == 1 and outbox.deliveries == ()
    status = await world.feed.status(GUILD)
    assert [s.channel_id for s in status.paused] == [NEWS]  # the channel once
    assert status.pending == len(mentioning("agents") | mentioning("proof")) + len(TODAYS)

    # A new subscription on the paused channel resumes it too, and says why it had paused.
    result = await world.feed.subscribe(
        channel_id=NEWS, guild_id=GUILD, access=CAN_POST, name="vision", keywords="vision"
    )
    assert result.resumed and result.created
    assert result.resumed_from == "Discord refused to post (403): missing Embed Links"
    assert not any(s.paused for s in await world.feed.subscriptions.for_channel(NEWS))
    assert set(await due_mentions(world)) == (
        mentioning("agents") | mentioning("proof") | mentioning("vision")
    )


async def test_an_outage_is_announced_once_per_channel(world: World) -> None:
    await subscribe(world, name="agents", keywords="agents")
    await subscribe(world, name="proof", keywords="proof")
    queued = await world.feed.outbox.announce_outage(
        True, kind="outage", body="down", now=world.clock(), nonce=world.feed.nonce
    )
    assert queued == 1
    assert len((await world.feed.outbox_for(NEWS)).notices) == 1


async def test_a_role_is_checked_at_subscribe_time(world: World) -> None:
    quiet = RoleChoice(503, "quiet", mentionable=False)
    with pytest.raises(CannotMention, match="missing Mention @everyone, @here, and All Roles"):
        await subscribe(world, mention=quiet)
    with pytest.raises(CannotMention, match="never ping @everyone"):
        await subscribe(world, mention=RoleChoice(GUILD, "@everyone", True, everyone=True))
    with pytest.raises(CannotMention, match="not both"):
        await subscribe(world, mention=AGENTS, clear_mention=True)
    assert await world.feed.subscriptions.all() == []
    may_ping_all = dataclasses.replace(CAN_POST, mention_everyone=True)
    result = await world.feed.subscribe(
        channel_id=NEWS, guild_id=GUILD, access=may_ping_all, mention=quiet
    )
    assert result.subscription.mention_role_id == 503


def test_names_are_short_words_compared_without_case() -> None:
    assert normalise_name("  Vision   Papers ") == "vision papers"
    assert normalise_name("nlp-weekly_2") == "nlp-weekly_2"
    for bad in ("", "   ", "x" * 33, "<@&1>", "@everyone", "-dash"):
        with pytest.raises(InvalidSubscriptionName):
            normalise_name(bad)


async def test_a_paper_two_subscriptions_want_shows_the_full_card_if_either_asks(
    world: World,
) -> None:
    world.set_today(TODAYS)
    await world.poll()
    await subscribe(world, name="agents", keywords="agents", style="full")
    await subscribe(world, name="proof", keywords="proof")
    outbox = await world.feed.outbox_for(NEWS, limit=100)
    styles = {paper.id: delivery.style for delivery, paper in outbox.deliveries}
    agents = mentioning("agents")
    assert styles and all(
        style == ("full" if paper_id in agents else "compact") for paper_id, style in styles.items()
    )
    # The migration's table keeps the style column the card's migration added.
    (row,) = await world.feed.subscriptions.db.fetchall(
        "SELECT style FROM subscriptions WHERE name = 'agents'"
    )
    assert row["style"] == "full"
